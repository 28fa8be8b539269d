"""The IDX datasets' files (:mod:`infogan.data.idx`) on the real MNIST files: SHA-256
checks, local gzip copies, parsing, and the training tensor."""

import gzip
import shutil

import numpy as np
import pytest
import torch

from infogan.data import (
    MNIST_DIGESTS,
    fetch_mnist,
    load_mnist,
    load_mnist_arrays,
    parse_idx,
    read_idx,
    to_training_tensor,
    verify_file,
)
from infogan.errors import ConfigError, DataError


def test_real_files_match_their_digests(mnist_dir):
    for name in MNIST_DIGESTS:
        verify_file(mnist_dir / name)


def test_idx_parsing_of_the_real_files(mnist_dir):
    train_x, train_y = load_mnist_arrays(mnist_dir, "train")
    test_x, test_y = load_mnist_arrays(mnist_dir, "test")
    assert train_x.shape == (60000, 28, 28) and train_x.dtype == np.uint8
    assert test_x.shape == (10000, 28, 28)
    # the well-known first labels of each split
    assert train_y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert test_y[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(train_y).tolist()[1] == 6742  # the most common digit, a 1
    assert train_x.max() == 255 and train_x.min() == 0


def test_training_tensor_is_resized_once_into_minus_one_one(mnist_dir):
    images, _ = load_mnist_arrays(mnist_dir, "test")
    x = to_training_tensor(images[:50], 64)
    assert x.shape == (50, 1, 64, 64) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert x[:, :, :4, :].mean() < -0.99  # MNIST's blank border stays background
    same = to_training_tensor(images[:3], 28)
    expected = torch.from_numpy(images[:3].astype(np.float32) / 127.5 - 1).unsqueeze(1)
    assert torch.allclose(same, expected, atol=1e-6)


def _copy_data(mnist_dir, tmp_path):
    for name in MNIST_DIGESTS:
        shutil.copy(mnist_dir / name, tmp_path / name)
    return tmp_path


def test_truncated_file_is_rejected_by_digest(mnist_dir, tmp_path):
    data = _copy_data(mnist_dir, tmp_path)
    path = data / "t10k-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte: SHA-256 mismatch"):
        load_mnist_arrays(data, "test")
    with pytest.raises(DataError, match="SHA-256 mismatch"):
        fetch_mnist(data)  # an altered file is reported, never silently replaced
    assert len(path.read_bytes()) == 10008 - 100


def test_tampered_file_is_rejected_by_digest(mnist_dir, tmp_path):
    data = _copy_data(mnist_dir, tmp_path)
    path = data / "train-labels-idx1-ubyte"
    blob = bytearray(path.read_bytes())
    blob[100] = (blob[100] + 1) % 10  # still a valid IDX file, one label changed
    path.write_bytes(bytes(blob))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte: SHA-256 mismatch"):
        load_mnist_arrays(data, "train")


def test_local_gzip_copies_are_unpacked_and_verified(mnist_dir, tmp_path):
    for name in MNIST_DIGESTS:
        blob = (mnist_dir / name).read_bytes()
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(blob, compresslevel=1))  # fast
    assert fetch_mnist(tmp_path) == tmp_path
    for name in MNIST_DIGESTS:
        verify_file(tmp_path / name)


def test_missing_file_names_the_fix(tmp_path):
    with pytest.raises(DataError, match="missing; run `infogan fetch-data"):
        verify_file(tmp_path / "t10k-images-idx3-ubyte")


def test_unwritable_data_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(DataError, match="cannot create data directory"):
        fetch_mnist(blocker / "data")


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"", "too short"),
        (b"\x01\x02\x08\x01", "bad magic number"),
        (b"\x00\x00\x08\x03\x00\x00", "truncated IDX header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05abc", "payload is 3 bytes"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01a", "bad magic number"),
    ],
)
def test_malformed_idx_bytes(blob, message):
    with pytest.raises(DataError, match=message):
        parse_idx(blob)


def test_idx_round_trip_by_hand(tmp_path):
    values = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    blob = b"\x00\x00\x08\x03" + b"".join(d.to_bytes(4, "big") for d in values.shape)
    (tmp_path / "x.idx").write_bytes(blob + values.tobytes())
    np.testing.assert_array_equal(read_idx(tmp_path / "x.idx"), values)


def test_a_data_dir_or_split_of_the_wrong_kind_is_named(mnist_dir):
    """Not pathlib's bare TypeError, nor "unhashable type: 'list'"."""
    for call in (lambda: fetch_mnist(5), lambda: load_mnist(5), lambda: load_mnist("")):
        with pytest.raises(ConfigError, match=r"^data_dir must (be a str or|name) "):
            call()
    with pytest.raises(DataError, match=r"^unknown split \['train'\]; expected train or test"):
        load_mnist(mnist_dir, split=["train"])


def test_a_size_too_large_for_memory_is_refused_before_it_is_allocated(mnist_dir, monkeypatch):
    with pytest.raises(DataError, match=r"^image_size 1000000 for MNIST's test split: 10,000"):
        load_mnist(mnist_dir, split="test", image_size=10**6)
    # 60,000 digits at 300x300 take 20.1 GiB as float32: more than 4 GiB less the reserve
    monkeypatch.setattr("infogan.data.fetch.memory_available", lambda: 4 << 30)
    with pytest.raises(DataError, match=r"need about 20\.12 GiB.*; pick a smaller one$"):
        load_mnist(mnist_dir, image_size=300)
    assert load_mnist(mnist_dir, split="test", image_size=28)[0].shape == (10000, 1, 28, 28)

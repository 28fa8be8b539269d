import pickle
import warnings
import zipfile

import pytest
import torch

from infogan.checkpoint import FORMAT_VERSION, load_checkpoint, save_checkpoint
from infogan.config import SEED64
from infogan.errors import CheckpointError
from infogan.models import build_models


def _state():
    g, d = build_models(SEED64)
    return {
        "config": SEED64.to_dict(),
        "step": 7,
        "generator": g.state_dict(),
        "discriminator": d.state_dict(),
        "fixed_noise": torch.randn(10, 52),
    }


def test_round_trip_is_exact(tmp_path):
    state = _state()
    path = save_checkpoint(state, tmp_path / "ck" / "last.pt")
    loaded = load_checkpoint(path)
    assert loaded["format_version"] == FORMAT_VERSION and loaded["step"] == 7
    for key, value in state["generator"].items():
        assert torch.equal(loaded["generator"][key], value)
    assert loaded["config"] == SEED64.to_dict()
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temporary left


def test_truncated_checkpoint(tmp_path):
    path = save_checkpoint(_state(), tmp_path / "last.pt")
    whole = path.read_bytes()
    for size, reason in ((5000, "Invalid argument)"), (len(whole) // 2, "central directory)")):
        path.write_bytes(whole[:size])
        with pytest.raises(CheckpointError, match="not a readable checkpoint") as error:
            load_checkpoint(path)
        # PyTorch's reason, its first sentence whole: it was cut at 120 characters, mid-word
        assert str(error.value).endswith(reason), error.value


def test_a_file_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("hello")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not an infogan checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize("blob", [b"hello", b"i am text\n", b"#!/bin/sh\n", b"\x00\x01junk"])
def test_a_text_or_junk_file_is_named_no_pytorch_checkpoint(tmp_path, blob):
    """Not torch's "105" (the pickle opcode of an "i" it choked on) or "pop from empty list"."""
    path = tmp_path / "notes.pt"
    path.write_bytes(blob)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    assert str(error.value) == (
        f"{path}: not a readable checkpoint (not a PyTorch checkpoint file at all)"
    )
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"not a readable checkpoint \(the file is empty\)$"):
        load_checkpoint(path)


def test_other_format_version(tmp_path):
    path = save_checkpoint(_state(), tmp_path / "last.pt")
    state = torch.load(path, weights_only=True)
    state["format_version"] = FORMAT_VERSION + 1
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=f"format version {FORMAT_VERSION + 1}"):
        load_checkpoint(path)


class _Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/infogan-pwned-by-checkpoint",))


def test_malicious_pickle_never_runs(tmp_path):
    import os

    marker = "/tmp/infogan-pwned-by-checkpoint"
    if os.path.exists(marker):
        os.remove(marker)
    path = tmp_path / "evil.pt"
    torch.save({"format": "infogan-checkpoint", "payload": _Exploit()}, path)
    assert zipfile.is_zipfile(path)
    with pytest.raises(CheckpointError, match="refused to load"):
        load_checkpoint(path)
    assert not os.path.exists(marker)
    # and a raw pickle stream (old format) too, refused without torch's warning about it
    path.write_bytes(pickle.dumps(_Exploit(), protocol=4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(CheckpointError, match="not a readable checkpoint"):
            load_checkpoint(path)
    assert not os.path.exists(marker)
    assert caught == []


def test_a_zip_that_is_no_checkpoint_is_named_so_without_torch_internals(tmp_path):
    path = tmp_path / "archive.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"a": 1}))
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    message = str(error.value)
    assert message.startswith(f"{path}: not a readable checkpoint (truncated or corrupt: ")
    assert "\n" not in message and "Could this error message be improved" not in message


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"nope\.pt: no such file or directory"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="not a checkpoint file"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("step", ["abc", -1, 2.5, None])
def test_a_hand_edited_step_is_named(tmp_path, step):
    path = save_checkpoint(_state(), tmp_path / "last.pt")
    state = torch.load(path, weights_only=True)
    state["step"] = step
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r"the checkpoint's step must be an integer >= 0"):
        load_checkpoint(path)


def test_failed_write_keeps_the_previous_checkpoint(tmp_path):
    path = save_checkpoint(_state(), tmp_path / "last.pt")
    before = path.read_bytes()
    bad = _state()
    bad["unsaveable"] = lambda: None  # torch.save cannot pickle a lambda
    with pytest.raises(Exception):  # noqa: B017
        save_checkpoint(bad, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]

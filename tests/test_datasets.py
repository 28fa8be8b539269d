"""Datasets as a choice: Fashion-MNIST's real files and classifier, a folder of generated
images (grey, RGB, one corrupt file) trained for a few steps, and the mistakes a user can make.

The Fashion-MNIST tests need the real files (Debian's ``dataset-fashion-mnist``, a copy in
the data directory, or the public mirrors). Without them they skip, except under CI, where
``.ci/run`` installs the package and they must run.
"""

import gzip
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from infogan.api import load_model
from infogan.config import SEED64, DataConfig, RunConfig
from infogan.data import (
    FASHION_MNIST,
    FASHION_MNIST_DIGESTS,
    MEMORY_RESERVE_BYTES,
    MNIST_DIGESTS,
    check_memory,
    detect_channels,
    fetch_dataset,
    list_images,
    load_dataset,
    load_folder,
    load_idx_arrays,
    resolve_data_config,
    verify_file,
)
from infogan.errors import CheckpointError, ConfigError, DataError
from infogan.evaluate import classifier as clf
from infogan.evaluate import evaluate_run, format_table
from infogan.report import train_comparison
from infogan.training.preflight import images_digest
from infogan.training.run import train
from infogan.web.explorer import Explorer, encode_png

REPO = Path(__file__).resolve().parent.parent
UNDER_CI = bool(os.environ.get("CI"))
SYSTEM_COPY = Path(FASHION_MNIST.system_dirs[0])
QUIET = {"progress": False, "log": lambda _m: None}


def _skip_unless_ci(reason: str) -> None:
    if UNDER_CI:
        pytest.fail(f"{reason}; under CI the Fashion-MNIST tests must run")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def fashion_dir() -> Path:
    """The data directory, holding the four verified Fashion-MNIST files."""
    data_dir = Path(os.environ.get("INFOGAN_DATA_DIR") or REPO / "data")
    try:
        return fetch_dataset(FASHION_MNIST, data_dir)
    except DataError as exc:
        _skip_unless_ci(
            "Fashion-MNIST files absent (apt-get install dataset-fashion-mnist, or copy the "
            f"four IDX files into {FASHION_MNIST.files_dir(data_dir)}): {exc}"
        )
        raise


# --- Fashion-MNIST's real files ------------------------------------------------------


def test_fashion_files_match_their_digests_and_parse(fashion_dir):
    for name in FASHION_MNIST_DIGESTS:
        verify_file(FASHION_MNIST.files_dir(fashion_dir) / name, FASHION_MNIST)
    train_x, train_y = load_idx_arrays(FASHION_MNIST, fashion_dir, "train")
    test_x, test_y = load_idx_arrays(FASHION_MNIST, fashion_dir, "test")
    assert train_x.shape == (60000, 28, 28) and train_x.dtype == np.uint8
    assert test_x.shape == (10000, 28, 28)
    # the dataset's well-known first labels (ankle boot, T-shirts, a dress, ...) and its
    # exact balance: 6,000 training and 1,000 test images of each garment class
    assert train_y[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert test_y[:5].tolist() == [9, 2, 1, 1, 6]
    assert np.bincount(train_y).tolist() == [6000] * 10
    assert np.bincount(test_y).tolist() == [1000] * 10
    assert FASHION_MNIST.classes[9] == "Ankle boot" and len(FASHION_MNIST.classes) == 10
    # the same file names as MNIST's, different bytes: never mistaken for each other
    assert set(FASHION_MNIST_DIGESTS) == set(MNIST_DIGESTS)
    assert not set(FASHION_MNIST_DIGESTS.values()) & set(MNIST_DIGESTS.values())


def test_fashion_is_copied_from_the_system_package(tmp_path, cli, main_error):
    if not SYSTEM_COPY.is_dir():
        _skip_unless_ci(f"{SYSTEM_COPY} absent (Debian's dataset-fashion-mnist not installed)")
    lines: list[str] = []
    assert fetch_dataset(FASHION_MNIST, tmp_path, log=lines.append) == tmp_path
    folder = tmp_path / "fashion-mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(FASHION_MNIST_DIGESTS)
    for name in FASHION_MNIST_DIGESTS:
        verify_file(folder / name, FASHION_MNIST)
        assert any(name in line and str(SYSTEM_COPY) in line for line in lines), lines
    assert not any(tmp_path.glob("*-idx*"))  # nothing lands among MNIST's files

    out = cli.run("fetch-data", "--dataset", "fashion-mnist", "--data-dir", tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"Fashion-MNIST ready in {folder} (4 files, SHA-256 verified)" in out.stdout
    line = main_error("fetch-data", "--dataset", f"folder:{tmp_path}")
    assert "a folder of images needs no fetching: train --dataset folder:PATH" in line
    line = main_error("fetch-data", "--dataset", "cifar")
    assert "fetch-data fetches mnist or fashion-mnist, not 'cifar'" in line


def _copy_fashion(fashion_dir: Path, data_dir: Path) -> Path:
    folder = FASHION_MNIST.files_dir(data_dir)
    folder.mkdir(parents=True)
    for name in FASHION_MNIST_DIGESTS:
        shutil.copy(FASHION_MNIST.files_dir(fashion_dir) / name, folder / name)
    return folder


def test_tampered_fashion_files_are_rejected(fashion_dir, tmp_path):
    folder = _copy_fashion(fashion_dir, tmp_path)
    path = folder / "t10k-labels-idx1-ubyte"
    blob = bytearray(path.read_bytes())
    blob[8] = (blob[8] + 1) % 10  # the first test label, still a valid IDX file
    path.write_bytes(bytes(blob))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte: SHA-256 mismatch"):
        load_idx_arrays(FASHION_MNIST, tmp_path, "test")
    with pytest.raises(DataError, match=r"SHA-256 mismatch.*--dataset fashion-mnist"):
        fetch_dataset(FASHION_MNIST, tmp_path)  # reported, never replaced by the system copy
    assert path.read_bytes() == bytes(blob)
    load_idx_arrays(FASHION_MNIST, tmp_path, "train")  # the untouched split still loads


def test_mnist_files_in_the_fashion_folder_and_tampered_gzip_are_rejected(
    fashion_dir, mnist_dir, tmp_path
):
    folder = _copy_fashion(fashion_dir, tmp_path / "a")
    shutil.copy(mnist_dir / "train-images-idx3-ubyte", folder / "train-images-idx3-ubyte")
    with pytest.raises(DataError, match="train-images-idx3-ubyte: SHA-256 mismatch"):
        load_idx_arrays(FASHION_MNIST, tmp_path / "a", "train")

    folder = _copy_fashion(fashion_dir, tmp_path / "b")
    labels = folder / "train-labels-idx1-ubyte"
    blob = labels.read_bytes()
    labels.unlink()
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(blob[:-1] + b"\x00"))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte\.gz: SHA-256 mismatch"):
        fetch_dataset(FASHION_MNIST, tmp_path / "b")
    assert not labels.exists()


def test_fashion_training_tensor_and_its_channel_count(fashion_dir):
    data = DataConfig(dataset="fashion-mnist")
    x = load_dataset(data, fashion_dir, split="test", image_size=64)
    assert x.shape == (10000, 1, 64, 64) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert x[:, :, :, :2].mean() < -0.95  # garments on a black background
    resolved = resolve_data_config(SEED64.with_data(dataset="fashion-mnist"))
    assert resolved.data.channels == 1 and resolved.data.dataset == "fashion-mnist"
    with pytest.raises(ConfigError, match="Fashion-MNIST is grey"):
        resolve_data_config(SEED64.with_data(dataset="fashion-mnist", channels=3))


# --- the Fashion-MNIST classifier and eval ----------------------------------------------


@pytest.fixture(scope="module")
def fashion_judge():
    return clf.get_classifier(FASHION_MNIST)


def test_fashion_classifier_is_its_own_and_reaches_89_percent(fashion_judge, fashion_dir):
    assert fashion_judge.path.name == "fashion-mnist.safetensors" and fashion_judge.shipped
    test_x, test_y = load_idx_arrays(FASHION_MNIST, fashion_dir, "test")
    acc = clf.accuracy(fashion_judge.model, clf.uint8_to_input(test_x), test_y)
    assert acc >= 0.89  # this small CNN reaches 90.4% on Fashion-MNIST
    assert acc == pytest.approx(fashion_judge.test_accuracy, abs=1e-9)
    # the file of one dataset is never taken for the other's
    with pytest.raises(CheckpointError, match="judges fashion-mnist, not mnist"):
        clf.get_classifier(path=fashion_judge.path)


def test_eval_of_a_short_fashion_run(fashion_judge, fashion_dir, tmp_path, tiny_config):
    config = tiny_config("seed64").with_data(dataset="fashion-mnist")
    images = load_dataset(config.data, fashion_dir, image_size=64)[:256]
    train(config, tmp_path / "run", images=images, **QUIET)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["data"] == {
        "dataset": "fashion-mnist",
        "image_size": 64,
        "channels": 1,
        "holdout": 0,
    }
    result, path = evaluate_run(
        tmp_path / "run",
        data_dir=fashion_dir,
        per_category=10,
        test_digits=300,
        sweep_draws=4,
        sweep_values=3,
        progress=False,
    )
    assert result["dataset"] == "fashion-mnist"
    assert result["classifier"]["digest"] == fashion_judge.digest
    assert np.sum(result["confusion_matrix"]) == 300
    assert sorted(result["category_to_digit"]) == list(range(10))
    table = format_table(result)
    assert "Fashion-MNIST CNN" in table and "9 Ankle boot" in table
    # the table speaks of classes and images, not of digits
    assert "digit" not in table
    assert "code -> class" in table and "columns: true class" in table
    assert "categorical code = class on" in table and "of 300 Fashion-MNIST test images;" in table
    assert json.loads(path.read_text())["dataset"] == "fashion-mnist"
    # the explorer names each code's class
    explorer, warnings = Explorer.load(tmp_path / "run")
    info = explorer.info()
    assert warnings == [] and info["noun"] == "class"
    assert info["class_names"] == [FASHION_MNIST.classes[d] for d in result["category_to_digit"]]


# --- a folder of images ------------------------------------------------------------


def _disc(size: tuple[int, int], radius: float, value: int) -> Image.Image:
    w, h = size
    yy, xx = np.mgrid[:h, :w]
    inside = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < radius**2
    return Image.fromarray(np.where(inside, value, 0).astype(np.uint8), mode="L")


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory) -> Path:
    """36 generated images: 16 grey PNGs, 14 RGB PNGs and 5 JPEGs in nested folders,
    one corrupt PNG, plus files that are not images or are hidden."""
    root = tmp_path_factory.mktemp("images")
    (root / "grey").mkdir()
    (root / "colour" / "deep").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(15):
        size = (48, 48) if i % 2 else (90, 60)
        _disc(size, 8 + i, 120 + 8 * i).save(root / "grey" / f"disc{i:02d}.png")
    Image.new("L", (40, 40), 128).save(root / "grey" / "mid.png")
    Image.new("RGB", (32, 32), (255, 0, 0)).save(root / "colour" / "red.png")
    wide = np.zeros((40, 80, 3), np.uint8)
    wide[:, 20:60] = 255  # the centre square is white, the sides black
    Image.fromarray(wide).save(root / "colour" / "wide.png")
    for i in range(12):
        pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        Image.fromarray(pixels).resize((70, 70)).save(root / "colour" / "deep" / f"n{i:02d}.PNG")
    for i in range(5):
        pixels = np.full((64, 96, 3), (40 * i, 200, 255 - 40 * i), np.uint8)
        Image.fromarray(pixels).save(root / "colour" / f"photo{i}.jpg", quality=90)
    (root / "colour" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    (root / "notes.txt").write_text("not an image")
    Image.new("L", (8, 8)).save(root / ".hidden.png")
    return root


def test_list_images_recursively_in_a_fixed_order(image_folder):
    names = [str(p.relative_to(image_folder)) for p in list_images(image_folder)]
    assert len(names) == 36
    assert names[:3] == ["colour/broken.png", "colour/photo0.jpg", "colour/photo1.jpg"]
    assert "colour/deep/n00.PNG" in names and "grey/mid.png" in names
    assert not any(n.endswith(".txt") or "hidden" in n for n in names)


def test_channels_are_detected_from_the_files(image_folder):
    assert detect_channels(list_images(image_folder / "grey")) == 1
    assert detect_channels(list_images(image_folder)) == 3  # one colour image is enough


def test_folder_pixels_worked_out_by_hand_and_the_corrupt_file_skipped(image_folder):
    lines: list[str] = []
    x = load_folder(image_folder, image_size=64, log=lines.append)
    assert x.shape == (35, 3, 64, 64) and x.dtype == torch.float32
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert x.min() >= -1 and x.max() <= 1
    assert any("skipped colour/broken.png" in line for line in lines), lines
    assert lines[-1].endswith(
        "loaded 35 RGB images from " + str(image_folder) + ", 1 unreadable skipped"
    )
    names = [str(p.relative_to(image_folder)) for p in list_images(image_folder)]
    names.remove("colour/broken.png")
    red = x[names.index("colour/red.png")]
    assert torch.equal(red[0], torch.ones(64, 64)) and torch.equal(red[1:], -torch.ones(2, 64, 64))
    mid = x[names.index("grey/mid.png")]  # grey 128 in all three channels: 128 / 127.5 - 1
    assert torch.allclose(mid, torch.full((3, 64, 64), 128 / 127.5 - 1), atol=1e-6)
    wide = x[names.index("colour/wide.png")]  # centre-cropped: only the white square is left
    assert torch.equal(wide, torch.ones(3, 64, 64))

    grey = load_folder(image_folder, image_size=32, channels=1)
    assert grey.shape == (35, 1, 32, 32)
    # ITU-R 601 luma of pure red, as Pillow rounds it: (255 * 19595 + 2^15) >> 16 = 76
    assert torch.allclose(
        grey[names.index("colour/red.png")], torch.tensor(76 / 127.5 - 1), atol=1e-6
    )


def test_16_bit_grey_pngs_are_scaled_not_clipped(tmp_path):
    """A 16-bit PNG's 0..65535 become 0..255 (65535 / 257): Pillow's own conversion to 8
    bits would make every pixel above 255 white."""
    pixels = np.zeros((40, 40), np.uint16)
    pixels[:, 10:30] = 32896  # 128 * 257: mid grey
    pixels[:, 30:] = 65535  # white
    Image.fromarray(pixels).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode == "I;16"
    x = load_folder(tmp_path, image_size=40)
    assert x.shape == (1, 1, 40, 40)
    expected = torch.tensor([0.0] * 10 + [128.0] * 20 + [255.0] * 10) / 127.5 - 1
    assert torch.allclose(x[0, 0], expected.expand(40, 40), atol=1e-6)


def test_memory_estimate_refuses_a_folder_that_would_not_fit(image_folder):
    # 100,000 RGB images at 64x64 in float32: 100000 * 3 * 64 * 64 * 4 bytes = 4.58 GiB
    assert check_memory(100_000, 3, 64, available=None, source="x") == 4_915_200_000
    with pytest.raises(DataError, match=r"100,000 images of 3x64x64 need about 4\.58 GiB"):
        check_memory(100_000, 3, 64, available=4 << 30, source="folder:/x")
    needed = 36 * 3 * 64 * 64 * 4
    with pytest.raises(DataError, match=r"36 images of 3x64x64 need about 1\.69 MiB.*available"):
        load_folder(image_folder, image_size=64, memory=MEMORY_RESERVE_BYTES + needed - 1)
    x = load_folder(image_folder, image_size=64, memory=MEMORY_RESERVE_BYTES + needed)
    assert len(x) == 35


def test_empty_and_unreadable_folders_are_one_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.txt").write_text("x")
    with pytest.raises(DataError, match="no PNG or JPEG images"):
        load_folder(tmp_path / "empty", image_size=64)
    (tmp_path / "bad").mkdir()
    for i in range(3):
        (tmp_path / "bad" / f"{i}.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="none of the 3 image files could be read"):
        load_folder(tmp_path / "bad", image_size=64)
    with pytest.raises(DataError, match="no such directory"):
        resolve_data_config(SEED64.with_data(dataset=f"folder:{tmp_path / 'nowhere'}"))


def test_resolved_config_names_the_folder_absolutely_and_round_trips(image_folder):
    relative = os.path.relpath(image_folder)
    cfg = resolve_data_config(SEED64.with_data(dataset=f"folder:{relative}").validate())
    assert cfg.data.dataset == f"folder:{image_folder.resolve()}" and cfg.data.channels == 3
    assert RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    grey = resolve_data_config(SEED64.with_data(dataset=f"folder:{image_folder / 'grey'}"))
    assert grey.data.channels == 1
    forced = SEED64.with_data(dataset=f"folder:{image_folder / 'grey'}", channels=3)
    assert resolve_data_config(forced).data.channels == 3
    # configs saved before the channel count existed are grey MNIST runs
    legacy = SEED64.to_dict()
    del legacy["data"]["channels"]
    assert RunConfig.from_dict(legacy).data.channels == 1


def test_rgb_folder_trains_from_the_command_line(image_folder, tmp_path, main_run, main_error):
    folder = shutil.copytree(image_folder, tmp_path / "images")  # this test edits one
    run = tmp_path / "rgb"
    out = main_run(
        "train",
        "--dataset",
        f"folder:{folder}",
        "--max-steps",
        "4",
        "--batch-size",
        "8",
        "--sample-every",
        "2",
        "--checkpoint-every",
        "4",
        "--run-dir",
        str(run),
        "--no-report",
        "--no-progress",
    )
    assert out.returncode == 0, out.stderr
    assert "skipped colour/broken.png: unreadable image" in out.stderr
    assert "loaded 35 RGB images" in out.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["data"] == {
        "dataset": f"folder:{folder.resolve()}",
        "image_size": 64,
        "channels": 3,
        "holdout": 0,
    }
    for name in ("fixed", "varying_c1", "varying_c2"):
        assert sorted(p.name for p in (run / "images" / name).iterdir()) == [
            "000002.png",
            "000004.png",
        ]
        with Image.open(run / "images" / name / "000004.png") as img:
            assert img.mode == "RGB" and img.size == (10 * 66 + 2, 10 * 66 + 2)
            assert np.asarray(img, dtype=np.float32).std() > 5  # not blank
    model = load_model(run)
    assert model.config.data.channels == 3
    images = model.generate([0, 4, 9], seed=1)
    assert images.shape == (3, 3, 64, 64) and images.min() >= -1 and images.max() <= 1
    _logit, cat, cont = model.discriminator(images)
    assert cat.shape == (3, 10) and cont.shape == (3, 2)

    line = main_error("eval", run)
    assert "needs labelled test images" in line and "folder:" in line
    line = main_error("generate", run, "--categories", "by-digit", "--out", tmp_path / "x.png")
    assert "a folder of images has no labels; use --categories all" in line
    # the explorer's large image is in colour, as its strips are
    explorer, _warnings = Explorer.load(run)
    pixels = explorer.single_pixels(category=3, c1=0.5, c2=0.0, seed=1)
    assert pixels.shape == (64, 64, 3)
    with Image.open(io.BytesIO(encode_png(pixels, 2))) as png:
        assert png.mode == "RGB" and png.size == (128, 128)
    # its export's card: colour, three channels, no path of this machine, no metrics to ask for
    assert main_run("export", run, "--out", tmp_path / "shared").returncode == 0
    card = (tmp_path / "shared" / "README.md").read_text()
    assert "64x64 colour images" in card and "# (3, 3, H, W)" in card
    about = card.split("## Training")[0]  # (the training command names the folder it read)
    assert str(folder.resolve()) not in about and "datasets:" not in card
    assert "A folder of images has no labels" in card
    # one image edited since: the same count, other pixels; resume refuses, writes nothing
    disc = folder / "grey" / "disc00.png"
    ImageOps.mirror(Image.open(disc)).save(disc)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    line = main_error("train", "--resume", run, "--max-steps", "6", "--no-progress")
    assert "the same 35 images in count, but their pixels or order differ" in line
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_compare_trains_both_arms_on_the_configs_own_images(image_folder, tmp_path, tiny_config):
    """Not MNIST whatever the config said: each arm's checkpoint records the folder's
    images, in the order and at the size the run trains on."""
    config = tiny_config("paper28", steps=1, batch_size=4)
    config = config.with_data(dataset=f"folder:{image_folder / 'grey'}")
    lines: list[str] = []
    train_comparison(config, tmp_path / "cmp", progress=False, log=lines.append)
    assert any("loaded 16 grey images" in line for line in lines), lines
    folder = resolve_data_config(config)
    expected = images_digest(load_dataset(folder.data, None, image_size=28))
    for arm in ("gan", "infogan"):
        state = torch.load(tmp_path / "cmp" / arm / "checkpoints" / "last.pt", weights_only=True)
        assert state["data_digest"] == expected, arm


def test_grey_folder_trains_one_channel_networks(image_folder, tmp_path, tiny_config):
    config = tiny_config("seed64", batch_size=4).with_data(
        dataset=f"folder:{image_folder / 'grey'}"
    )
    lines: list[str] = []
    train(config, tmp_path / "grey", progress=False, log=lines.append)
    assert any("loaded 16 grey images" in line for line in lines), lines
    with Image.open(tmp_path / "grey" / "images" / "fixed" / "000003.png") as img:
        assert img.mode == "L"
    model = load_model(tmp_path / "grey")
    assert model.config.data.channels == 1
    assert model.generator.net[-2].out_channels == 1  # the last transposed convolution


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--dataset", "cifar10"], "unknown dataset 'cifar10'; expected mnist, fashion-mnist"),
        (["--dataset", "folder:"], "needs a path after 'folder:'"),
        (["--dataset", "folder:NOWHERE"], "no such directory"),
        (["--dataset", "mnist", "--set", "data.channels=3"], "MNIST is grey (1 channel)"),
        (
            ["--dataset", "folder:HERE", "--set", "data.channels=2"],
            "data.channels must be 1 (grey), 3 (RGB)",
        ),
    ],
)
def test_dataset_mistakes_give_one_line(args, fragment, image_folder, tmp_path, main_error):
    args = [
        a.replace("NOWHERE", str(tmp_path / "nowhere")).replace("HERE", str(image_folder))
        for a in args
    ]
    line = main_error("train", *args, "--max-steps", "1", "--run-dir", tmp_path / "r")
    assert fragment in line
    assert not (tmp_path / "r" / "metrics.csv").exists()

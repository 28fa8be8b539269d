"""The project's own classifiers of the IDX datasets: a small CNN, its training, its files.

The metrics on generated images need a judge that knows the dataset, one per
dataset. MNIST's is trained on the 60,000 training digits at 28x28 (three epochs, a
few minutes on 2 CPU cores) and reaches about 99.3% on the test set; Fashion-MNIST's,
the same network trained for six epochs with mirrored images besides, about 90%. Both
ship with the package (``classifiers/NAME.safetensors``, their digests in
``classifiers/SHA256SUMS``), so every user's ``infogan eval`` measures with the same
judge; ``infogan train-classifier`` trains one anew, and ``infogan eval --classifier
FILE`` uses it.

Inputs are (B, 1, H, W) in [-1, 1] at any size; anything but 28x28 is resampled
to 28x28 (bilinear with antialiasing), so the generator's 64x64 digits are judged
as MNIST-sized digits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_save
from torch import nn
from tqdm import tqdm

from infogan.data import MNIST, IdxDataset, load_idx_arrays, sha256_of
from infogan.errors import CheckpointError
from infogan.fileio import atomic_open

#: the classifiers that ship with the package, and the file listing their digests
SHIPPED = Path(__file__).with_name("classifiers")
DIGESTS = "SHA256SUMS"
FORMAT = "infogan-mnist-classifier"
#: Bump when the network or its training changes: old caches are then retrained.
ARCH_VERSION = 3
INPUT_SIZE = 28
#: Half of each training batch makes the round trip 28 -> 64 -> 28 that the seed64
#: model's digits (real and generated) make before they reach the classifier.
ROUND_TRIP_SIZE = 64
FEATURE_DIM = 128
NUM_CLASSES = 10


@dataclass(frozen=True)
class Recipe:
    """How a dataset's classifier is trained."""

    epochs: int
    hflip: bool  # mirror half of each batch: garments are left-right symmetric, digits not


RECIPES: dict[str, Recipe] = {
    "mnist": Recipe(epochs=3, hflip=False),
    "fashion-mnist": Recipe(epochs=6, hflip=True),
}

Log = Callable[[str], None]


class MnistClassifier(nn.Module):
    """Three conv blocks and a 128-wide feature layer; ``features`` feed the Fréchet distance."""

    def __init__(self) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]

        self.trunk = nn.Sequential(
            *block(1, 16),  # (B, 16, 14, 14)
            *block(16, 32),  # (B, 32, 7, 7)
            *block(32, 64),  # (B, 64, 3, 3)
            nn.Flatten(),
            nn.Linear(64 * 3 * 3, FEATURE_DIM),
            nn.ReLU(inplace=True),
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 28, 28) -> (B, 128) penultimate activations."""
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 28, 28) -> (B, 10) logits."""
        return self.head(self.dropout(self.features(x)))


def to_classifier_input(images: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) in [-1, 1] -> (B, 1, 28, 28) in [-1, 1]."""
    x = images.float()
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"expected (B, 1, H, W) images, got {tuple(x.shape)}")
    if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
        x = F.interpolate(
            x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", antialias=True, align_corners=False
        )
    return x.clamp(-1, 1)


def uint8_to_input(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) IDX images -> float (N, 1, 28, 28) in [-1, 1]."""
    return torch.from_numpy(np.asarray(images, dtype=np.float32) / 127.5 - 1).unsqueeze(1)


@dataclass(frozen=True)
class Judgement:
    probs: np.ndarray  # (N, 10) softmax
    features: np.ndarray  # (N, 128) penultimate activations

    @property
    def labels(self) -> np.ndarray:
        return self.probs.argmax(axis=1)


@torch.no_grad()
def judge(model: MnistClassifier, images: torch.Tensor, *, batch_size: int = 1000) -> Judgement:
    """Class probabilities and features of (N, 1, H, W) images in [-1, 1]."""
    model.eval()
    probs, feats = [], []
    for start in range(0, len(images), batch_size):
        x = to_classifier_input(images[start : start + batch_size])
        f = model.features(x)
        probs.append(F.softmax(model.head(f), dim=1).double().numpy())
        feats.append(f.double().numpy())
    if not probs:
        raise ValueError("no images to classify")
    return Judgement(np.concatenate(probs), np.concatenate(feats))


def round_trip(x: torch.Tensor, size: int, *, chunk: int = 4096) -> torch.Tensor:
    """28 -> ``size`` as :func:`infogan.data.to_training_tensor` resizes, then back to 28."""
    out = torch.empty_like(x)
    for start in range(0, len(x), chunk):
        part = x[start : start + chunk]
        up = F.interpolate(part, size=(size, size), mode="bilinear", align_corners=False)
        out[start : start + chunk] = to_classifier_input(up)
    return out


def _shifted(x: torch.Tensor, gen: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Each digit moved by up to ``max_shift`` pixels each way (zero-ink border)."""
    b, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)
    dy = torch.randint(0, 2 * max_shift + 1, (b,), generator=gen)
    dx = torch.randint(0, 2 * max_shift + 1, (b,), generator=gen)
    rows = (dy[:, None] + torch.arange(h)[None, :])[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w)[None, :])[:, None, None, :]
    return padded[torch.arange(b)[:, None, None, None], 0, rows, cols]  # (B, 1, H, W)


def accuracy(model: MnistClassifier, images: torch.Tensor, labels: np.ndarray) -> float:
    return float((judge(model, images).labels == np.asarray(labels)).mean())


def train_classifier(
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    *,
    epochs: int = 3,
    batch_size: int = 128,
    lr: float = 3e-3,
    seed: int = 0,
    hflip: bool = False,
    progress: bool = True,
    desc: str = "training MNIST classifier",
) -> MnistClassifier:
    """Train a fresh :class:`MnistClassifier` on (N, 1, 28, 28) images in [-1, 1].

    Adam with a one-cycle learning rate. Each digit is shifted by up to 2 pixels, so
    the judge does not mind digits a little off-centre, as generated ones may be; half
    of them are also resampled 28 -> 64 -> 28, the way 64x64 digits reach the judge.
    ``hflip`` mirrors a random half of each batch left to right. The caller's global
    RNG is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        model = MnistClassifier()
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        steps_per_epoch = -(-len(train_images) // batch_size)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=lr, total_steps=epochs * steps_per_epoch
        )
        bar = tqdm(
            total=epochs * steps_per_epoch,
            desc=desc,
            unit="batch",
            disable=not progress,
            leave=False,
        )
        resampled = round_trip(train_images, ROUND_TRIP_SIZE)
        model.train()
        for _epoch in range(epochs):
            order = torch.randperm(len(train_images), generator=gen)
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                half = (torch.rand(len(idx), generator=gen) < 0.5)[:, None, None, None]
                x = _shifted(torch.where(half, resampled[idx], train_images[idx]), gen)
                if hflip:
                    mirror = (torch.rand(len(idx), generator=gen) < 0.5)[:, None, None, None]
                    x = torch.where(mirror, x.flip(-1), x)
                loss = F.cross_entropy(model(x), train_labels[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        bar.close()
    return model.eval()


# --- the shipped classifiers and their files ------------------------------------


@dataclass(frozen=True)
class LoadedClassifier:
    model: MnistClassifier
    path: Path
    digest: str
    dataset: str
    test_accuracy: float
    shipped: bool  # the package's own: every user's metrics come from the same judge


def save_classifier(
    model: MnistClassifier, path: Path | str, *, dataset: str, test_accuracy: float, seconds: float
) -> str:
    """Write the weights as safetensors (what it judges and how well in the metadata),
    atomically; return the file's SHA-256."""
    path = Path(path)
    metadata = {
        "format": FORMAT,
        "arch_version": str(ARCH_VERSION),
        "dataset": dataset,
        "test_accuracy": repr(float(test_accuracy)),
        "train_seconds": f"{seconds:.1f}",
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_open(path) as fh:
        fh.write(safetensors_save(tensors, metadata=metadata))
    return sha256_of(path)


def load_classifier(
    path: Path | str, dataset: IdxDataset = MNIST, *, shipped: bool = False
) -> LoadedClassifier:
    """A classifier file that :func:`save_classifier` (or ``infogan train-classifier``)
    wrote for ``dataset``; :class:`CheckpointError` naming the file for anything else."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such classifier file")
    try:
        with safe_open(path, framework="pt") as fh:
            metadata = fh.metadata() or {}
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: not a readable classifier file ({exc})") from None
    if metadata.get("format") != FORMAT or metadata.get("arch_version") != str(ARCH_VERSION):
        raise CheckpointError(
            f"{path}: not a classifier of this infogan (format {FORMAT}, "
            f"architecture {ARCH_VERSION}); make one with infogan train-classifier"
        )
    if metadata.get("dataset") != dataset.name:
        raise CheckpointError(f"{path}: judges {metadata.get('dataset')}, not {dataset.name}")
    model = MnistClassifier()
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"{path}: weights do not fit the classifier ({first})") from None
    try:
        test_accuracy = float(metadata.get("test_accuracy", "nan"))
    except ValueError:
        test_accuracy = float("nan")
    return LoadedClassifier(
        model.eval(), path, sha256_of(path), dataset.name, test_accuracy, shipped=shipped
    )


def shipped_digests() -> dict[str, str]:
    """File name -> SHA-256 of the classifiers that ship with the package."""
    digests = {}
    for line in (SHIPPED / DIGESTS).read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split()
            digests[name] = digest
    return digests


def shipped_path(dataset: IdxDataset = MNIST) -> Path:
    return SHIPPED / f"{dataset.name}.safetensors"


def get_classifier(
    dataset: IdxDataset = MNIST, *, path: Path | str | None = None
) -> LoadedClassifier:
    """The classifier that judges ``dataset``: the package's own, or the file ``path``."""
    if path is not None:
        return load_classifier(path, dataset)
    file = shipped_path(dataset)
    if not file.is_file():
        raise CheckpointError(f"{file}: the package ships no classifier of {dataset.name}")
    loaded = load_classifier(file, dataset, shipped=True)
    if loaded.digest != shipped_digests().get(file.name):
        raise CheckpointError(
            f"{file}: its SHA-256 is not the one the package lists in {DIGESTS}; reinstall infogan"
        )
    return loaded


def train_dataset_classifier(
    dataset: IdxDataset,
    data_dir: Path | str,
    out: Path | str,
    *,
    epochs: int | None = None,
    seed: int = 0,
    progress: bool = True,
    log: Log | None = None,
) -> LoadedClassifier:
    """Train ``dataset``'s classifier by its recipe (``epochs`` overrides the recipe's),
    measure it on the test set and write it to ``out``. ``data_dir`` must hold the
    dataset's verified files."""
    log = log or (lambda _msg: None)
    recipe = RECIPES.get(dataset.name, RECIPES[MNIST.name])
    train_x, train_y = load_idx_arrays(dataset, data_dir, "train")
    test_x, test_y = load_idx_arrays(dataset, data_dir, "test")
    started = time.perf_counter()
    model = train_classifier(
        uint8_to_input(train_x),
        torch.from_numpy(train_y),
        epochs=epochs or recipe.epochs,
        hflip=recipe.hflip,
        seed=seed,
        progress=progress,
        desc=f"training {dataset.title} classifier",
    )
    seconds = time.perf_counter() - started
    test_accuracy = accuracy(model, uint8_to_input(test_x), test_y)
    log(
        f"{dataset.title} classifier: test accuracy {test_accuracy:.2%}, trained in {seconds:.0f} s"
    )
    save_classifier(model, out, dataset=dataset.name, test_accuracy=test_accuracy, seconds=seconds)
    return load_classifier(out, dataset)

"""Load a trained model (a run, a checkpoint, an exported folder, the shipped model or a
Hub repository) and generate digits from chosen codes."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from pathlib import Path

import torch

from infogan.checkpoint import load_checkpoint
from infogan.config import RunConfig
from infogan.errors import CheckpointError, ConfigError, InfoGANError
from infogan.fileio import as_path
from infogan.latent import LatentBatch, LatentCode
from infogan.models import build_models, image_channels

#: the model that ships with the package (``infogan serve --pretrained``): see its card
PRETRAINED = Path(__file__).resolve().parent / "pretrained" / "mnist-quick28"
#: what a model's path may name, as the errors say
MODEL_PATHS = "a run directory, a checkpoint or an exported model folder"


def find_checkpoint(path: Path | str) -> Path:
    """A checkpoint file, or a run directory's ``checkpoints/last.pt``."""
    path = Path(path)
    if path.is_dir():
        candidate = path / "checkpoints" / "last.pt"
        if not candidate.is_file():
            raise CheckpointError(
                f"{path}: neither a run directory (no checkpoints/last.pt) nor an exported "
                "model (no model.safetensors)"
            )
        return candidate
    return path


def sampling_generator(state: dict) -> dict:
    """The generator weights a checkpoint samples with: the running average of G's
    weights where the run kept one (``train.g_average``), else G's own."""
    average = state.get("generator_average")
    return average["weights"] if isinstance(average, dict) else state["generator"]


class InfoGANModel:
    """A trained generator (and discriminator with Q head), ready for inference."""

    def __init__(
        self,
        config: RunConfig,
        state: dict,
        *,
        device: str | torch.device = "cpu",
        evaluation: dict | None = None,
    ):
        self.config = config
        #: the run's eval.json when it has one (``infogan eval``), else {}
        self.evaluation = evaluation or {}
        self.code = LatentCode(config.latent)
        self.device = _device(device)
        self.generator, self.discriminator = build_models(config)
        try:
            self.generator.load_state_dict(sampling_generator(state), strict=True)
            self.discriminator.load_state_dict(state["discriminator"], strict=True)
        except (RuntimeError, TypeError, AttributeError) as exc:
            first = str(exc).strip().splitlines()[0]
            raise CheckpointError(
                f"checkpoint weights do not fit {config.preset}: {first}"
            ) from None
        self.generator.to(self.device).eval()
        self.discriminator.to(self.device).eval()
        self.step = int(state.get("step", 0))
        fixed = state.get("fixed_noise")
        self.fixed_noise = fixed.to(self.device) if isinstance(fixed, torch.Tensor) else None

    def digit_order(self) -> list[int]:
        """The categorical codes in the order of the digits the evaluation matched them to
        (code ``digit_order()[d]`` draws digit d); code order if the model is unevaluated."""
        k = self.config.latent.num_categories
        mapping = self.evaluation.get("category_to_digit")
        if not isinstance(mapping, list) or sorted(mapping) != list(range(k)):
            return list(range(k))
        return sorted(range(k), key=lambda code: mapping[code])

    @classmethod
    def from_pretrained(
        cls, name_or_path: Path | str | None = None, *, device: str | torch.device = "cpu"
    ) -> InfoGANModel:
        """The shipped model (no argument), a local folder, run or checkpoint, or a Hugging
        Face Hub repository id such as ``"someone/infogan-mnist"`` (needs
        ``pip install 'infogan[hub]'``)."""
        if name_or_path is None:
            return load_model(PRETRAINED, device=device)
        path = as_path(name_or_path, "name_or_path", kinds=f"{MODEL_PATHS}, or a Hub repository id")
        from infogan.export.hub import REPO_ID, download

        if path.exists() or not REPO_ID.match(str(name_or_path)):
            return load_model(path, device=device)
        try:  # OWNER/NAME that is no local path: a Hub repository, or a mistyped path
            local = download(str(name_or_path))
        except InfoGANError as exc:
            raise type(exc)(
                f"{name_or_path}: no such file or folder here; as a Hub repository id: {exc}"
            ) from None
        return load_model(local, device=device)

    @torch.no_grad()
    def generate(
        self,
        categories: Sequence[int] | torch.Tensor,
        continuous: Sequence[Sequence[float]] | torch.Tensor | None = None,
        *,
        noise: torch.Tensor | None = None,
        seed: int | None = None,
    ) -> torch.Tensor:
        """(B, C, H, W) images in [-1, 1] for the given codes.

        ``categories`` (B,) code indices; ``continuous`` (B, num_continuous), zeros if
        omitted; ``noise`` (B, noise_dim), drawn from N(0, I) with ``seed`` if omitted.
        ``seed=None`` is seed 0, so every call without one draws the same noise: pass
        another seed (or ``noise``) for other digits of the same codes.
        """
        cfg = self.config.latent
        codes = _numbers(categories, "categories")
        if codes.dim() > 1:
            raise ConfigError(
                f"categories must be a flat list of codes, got shape {tuple(codes.shape)}"
            )
        codes = codes.flatten()
        b = codes.numel()
        if b == 0:
            raise ConfigError("no codes to generate")
        if (codes != codes.round()).any() or ((codes < 0) | (codes >= cfg.num_categories)).any():
            raise ConfigError(f"category codes must be integers in [0, {cfg.num_categories - 1}]")
        cats = codes.long().to(self.device)
        if continuous is None:
            cont = torch.zeros(b, cfg.num_continuous)
        else:
            cont = _rows(continuous, "continuous", b, cfg.num_continuous)
        if noise is None:
            if seed is not None and (
                isinstance(seed, bool)
                or not isinstance(seed, numbers.Integral)  # numpy's integers too
                or not 0 <= seed < 2**63
            ):
                raise ConfigError(f"seed must be an integer in [0, 2^63), got {seed!r}")
            gen = torch.Generator().manual_seed(0 if seed is None else int(seed))
            noise = torch.randn(b, cfg.noise_dim, generator=gen)
        noise = _rows(noise, "noise", b, cfg.noise_dim)
        latent = LatentBatch(noise.to(self.device), cats, cont.to(self.device))
        return self.generator(self.code.assemble(latent)).float().cpu()

    @torch.no_grad()
    def q_predict(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Q's categorical logits (B, K) and continuous estimate (B, C) for images.

        For a Gaussian Q (paper28) the estimate is the Gaussian's mean.
        """
        size, channels = self.config.data.image_size, image_channels(self.config)
        images = _tensor(images, "images")
        if not images.is_floating_point():  # uint8 0/1 or 0..255 pixels would be misread
            raise ConfigError(
                f"images must be floating-point numbers in [-1, 1], got {images.dtype} "
                "(0..255 pixels: divide by 127.5 and subtract 1)"
            )
        if images.dim() != 4 or tuple(images.shape[1:]) != (channels, size, size):
            raise ConfigError(
                f"images must be (B, {channels}, {size}, {size}) in [-1, 1], "
                f"got shape {tuple(images.shape)}"
            )
        images = images.detach().to(self.device, torch.float32)
        if images.numel():
            low, high = images.min().item(), images.max().item()  # NaN if any is NaN
            if not (math.isfinite(low) and math.isfinite(high)):
                raise ConfigError("images must be finite numbers")
            if low < -1.001 or high > 1.001:  # 0..255 pixels, or mean/std-normalised ones
                raise ConfigError(
                    f"images must be in [-1, 1], as generate returns them and training saw "
                    f"them, got values from {low:.4g} to {high:.4g}"
                )
        _d, cat_logits, cont = self.discriminator(images)
        return cat_logits.float().cpu(), cont[:, : self.config.latent.num_continuous].float().cpu()


def _tensor(values, what: str) -> torch.Tensor:
    """``values`` (a tensor, array or nested sequence) as a tensor, or a ConfigError
    naming ``what``."""
    try:
        return torch.as_tensor(values).detach()
    except (TypeError, ValueError, RuntimeError):
        raise ConfigError(f"{what} must be numbers, got {values!r:.80}") from None


def _numbers(values, what: str) -> torch.Tensor:
    """``values`` (a tensor, array or nested sequence) as a float64 CPU tensor, or a
    ConfigError naming ``what``."""
    out = _tensor(values, what).cpu()
    if out.is_complex() or out.dtype == torch.bool:
        raise ConfigError(f"{what} must be real numbers, got {out.dtype}")
    out = out.double()
    if not torch.isfinite(out).all():
        raise ConfigError(f"{what} must be finite numbers")
    return out


def _rows(values, what: str, rows: int, width: int) -> torch.Tensor:
    """``values`` as a (rows, width) float32 tensor: one row per generated digit."""
    out = _numbers(values, what)
    if rows == 1 and tuple(out.shape) == (width,):  # one digit's row, given flat
        out = out.reshape(1, width)
    if tuple(out.shape) != (rows, width):
        raise ConfigError(
            f"{what} must be {rows} x {width} (a row of {width} values per category code), "
            f"got shape {tuple(out.shape)}"
        )
    return out.float()


def _device(device: str | torch.device) -> torch.device:
    """``device`` as a torch.device this machine has, or a ConfigError naming it."""
    try:
        out = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {device!r}; expected cpu, cuda or cuda:N") from None
    if out.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r}: PyTorch sees no CUDA GPU on this machine")
    if out.type not in ("cpu", "cuda"):
        raise ConfigError(f"device {device!r}: infogan runs on cpu or cuda")
    return out


def load_model(path: Path | str, *, device: str | torch.device = "cpu") -> InfoGANModel:
    """Load a run directory, a checkpoint file or an exported folder for inference."""
    from infogan.export import is_exported, load_exported

    path = as_path(path, "path", kinds=MODEL_PATHS)
    if is_exported(path):
        exported = load_exported(path)
        return InfoGANModel(
            exported.config, exported.state, device=device, evaluation=exported.evaluation
        )
    ckpt, state, config = read_checkpoint(path)
    evaluation = _evaluation_beside(ckpt, state["step"])
    return InfoGANModel(config, state, device=device, evaluation=evaluation)


def read_checkpoint(path: Path | str) -> tuple[Path, dict, RunConfig]:
    """A run directory's (or a checkpoint file's) checkpoint: its file, its state and its
    checked configuration."""
    ckpt = find_checkpoint(path)
    state = load_checkpoint(ckpt)
    config = RunConfig.from_dict(state["config"])
    try:
        config.validate()
    except ConfigError as exc:
        raise CheckpointError(f"{ckpt}: {exc}") from None
    return ckpt, state, config


def _evaluation_beside(checkpoint: Path, step: int) -> dict:
    """The evaluation of a checkpoint (:func:`infogan.evaljson.read_evaluation`), or {}:
    also where it measured another step (the run went on, or this is an older step_N.pt)."""
    from infogan.evaljson import read_evaluation

    return read_evaluation(checkpoint, step)[0]

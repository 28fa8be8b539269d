"""An exported model's weights: one safetensors file, no pickle, no optimizer state.

The file holds the generator (``generator.*``), the discriminator with its Q heads
(``discriminator.*``: Q shares D's trunk, so reading a digit's code needs it) and the
fixed noise of the run's sample grids (``fixed_noise``). Its metadata names the format
and how the weights are stored:

- ``float32``: as trained;
- ``bfloat16``: every floating tensor rounded to bfloat16 (half the size);
- ``int8``: each weight matrix or kernel of 1,024 values or more as int8 with one
  float32 scale per output row (``NAME.scale``, symmetric: value = int8 * scale), the
  rest in float32 (about a quarter of the size).

Loading restores float32 tensors whatever the storage, after checking the file against
the SHA-256 digest that the folder's config.json records for it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes

from infogan.errors import CheckpointError
from infogan.fileio import atomic_open

FORMAT = "infogan-model"
FORMAT_VERSION = "1"
STORAGES = ("float32", "bfloat16", "int8")
SCALE_SUFFIX = ".scale"
#: smaller tensors (biases, norms, tiny heads) stay float32 under int8 storage
INT8_MIN_SIZE = 1024
NETS = ("generator", "discriminator")


def quantize_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(R, ...) float -> (R, ...) int8 and (R,) float32 scales, one per row (dim 0)."""
    rows = weight.detach().float().reshape(weight.shape[0], -1)
    scale = rows.abs().amax(dim=1) / 127.0
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.round(rows / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return q.reshape(weight.shape), scale


def dequantize_rows(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return (q.float().reshape(q.shape[0], -1) * scale.float()[:, None]).reshape(q.shape)


def _stored(name: str, value: torch.Tensor, storage: str) -> dict[str, torch.Tensor]:
    value = value.detach().cpu().contiguous()
    if not value.is_floating_point() or storage == "float32":
        return {name: value.float() if value.is_floating_point() else value}
    if storage == "bfloat16":
        return {name: value.to(torch.bfloat16)}
    if value.ndim >= 2 and value.numel() >= INT8_MIN_SIZE:
        q, scale = quantize_rows(value)
        return {name: q, name + SCALE_SUFFIX: scale}
    return {name: value.float()}


def pack(
    states: dict[str, dict[str, torch.Tensor]],
    fixed_noise: torch.Tensor | None,
    storage: str,
) -> dict[str, torch.Tensor]:
    """``{"generator": state_dict, "discriminator": state_dict}`` -> the file's tensors."""
    if storage not in STORAGES:
        raise ValueError(f"storage must be one of {', '.join(STORAGES)}, got {storage!r}")
    tensors: dict[str, torch.Tensor] = {}
    for net in NETS:
        for key, value in states[net].items():
            tensors.update(_stored(f"{net}.{key}", value, storage))
    if fixed_noise is not None:
        tensors["fixed_noise"] = fixed_noise.detach().cpu().float().contiguous()
    return tensors


def unpack(
    tensors: dict[str, torch.Tensor], source: Path | str = "model.safetensors"
) -> tuple[dict[str, dict[str, torch.Tensor]], torch.Tensor | None]:
    """The file's tensors -> float32 state dicts of both nets, and the fixed noise."""
    states: dict[str, dict[str, torch.Tensor]] = {net: {} for net in NETS}
    for name, value in tensors.items():
        if name == "fixed_noise" or name.endswith(SCALE_SUFFIX):
            continue
        net, _, key = name.partition(".")
        if net not in states or not key:
            raise CheckpointError(f"{source}: unexpected tensor {name!r}")
        if value.dtype == torch.int8:
            scale = tensors.get(name + SCALE_SUFFIX)
            if scale is None or scale.shape != (value.shape[0],):
                raise CheckpointError(f"{source}: int8 tensor {name!r} lacks its row scales")
            value = dequantize_rows(value, scale)
        elif value.is_floating_point():
            value = value.float()
        states[net][key] = value
    for net in NETS:
        if not states[net]:
            raise CheckpointError(f"{source}: holds no {net} weights")
    return states, tensors.get("fixed_noise")


def write_weights(path: Path, tensors: dict[str, torch.Tensor], *, storage: str) -> Path:
    """Write the safetensors file atomically, its format and storage in the metadata."""
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION, "storage": storage}
    blob = save_bytes(tensors, metadata=metadata)
    with atomic_open(path) as fh:
        fh.write(blob)
    return path


def read_weights(
    path: Path, *, expected_sha256: str | None = None
) -> tuple[dict[str, torch.Tensor], str]:
    """The tensors of an exported ``model.safetensors`` and their storage.

    Anything but a complete file of this format, or (given ``expected_sha256``, the digest
    config.json records) one whose bytes have another digest, is a :class:`CheckpointError`
    naming it.
    """
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror})") from None
    metadata = _metadata(blob, path)
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an infogan model (metadata format is not {FORMAT})")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: model format version {metadata.get('format_version')}, "
            f"this infogan reads {FORMAT_VERSION}"
        )
    storage = metadata.get("storage")
    if storage not in STORAGES:
        raise CheckpointError(f"{path}: unknown weight storage {storage!r}")
    try:
        tensors = load_bytes(blob)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None
    # checked after parsing, so a truncated or foreign file gets the more precise message
    if expected_sha256 is not None and hashlib.sha256(blob).hexdigest() != expected_sha256.lower():
        raise CheckpointError(
            f"{path}: the weights do not match the digest recorded in config.json "
            "(weights_sha256); the file is damaged or was changed after export"
        )
    return tensors, storage


def _metadata(blob: bytes, path: Path) -> dict[str, str]:
    """The header's ``__metadata__``; a truncated or foreign file fails here, before any
    tensor is read."""
    if len(blob) < 8:
        raise CheckpointError(f"{path}: not a safetensors file (only {len(blob)} bytes)")
    size = int.from_bytes(blob[:8], "little")
    if size > len(blob) - 8:
        raise CheckpointError(f"{path}: truncated or not a safetensors file (bad header size)")
    try:
        header = json.loads(blob[8 : 8 + size])
    except (UnicodeDecodeError, ValueError):
        raise CheckpointError(f"{path}: not a safetensors file (unreadable header)") from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{path}: not an infogan model (no metadata)")
    return metadata

"""Exported models on the Hugging Face Hub (the optional ``infogan[hub]`` extra).

A Hub repository of this project is an exported folder as it is: ``model.safetensors``,
``config.json``, the card and its figures. Downloads are cached by ``huggingface_hub``.
"""

from __future__ import annotations

import re
from pathlib import Path

from infogan.errors import CheckpointError, ConfigError

INSTALL_HINT = "pip install 'infogan[hub]'"

#: a Hub repository id: OWNER/NAME
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def check_push(repo_id: str) -> None:
    """A ConfigError, before anything is exported, if ``repo_id`` is no Hub repository id
    or the Hub's client is not installed."""
    if not REPO_ID.match(repo_id):
        raise ConfigError(f"--push {repo_id!r}: expected a Hub repository id, OWNER/NAME")
    _hub()


def _hub():
    try:
        import huggingface_hub
    except ImportError:
        raise ConfigError(
            f"Hub repositories need the huggingface_hub package: {INSTALL_HINT}"
        ) from None
    return huggingface_hub


def download(repo_id: str) -> Path:
    """The local copy of the Hub repository ``repo_id`` (downloaded on first use)."""
    hub = _hub()
    try:
        return Path(hub.snapshot_download(repo_id=repo_id))
    except Exception as exc:  # the client raises many types: network, auth, not found
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{repo_id}: could not download from the Hub ({first})") from None


def push(folder: Path, repo_id: str, *, private: bool = False) -> str:
    """Upload an exported folder to the Hub repository ``repo_id``; return its URL."""
    hub = _hub()
    try:
        api = hub.HfApi()
        api.create_repo(repo_id=repo_id, exist_ok=True, private=private)
        info = api.upload_folder(repo_id=repo_id, folder_path=str(folder))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{repo_id}: could not upload to the Hub ({first})") from None
    return str(getattr(info, "repo_url", None) or info)

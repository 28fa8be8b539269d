"""``--config FILE``: a run's settings from a JSON file, over a preset.

The file may be a run's ``config.json`` (complete), an exported model's (the run's
configuration inside it), one written by an earlier version (:mod:`~infogan.config.upgrade`),
or a partial one holding only the settings it changes. Its sections go over the preset
named by ``--preset``, else by its own ``preset`` key, else seed64's.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from infogan.config.presets import PRESETS, SEED64, get_preset
from infogan.config.schema import SECTIONS, RunConfig, load_config_file
from infogan.config.upgrade import written_before_readings
from infogan.errors import ConfigError


def config_from_file(path: Path | str, preset: str | None) -> RunConfig:
    """The configuration ``path`` gives over ``preset`` (``--preset``, or None), not yet
    validated; a :class:`ConfigError` naming the file for what the file itself gets wrong."""
    raw = load_config_file(path)
    if raw.get("format") == "infogan-model-config" and isinstance(raw.get("config"), dict):
        raw = raw["config"]  # an exported model's config.json: the run's configuration
    named = raw.get("preset")
    if preset and named is not None and named != preset:
        raise ConfigError(
            f"--preset {preset} and {path}'s preset {named!r} disagree; drop --preset to "
            "start from the file's, or its 'preset' key"
        )
    base = get_preset(preset) if preset else SEED64
    if not preset and named in PRESETS:
        base = get_preset(named)
    elif not preset and named is not None and not _complete(raw):
        close = difflib.get_close_matches(str(named), PRESETS, n=1)
        raise ConfigError(
            f"{path}: preset {named!r} is none of {', '.join(PRESETS)}"
            f"{f' (did you mean {close[0]}?)' if close else ''}, so the settings this file "
            "leaves out have no preset to come from"
        )
    merged = base.to_dict()
    for section, values in raw.items():
        if isinstance(values, dict) and isinstance(merged.get(section), dict):
            merged[section] = {**merged[section], **values}
        else:
            merged[section] = values
    if written_before_readings(raw.get("train")):  # an earlier version's config.json:
        for key in ("readings", "cont_loss"):  # these come from its own settings
            if key not in raw["train"]:
                merged["train"].pop(key, None)
    try:
        return RunConfig.from_dict(merged)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _complete(raw: dict) -> bool:
    """Whether ``raw`` has every section (a run's own config.json, perhaps an earlier
    version's, under a preset since retired), not only the settings it changes."""
    return all(isinstance(raw.get(section), dict) for section in SECTIONS)

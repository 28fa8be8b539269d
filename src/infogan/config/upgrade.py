"""Configs written by earlier versions, read in this version's terms (a dict to a dict)."""

from __future__ import annotations

from typing import Any

from infogan.config.values import GAUSSIAN_Q_ARCHS
from infogan.errors import ConfigError

#: settings earlier versions had and this one does not: name -> (value that behaves as
#: this version does, or a test of the whole section saying whether it is accepted)
_RETIRED: dict[str, Any] = {
    "cluster_pairs": lambda t: t.get("cluster_pairs", True) or not t.get("lambda_cluster"),
    "cluster_augment": lambda t: t["cluster_augment"] == "restyle" or not t.get("lambda_cluster"),
    "cluster_balance": lambda t: t["cluster_balance"] == 1.5 or not t.get("lambda_cluster"),
    "cluster_copies": lambda t: t["cluster_copies"] == 1,
    "q_cat_on_fakes": lambda t: t["q_cat_on_fakes"] is True,
    "augment_fakes": lambda t: t["augment_fakes"] is False,
    "cluster_resplit": lambda t: t["cluster_resplit"] == 0,
    "overcluster_weight": lambda t: t["overcluster_weight"] == 0.5,
    "lambda_orth": lambda t: t["lambda_orth"] == 0,
    "orth_samples": lambda t: True,  # used only with lambda_orth
    "thicken_code": lambda t: t["thicken_code"] == 0,
    "thicken_squeeze": lambda t: t["thicken_squeeze"] is False,
    "squeeze_code": lambda t: t["squeeze_code"] == 0,
    "tilt_from": lambda t: t["tilt_from"] == 0,
    "turn_samples": lambda t: t["turn_samples"] == 32,
}
#: settings earlier versions had that this one writes as ``readings`` and ``cont_loss``
_READING_SETTINGS = (
    "turn_code",
    "turn_degrees",
    "turn_restyle",
    "turn_thicken",
    "tilt_code",
    "tilt_degrees",
)


def upgrade(raw: dict[str, Any]) -> dict[str, Any]:
    """A config written by an earlier version, in this version's terms: settings since
    retired are dropped where they sit at a value that behaves as this version does (and
    refused, naming them, where they do not); the codes read from turned copies become
    ``readings``; ``q_fixed_std`` becomes ``cont_loss``."""
    train = raw.get("train")
    if not isinstance(train, dict):
        return raw
    old = dict(train)
    new = {k: v for k, v in old.items() if k not in _RETIRED and k not in _READING_SETTINGS}
    for name, accepts in _RETIRED.items():
        if name in old and not accepts(old):
            raise ConfigError(
                f"setting train.{name}={old[name]!r} was retired (docs/experiments.md); this "
                "version cannot continue or load a run that uses it"
            )
    new.pop("q_fixed_std", None)
    model = raw.get("model")
    arch = model.get("arch", "seed64") if isinstance(model, dict) else "seed64"
    if "cont_loss" not in old:
        gaussian = arch in GAUSSIAN_Q_ARCHS and not old.get("q_fixed_std", False)
        new["cont_loss"] = "gaussian" if gaussian else "mse"
    if "readings" not in old:
        new["readings"] = _old_readings(old)
    data = raw.get("data")
    if data is None or isinstance(data, dict):  # anything else: from_dict names it
        data = dict(data or {})
        data.setdefault("channels", 1)  # configs saved before the channel count: grey MNIST
    return {**raw, "data": data, "train": new}


def written_before_readings(train: Any) -> bool:
    """Whether a config's ``train`` section is in an earlier version's terms (it holds a
    setting :func:`upgrade` converts or drops): its ``readings`` and ``cont_loss``, where
    it lacks them, are then what :func:`upgrade` makes of it, not a preset's."""
    if not isinstance(train, dict):
        return False
    return any(k in train for k in (*_RETIRED, *_READING_SETTINGS, "q_fixed_std"))


def _old_readings(old: dict[str, Any]) -> list[dict[str, Any]]:
    readings = []
    if old.get("turn_code"):
        transforms = [{"kind": "restyle"}] if old.get("turn_restyle") else []
        transforms.append({"kind": "turn", "amount": old.get("turn_degrees", 45.0)})
        if old.get("turn_thicken"):
            transforms.append({"kind": "thicken", "amount": old["turn_thicken"], "known": True})
        readings.append({"code": old["turn_code"], "transforms": transforms})
    if old.get("tilt_code"):
        turn = {"kind": "turn", "amount": old.get("tilt_degrees", 20.0), "known": True}
        readings.append({"code": old["tilt_code"], "transforms": [turn]})
    return readings

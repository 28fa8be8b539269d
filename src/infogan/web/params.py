"""The explorer API's query parameters: their defaults, their ranges, and strict parsing.

Each endpoint declares its parameters once; :func:`parse_query` turns the raw query
string's pairs into typed values or raises :class:`ParamError`, whose message names
the parameter and its allowed range. A missing parameter takes its default; an
empty, malformed, non-finite, out-of-range, repeated or unknown one is an error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Plain decimal notation only: no "nan", "inf", hex floats, underscores or spaces,
# which Python's int() and float() would otherwise accept.
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_MAX_RAW = 32  # longer values are rejected before parsing (no huge-number work)


class ParamError(ValueError):
    """A query parameter the API cannot accept; ``str()`` is the user-facing message."""

    def __init__(self, name: str, allowed: str, message: str):
        super().__init__(message)
        self.name = name
        self.allowed = allowed

    def to_json(self) -> dict[str, str]:
        return {"error": str(self), "parameter": self.name, "allowed": self.allowed}


def _shown(raw: str) -> str:
    """The received value, quoted and cut short, for an error message."""
    return repr(raw if len(raw) <= _MAX_RAW else raw[:_MAX_RAW] + "...")


@dataclass(frozen=True)
class IntParam:
    name: str
    low: int
    high: int  # inclusive
    default: int
    doc: str

    @property
    def allowed(self) -> str:
        return f"an integer in [{self.low}, {self.high}]"

    def parse(self, raw: str) -> int:
        if len(raw) > _MAX_RAW or not _INT.fullmatch(raw):
            raise ParamError(self.name, self.allowed, self._message(raw))
        value = int(raw)
        if not self.low <= value <= self.high:
            raise ParamError(self.name, self.allowed, self._message(raw))
        return value

    def _message(self, raw: str) -> str:
        return f"{self.name} must be {self.allowed}, got {_shown(raw)}"


@dataclass(frozen=True)
class FloatParam:
    name: str
    low: float
    high: float  # inclusive
    default: float
    doc: str

    @property
    def allowed(self) -> str:
        return f"a finite number in [{self.low:g}, {self.high:g}]"

    def parse(self, raw: str) -> float:
        message = f"{self.name} must be {self.allowed}, got {_shown(raw)}"
        if len(raw) > _MAX_RAW or not _FLOAT.fullmatch(raw):
            raise ParamError(self.name, self.allowed, message)
        value = float(raw)
        if not (math.isfinite(value) and self.low <= value <= self.high):
            raise ParamError(self.name, self.allowed, message)
        return value + 0.0  # -0.0 -> 0.0: the same image, the same bytes


@dataclass(frozen=True)
class ChoiceParam:
    name: str
    choices: tuple[str, ...]
    default: str
    doc: str

    @property
    def allowed(self) -> str:
        return "one of " + ", ".join(self.choices)

    def parse(self, raw: str) -> str:
        if raw not in self.choices:
            raise ParamError(
                self.name, self.allowed, f"{self.name} must be {self.allowed}, got {_shown(raw)}"
            )
        return raw


Param = IntParam | FloatParam | ChoiceParam


def parse_query(pairs: Iterable[tuple[str, str]], params: Mapping[str, Param]) -> dict[str, Any]:
    """Typed values for every declared parameter: the given ones parsed, the rest defaulted."""
    given: dict[str, str] = {}
    for name, raw in pairs:
        if name not in params:
            allowed = ", ".join(params) or "no parameters"
            raise ParamError(
                name, allowed, f"unknown parameter {_shown(name)}; this endpoint takes {allowed}"
            )
        if name in given:
            param = params[name]
            raise ParamError(name, param.allowed, f"{name} given more than once")
        given[name] = raw
    return {
        name: param.parse(given[name]) if name in given else param.default
        for name, param in params.items()
    }


def describe(params: Mapping[str, Param]) -> dict[str, dict[str, Any]]:
    """Each parameter's default, allowed range and meaning, for ``/api/info``."""
    return {
        name: {"default": p.default, "allowed": p.allowed, "doc": p.doc}
        for name, p in params.items()
    }

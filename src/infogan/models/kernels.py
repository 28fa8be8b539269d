"""The C kernels in ``csrc/``, compiled for this CPU on first use and loaded with ctypes.

A kernel file is compiled once into ``~/.cache/infogan/kernels`` (``$XDG_CACHE_HOME`` if
set) under a name that holds a digest of its source and the folder's headers, the flags and
the CPU's features, in
about a second, by ``cc`` (``$CC`` if set), with ``-march=native`` and OpenMP. They run
on PyTorch's own OpenMP threads: the process has loaded PyTorch's libgomp before them.
Where a kernel cannot be had (a CPU without the vector unit it needs, no compiler, a
failed compile) :func:`load` returns None, says why once in a warning (not for the
vector unit: nothing to fix there), and the layers run PyTorch's operators. The kernels
written with AVX-512's intrinsics need it; csrc/winograd.c is plain C and needs AVX2.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

import torch

SOURCES = Path(__file__).with_name("csrc")
FLAGS = ("-O3", "-march=native", "-shared", "-fPIC", "-fopenmp")

#: ctypes argument types by letter: p pointer, q int64, i int, f float
_TYPES = {"p": ctypes.c_void_p, "q": ctypes.c_int64, "i": ctypes.c_int, "f": ctypes.c_float}

_lock = threading.Lock()
_loaded: dict[str, ctypes.CDLL | None] = {}
_functions: dict[str, list[str]] = {}
_reasons: dict[str, str] = {}
_warned = False


def compiling() -> bool:
    """Whether torch.compile is tracing the layers. They then take PyTorch's operators
    rather than these kernels or the casts kept by id() (models/cast.py): it sees into
    PyTorch's operators, not into a ctypes call, and a cache keyed by id() would make it
    compile the graph again for every weight."""
    return torch.compiler.is_compiling()


def cpu_flags() -> str:
    """The CPU's feature flags (Linux's /proc/cpuinfo), or what the platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line
    except OSError:
        pass
    return platform.processor()


def has_cpu_flag(flag: str) -> bool:
    """Whether this is an x86-64 CPU with the feature ``flag`` (as /proc/cpuinfo names it)."""
    return platform.machine() in ("x86_64", "AMD64") and flag in cpu_flags().split()


def has_avx512() -> bool:
    return has_cpu_flag("avx512bw")


#: the CPU feature each kernel file needs (vectors.h's AVX-512 where not named)
NEEDS = {"winograd": "avx2"}


def _cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "infogan" / "kernels"


def _build(name: str, compiler: str) -> ctypes.CDLL:
    source = SOURCES / f"{name}.c"
    headers = b"".join(h.read_bytes() for h in sorted(SOURCES.glob("*.h")))
    digest = hashlib.sha256(source.read_bytes() + headers)
    digest.update(" ".join(FLAGS).encode() + cpu_flags().encode())
    target = _cache_dir() / f"{name}-{digest.hexdigest()[:16]}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        # compile to a temporary name and rename: processes started together (torchrun)
        # never load a half-written library
        fd, partial = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(fd)
        try:
            subprocess.run(
                [compiler, *FLAGS, str(source), "-o", partial, "-lm"],
                check=True,
                capture_output=True,
                text=True,
            )
            os.replace(partial, target)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
    return ctypes.CDLL(str(target))


def load(name: str, signatures: dict[str, str]) -> ctypes.CDLL | None:
    """``csrc/<name>.c`` compiled and loaded, its functions typed by ``signatures``
    (function -> argument letters, see ``_TYPES``; each returns an int), or None where
    it cannot be had here."""
    global _warned
    if name in _loaded:
        return _loaded[name]
    with _lock:
        if name in _loaded:
            return _loaded[name]
        lib, reason = None, None
        needs = NEEDS.get(name, "avx512bw")
        if not has_cpu_flag(needs):
            reason = f"this CPU has no {'AVX2' if needs == 'avx2' else 'AVX-512'}"
        else:
            compiler = os.environ.get("CC", "cc")
            try:
                lib = _build(name, compiler)
            except FileNotFoundError:
                reason = f"no C compiler ({compiler}) found"
            except (OSError, RuntimeError, subprocess.CalledProcessError) as err:
                detail = getattr(err, "stderr", "") or str(err)
                reason = f"compiling {name}.c failed: {detail.strip()[:200]}"
        if lib is not None:
            _functions[name] = list(signatures)
            for function, letters in signatures.items():
                getattr(lib, function).argtypes = [_TYPES[t] for t in letters]
                getattr(lib, function).restype = ctypes.c_int
        else:
            _reasons[name] = reason
            if not _warned and not reason.startswith("this CPU has no"):
                _warned = True
                warnings.warn(
                    f"the CPU kernels are not used, PyTorch's operators run instead: {reason}",
                    RuntimeWarning,
                    stacklevel=3,
                )
        _loaded[name] = lib
        return lib


def loaded() -> dict[str, tuple[ctypes.CDLL, list[str]]]:
    """The kernels loaded so far and their functions (benchmarks/step_time.py times them)."""
    return {name: (lib, _functions[name]) for name, lib in _loaded.items() if lib is not None}


def unavailable_reason(name: str) -> str | None:
    """Why ``csrc/<name>.c`` is not used here (None if it is, or was not asked for yet)."""
    return _reasons.get(name)

"""Helpers shared by the CLI-level tests."""

import os
import subprocess
import sys


def run_cli(*args, env_extra=None, timeout=600):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "infogan", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def run_cli_line(*args, **kwargs) -> str:
    """Run a command that must fail; return its one error line (no traceback)."""
    out = run_cli(*args, **kwargs)
    assert out.returncode != 0, out.stdout
    assert "Traceback" not in out.stderr, out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("infogan: error: "), out.stderr
    return last

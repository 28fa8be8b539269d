"""Helpers shared by the explorer's tests: the real server in a subprocess, a run directory
with a given eval.json, and plain HTTP with the standard library. (The tiny trained run
they serve is conftest's ``tiny_run``.)"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


def run_dir_with_eval(root: Path, checkpoint: Path, eval_text: str) -> Path:
    """A run directory whose checkpoint links to ``checkpoint`` and whose eval.json is given."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "checkpoints").mkdir(exist_ok=True)
    link = root / "checkpoints" / "last.pt"
    if not link.exists():
        link.symlink_to(checkpoint)
    (root / "eval.json").write_text(eval_text)
    return root


@dataclass
class Served:
    """A running ``infogan serve`` process and what it said."""

    proc: subprocess.Popen
    url: str
    stdout_lines: list[str]

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20) -> tuple[int, str]:
        """Send ``sig`` (Ctrl-C by default); return the exit code and all of stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        err = self.proc.stderr.read() if self.proc.stderr else ""
        return self.proc.returncode, err


def start_server(target: Path | str, *extra: str, timeout: float = 90) -> Served:
    """Start ``infogan serve TARGET --port 0`` (TARGET may be ``--pretrained``) and wait for
    the URL it prints."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "infogan", "serve", str(target), "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            proc.kill()
            raise AssertionError(f"no URL from the server within {timeout} s: {seen}") from None
        if line is None:
            err = proc.stderr.read() if proc.stderr else ""
            proc.wait()
            raise AssertionError(f"server exited ({proc.returncode}): {seen} {err}")
        seen.append(line)
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        if match:
            return Served(proc, match.group(0), seen)


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str]  # names in lower case


def get(
    url: str, *, method: str = "GET", headers: dict[str, str] | None = None, timeout: float = 60
) -> Reply:
    """One real HTTP request; error statuses are returned, not raised."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(
                response.status,
                response.headers.get("Content-Type", ""),
                response.read(),
                {k.lower(): v for k, v in response.headers.items()},
            )
    except urllib.error.HTTPError as exc:
        with exc:
            return Reply(
                exc.code,
                exc.headers.get("Content-Type", ""),
                exc.read(),
                {k.lower(): v for k, v in exc.headers.items()},
            )

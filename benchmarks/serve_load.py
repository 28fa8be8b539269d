"""Load benchmark of the latent explorer: N requests from C concurrent clients, loopback only.

Starts ``infogan serve RUN --port 0`` in a subprocess (or uses ``--url`` of a running
loopback server), then sends a page-like mix of requests over keep-alive HTTP/1.1
connections: mostly single digits at the page's size, plus the two strips. Prints
requests/s and p50/p95/p99 latency overall and per endpoint; exits non-zero on any
error or when the time bound runs out.

    python benchmarks/serve_load.py /tmp/q600 --requests 1000 --clients 16
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

# The mix the page sends while a user drags a slider: every move asks for the digit and
# the category strip; the sweep changes less often.
MIX = (("generate", 0.6), ("grid-category", 0.25), ("grid-sweep", 0.15))


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)

    def fail(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)


def request_plan(count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` (kind, path) pairs with random codes, the same for the same seed."""
    rng = random.Random(seed)
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    plan = []
    for _ in range(count):
        kind = rng.choices(kinds, weights)[0]
        code = {
            "category": rng.randrange(10),
            "c1": f"{rng.uniform(-2, 2):.2f}",
            "c2": f"{rng.uniform(-2, 2):.2f}",
            "seed": rng.randrange(2**31),
        }
        if kind == "generate":
            path = "/api/generate?" + urlencode({**code, "scale": 6})
        elif kind == "grid-category":
            path = "/api/grid?" + urlencode({"vary": "category", **code})
        else:
            path = "/api/grid?" + urlencode({"vary": rng.choice(["c1", "c2"]), **code})
        plan.append((kind, path))
    return plan


def client(
    host: str,
    port: int,
    jobs: list[tuple[str, str]],
    results: Results,
    deadline: float,
    timeout: float,
) -> None:
    """One client: its share of the plan, one request at a time, on one connection."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        for kind, path in jobs:
            if time.monotonic() > deadline:
                results.fail("time bound reached before every request was sent")
                return
            start = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                results.fail(f"{path}: {type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
                continue
            elapsed = time.perf_counter() - start
            if response.status != 200 or not body.startswith(b"\x89PNG"):
                results.fail(f"{path}: HTTP {response.status} {body[:120]!r}")
                continue
            results.add(kind, elapsed)
    finally:
        conn.close()


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def describe(name: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"{name:<14} n={len(ms):>5}  p50 {percentile(ms, 50):7.1f} ms  "
        f"p95 {percentile(ms, 95):7.1f} ms  p99 {percentile(ms, 99):7.1f} ms  "
        f"mean {statistics.fmean(ms):7.1f} ms  max {max(ms):7.1f} ms"
    )


def start_server(run: Path, timeout: float) -> tuple[subprocess.Popen, str, threading.Thread]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "infogan", "serve", str(run), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    found: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            match = re.search(r"http://127\.0\.0\.1:\d+/", line)
            if match and not found:
                found.append(match.group(0))
            elif not match:
                print(f"server: {line.rstrip()}", file=sys.stderr)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while not found and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if not found:
        proc.kill()
        raise SystemExit("serve_load.py: error: the server did not start (its own words are above)")
    return proc, found[0], reader


def loopback_address(url: str) -> tuple[str, int] | None:
    """The host and port of ``url`` if it names a loopback address (localhost, 127.x,
    ::1), else None."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or 80
    except ValueError:  # a port that is not a number, or out of range
        return None
    if host == "localhost":
        return host, port
    try:
        return (host, port) if ipaddress.ip_address(host).is_loopback else None
    except ValueError:  # a name other than localhost, or no host at all
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, nargs="?", help="run directory or checkpoint to serve")
    parser.add_argument("--url", help="a running server instead (loopback only)")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--max-seconds", type=float, default=300, help="bound on the whole run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the request mix")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 100_000 or not 1 <= args.clients <= 64:
        parser.error("--requests must be in [1, 100000] and --clients in [1, 64]")
    if (args.run is None) == (args.url is None):
        parser.error("give a RUN to serve or --url of a running server (one of the two)")
    if not args.max_seconds > 0:
        parser.error(f"--max-seconds must be positive, got {args.max_seconds}")
    if args.url and loopback_address(args.url) is None:
        parser.error(f"--url {args.url}: expected http://127.0.0.1:PORT/ (loopback only)")

    proc = None
    if args.url:
        url = args.url
    else:
        proc, url, reader = start_server(args.run, timeout=120)
    try:
        host, port = loopback_address(url)
        # Warm up: the first forward passes are slower (allocation, kernel choice).
        warm = Results()
        client(host, port, request_plan(6, seed=args.seed + 1), warm, time.monotonic() + 60, 60)
        if warm.errors:
            print(f"serve_load.py: error: {url}: {warm.errors[0]}", file=sys.stderr)
            return 1

        plan = request_plan(args.requests, seed=args.seed)
        shares = [plan[i :: args.clients] for i in range(args.clients)]
        results = Results()
        deadline = time.monotonic() + args.max_seconds
        threads = [
            threading.Thread(target=client, args=(host, port, share, results, deadline, 60))
            for share in shares
        ]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            reader.join(timeout=5)  # its last words before our summary

    done = [v for values in results.latencies.values() for v in values]
    print(f"server      {url}")
    print(f"requests    {len(done)} ok, {len(results.errors)} errors, {args.clients} clients")
    print(f"wall time   {wall:.1f} s")
    print(f"throughput  {len(done) / wall:.1f} requests/s")
    if done:
        print(describe("all", done))
        for kind, _ in MIX:
            if kind in results.latencies:
                print(describe(kind, results.latencies[kind]))
    for message in results.errors[:10]:
        print(f"error: {message}", file=sys.stderr)
    return 0 if not results.errors and len(done) == args.requests else 1


if __name__ == "__main__":
    sys.exit(main())

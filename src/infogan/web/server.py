"""The explorer's web server: one page, a JSON/PNG API, uvicorn on a socket we bind.

Requests are validated before any work (422 with a JSON message otherwise). Every
response carries the page's security headers, and a server on a loopback address answers
only requests addressed to this machine (400 otherwise: a page elsewhere cannot reach it by
rebinding a domain name to 127.0.0.1). The generator runs on one dedicated thread, one
batch per request, so the event loop never waits on it and concurrent requests do not
fight over the CPU cores; PNG encoding runs on the ordinary thread pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infogan.errors import InfoGANError
from infogan.web.explorer import Explorer, encode_png
from infogan.web.params import ParamError, parse_query

STATIC = Path(__file__).resolve().parent / "static"

_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob:; style-src 'self'; script-src 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
}
_PNG_HEADERS = {"Cache-Control": "no-store"}
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


class ServeError(InfoGANError):
    """The server cannot start: the address is taken, unknown, or not allowed."""


class InferenceWorker:
    """One thread that owns every call into the model."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="infogan-inference")

    async def run(self, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, partial(fn, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class _Guard:
    """ASGI middleware: the security headers on every response, and with ``hosts`` (host
    names, lower case, IPv6 in brackets) a 400 for any request whose Host header names
    another."""

    def __init__(self, app: ASGIApp, hosts: tuple[str, ...] | None):
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "")
        name = host.split("]")[0] + "]" if host.startswith("[") else host.rsplit(":", 1)[0]
        if self.hosts is not None and name.lower() not in self.hosts:
            refused = JSONResponse(
                {
                    "error": f"Host {host!r} is not this server's; it answers to "
                    f"{', '.join(self.hosts)}"
                },
                status_code=400,
                headers=_SECURITY_HEADERS,
            )
            await refused(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in _SECURITY_HEADERS.items():
                    headers.setdefault(key, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    explorer: Explorer, worker: InferenceWorker, hosts: tuple[str, ...] | None = None
) -> ASGIApp:
    """The ASGI app for one explorer; ``worker`` runs the model. With ``hosts``, requests
    addressed to any other host name get 400 (:class:`_Guard`)."""
    params = explorer.params

    async def page(_request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def info(request: Request) -> Response:
        parse_query(request.query_params.multi_items(), {})
        return JSONResponse(explorer.info())

    async def generate(request: Request) -> Response:
        args = parse_query(request.query_params.multi_items(), params.generate)
        scale = args.pop("scale")
        pixels = await worker.run(explorer.single_pixels, **args)
        png = await run_in_threadpool(encode_png, pixels, scale)
        return Response(png, media_type="image/png", headers=_PNG_HEADERS)

    async def grid(request: Request) -> Response:
        args = parse_query(request.query_params.multi_items(), params.grid)
        if args["vary"] == "category" and "steps" in request.query_params:
            steps = params.grid["steps"]
            raise ParamError("steps", steps.allowed, "steps applies only to vary=c1 or vary=c2")
        scale = args.pop("scale")
        pixels = await worker.run(explorer.grid_pixels, **args)
        png = await run_in_threadpool(encode_png, pixels, scale)
        return Response(png, media_type="image/png", headers=_PNG_HEADERS)

    async def bad_param(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ParamError)
        return JSONResponse(exc.to_json(), status_code=422)

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/api/info", info),
            Route("/api/generate", generate),
            Route("/api/grid", grid),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        exception_handlers={ParamError: bad_param, HTTPException: http_error},
    )
    return _Guard(app, hosts)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    if not 0 <= port <= 65535:
        raise ServeError(f"--port must be in [0, 65535], got {port}")
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ServeError(f"cannot listen on {host}:{port}: unknown host ({exc})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        in_use = exc.errno == errno.EADDRINUSE
        reason = "address already in use" if in_use else (exc.strerror or str(exc))
        raise ServeError(f"cannot listen on {host}:{port}: {reason}") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def is_loopback(sock: socket.socket) -> bool:
    host = sock.getsockname()[0]
    return ipaddress.ip_address(host.split("%")[0]).is_loopback


class _Server(uvicorn.Server):
    """uvicorn's server, telling us once it accepts connections."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]):
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_ready()


def serve(
    path: Path | str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log: Callable[[str], None] = print,
) -> None:
    """Serve the explorer for a run directory or checkpoint until Ctrl-C (or SIGTERM)."""
    sock = bind(host, port)  # first: a taken port is reported before the model loads
    try:
        explorer, warnings = Explorer.load(path)
    except BaseException:
        sock.close()
        raise
    for warning in warnings:
        log(f"warning: {warning}")
    worker = InferenceWorker()
    host_name = url_of(sock).split("//")[1].rsplit(":", 1)[0]
    hosts = tuple(dict.fromkeys((*LOOPBACK_NAMES, host_name))) if is_loopback(sock) else None
    config = uvicorn.Config(
        create_app(explorer, worker, hosts),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    info = explorer.info()

    def ready() -> None:
        if not is_loopback(sock):
            log(f"note: {url_of(sock)} is reachable from other machines")
        matched = "digits" if explorer.noun == "digit" else "classes"
        labels = f"{matched} from eval.json" if explorer.digit_mapping else "code indices"
        log(
            f"serving {info['preset']} (step {info['step']}, buttons labelled by {labels}) "
            f"at {url_of(sock)} - press Ctrl-C to stop"
        )

    # uvicorn shuts down gracefully on SIGINT or SIGTERM, then raises the signal again;
    # both then end here, so the caller returns normally instead of being killed.
    with _stop_signals_end_quietly():
        try:
            _Server(config, ready).run(sockets=[sock])
        finally:
            worker.close()
            sock.close()


class _Stopped(Exception):
    pass


@contextlib.contextmanager
def _stop_signals_end_quietly() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signals only reach the main thread; nothing to arrange
        return

    def stop(_signum: int, _frame: object) -> None:
        raise _Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with contextlib.suppress(KeyboardInterrupt, _Stopped):
            yield
    finally:
        signal.signal(signal.SIGTERM, previous)

"""Serving the bot API with cheroot: bind, run, and stop cleanly.

A clean stop (SIGTERM or SIGINT): the listening socket closes (within half a second, the
selector's timeout), requests already handed to a worker thread run to the end and their
answers are sent, idle keep-alive connections are closed, then the worker threads stop. A
second signal stops at once. The signal handlers only set flags: an exception raised in the
middle of cheroot's selector loop (KeyboardInterrupt) could leave its work queue with a lost
wake-up, and a worker thread waiting forever. Every write is one SQLite transaction, so even a hard kill loses nothing that was answered.

cheroot reads each request in a worker thread (its single selector thread only accepts and
watches idle connections), so the holder of the database write lock competes for the GIL with
no busy I/O thread: see docs/benchmarks.md, "Bot API".
"""

from __future__ import annotations

import ipaddress
import json
import logging
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cheroot import errors as cheroot_errors
from cheroot import server as cheroot_server
from cheroot import wsgi

from ..engine.store.writer import Writer
from .app import AuthThrottle, create_app

DRAIN_SECONDS = 30.0
MAX_HEADER_BYTES = 256 * 1024  # request line + headers, as waitress allowed before
IDLE_TIMEOUT = 120  # seconds a connection may stay silent (idle keep-alive or a stalled request)
BACKLOG = 1024
log = logging.getLogger("igctl.botserver")
server_log = logging.getLogger("igctl.server")

# headers only a trusted reverse proxy may set: dropped, as no proxy is trusted (REMOTE_ADDR is
# the peer; bottle would otherwise build URLs from a client's X-Forwarded-Host)
_PROXY_HEADERS = (
    b"X-Forwarded-For",
    b"X-Forwarded-Host",
    b"X-Forwarded-Proto",
    b"X-Forwarded-Port",
    b"X-Forwarded-By",
    b"Forwarded",
)
_REASONS = {"431": "Request Header Fields Too Large"}


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Bound:
    server: object
    addresses: list[tuple[str, int]]
    stopping: threading.Event = field(default_factory=threading.Event)
    hurry: threading.Event = field(default_factory=threading.Event)
    # started by `run()` before it serves, stopped (in reverse) once the last answer is out:
    # the bot API's group-commit writer (engine/store/writer.py), in its own process
    services: list = field(default_factory=list)

    def stop(self) -> None:
        """Ask `run()` (in another thread) to stop cleanly, as a signal would."""
        self.stopping.set()
        self.server._connections._stop_requested = True  # the selector loop ends within expiration_interval

    @property
    def urls(self) -> list[str]:
        return [f"http://[{h}]:{p}" if ":" in h else f"http://{h}:{p}" for h, p in self.addresses]


class _Headers(dict):
    """cheroot keeps the last of repeated headers; a second Content-Length is refused instead
    (which one is the body's length is exactly what request smuggling plays on)."""

    def __setitem__(self, key, value):
        if key == b"Content-Length" and key in self:
            raise ValueError("more than one Content-Length header")  # cheroot answers 400 with it
        super().__setitem__(key, value)


class _Request(cheroot_server.HTTPRequest):
    """cheroot's request with what waitress did on its own: headers over MAX_HEADER_BYTES get
    431, repeated Content-Length 400, untrusted proxy headers are dropped, and a chunked body is
    read whole (up to max_request_body_size, into a spooled file) before the app runs, so the
    app sees a plain body with its Content-Length (bottle would de-chunk it a second time)."""

    def parse_request(self):
        self.inheaders = _Headers()
        self.rfile = cheroot_server.SizeCheckWrapper(self.conn.rfile, self.server.max_request_header_size)
        try:
            if not self.read_request_line():
                return None
        except cheroot_errors.MaxSizeExceeded:
            self.simple_response("414 Request-URI Too Long", "the request line is over the limit")
            return None
        try:
            if not self.read_request_headers():
                return None
        except cheroot_errors.MaxSizeExceeded:
            self.close_connection = True
            self.simple_response(
                "431 Request Header Fields Too Large",
                f"the headers are over the limit of {self.server.max_request_header_size} bytes",
            )
            return None
        for name in _PROXY_HEADERS:
            self.inheaders.pop(name, None)
        self.ready = True
        return True

    def respond(self):
        if not self.chunked_read:
            return super().respond()
        limit = self.server.max_request_body_size
        chunked = cheroot_server.ChunkedRFile(self.conn.rfile, limit)
        body = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 - handed to the app, closed below
        try:
            try:
                while data := chunked.read(64 * 1024):
                    body.write(data)
            except OSError as exc:  # cheroot's ChunkedRFile signals a chunk past the limit so
                if exc.args != ("Request Entity Too Large",):
                    raise
                raise cheroot_errors.MaxSizeExceeded(*exc.args) from None
        except cheroot_errors.MaxSizeExceeded:
            self.simple_response("413 Request Entity Too Large", f"the body is over the limit of {limit} bytes")
            return None
        except ValueError as exc:  # a malformed chunk: the rest of the stream cannot be framed
            self.close_connection = True
            self.simple_response("400 Bad Request", str(exc))
            return None
        size = body.tell()
        body.seek(0)
        self.chunked_read = False
        self.inheaders.pop(b"Transfer-Encoding", None)
        self.inheaders.pop(b"Content-Length", None)  # chunked wins over a Content-Length sent with it
        self.inheaders[b"Content-Length"] = str(size).encode()
        self.rfile = cheroot_server.KnownLengthRFile(body, size)
        # the end of HTTPRequest.respond, on the buffered body
        self.server.gateway(self).respond()
        self.ready and self.ensure_headers_sent()
        if self.chunked_write:
            self.conn.wfile.write(b"0\r\n\r\n")
        return None


class _JsonRequest(_Request):
    """The answers cheroot gives itself, before the app sees a request (a body over
    `max_request_body_size`, a malformed request line, header or chunk, headers too large, an
    app error cheroot catches): JSON like every other answer of the API, not plain text."""

    def simple_response(self, status, msg=""):
        status = str(status)
        code, _, reason = status.partition(" ")
        if code in ("413", "414") and self.response_protocol != "HTTP/1.1":
            code, reason = "400", "Bad Request"  # as cheroot: HTTP/1.0 has neither
        body = json.dumps({"error": (reason or _REASONS.get(code, "error")).lower(), "detail": str(msg)}).encode(
            "utf-8"
        )
        head = [
            f"{self.server.protocol} {code} {reason}\r\n",
            f"Content-Length: {len(body)}\r\n",
            "Content-Type: application/json\r\n",
        ]
        if code in ("400", "413", "414", "431") or code.startswith("5"):
            self.close_connection = True
            if self.response_protocol == "HTTP/1.1":
                head.append("Connection: close\r\n")
        try:
            self.conn.wfile.write("".join(head).encode("ISO-8859-1") + b"\r\n" + body)
        except OSError as exc:
            if exc.args[0] not in cheroot_errors.socket_errors_to_ignore:
                raise


class _Connection(cheroot_server.HTTPConnection):
    RequestHandlerClass = _Request


class _JsonConnection(cheroot_server.HTTPConnection):
    RequestHandlerClass = _JsonRequest


class _Server(wsgi.Server):
    def error_log(self, msg="", level=logging.INFO, traceback=False):
        """cheroot's own notes (a client that vanished, an app error it caught) go to a logger
        instead of straight to stderr."""
        server_log.log(level, "%s", msg, exc_info=traceback)


def build_server(
    app, host: str, port: int, threads: int, *, max_body_bytes: int, ident: str, json_errors: bool
) -> Bound:
    """A cheroot server for `app`, bound (port 0: a free port) with its worker threads started,
    not yet serving. OSError when the address cannot be bound."""
    # server_name: the Server header (and SERVER_NAME of a request without a Host header)
    server = _Server(
        (host, port),
        app,
        numthreads=threads,
        max=threads,
        request_queue_size=BACKLOG,
        timeout=IDLE_TIMEOUT,
        shutdown_timeout=5,
        server_name=ident,
    )
    server.max_request_header_size = MAX_HEADER_BYTES
    server.max_request_body_size = max_body_bytes
    server.ConnectionClass = _JsonConnection if json_errors else _Connection
    server.prepare()  # binds and starts the worker threads; OSError when the port is taken
    bound_host, bound_port = server.bind_addr[:2]
    return Bound(server, [(bound_host, int(bound_port))])


def make_server(ws, host: str, port: int, threads: int, *, throttle: AuthThrottle | None = None) -> Bound:
    """A cheroot server for the bot API over `ws`, bound (port 0: a free port) but not yet
    serving. The workspace's key is checked first, so a wrong key stops start-up with its
    error instead of failing every claim."""
    ws.cipher  # noqa: B018 - load and check the key once, before any request needs it
    writer = Writer(ws, process=True)
    app = create_app(ws, throttle=throttle, writer=writer)
    max_body = int(ws.config.server.max_body_mb * 1024 * 1024)
    # Up to 4x our limit the app answers 413 in JSON itself; beyond, cheroot refuses the body
    # (at once for a Content-Length, as soon as a chunked body passes it) without reading it all.
    bound = build_server(
        app,
        host,
        port,
        threads,
        max_body_bytes=max(4 * max_body, max_body + 1024 * 1024),
        ident="igctl",
        json_errors=True,
    )
    # the bots' writes: grouped, in a process of their own (engine/store/writer.py); SQLite's own
    # automatic checkpoints keep the WAL small (docs/reliability.md, defect 13)
    bound.services = [writer]
    return bound


def handle_signals(bound: Bound) -> dict:
    """From now on SIGTERM and SIGINT (Ctrl-C) stop `bound` cleanly, a second one at once.
    Returns the old handlers. Install them before telling anyone the server is up, so an early
    signal is clean too."""

    def on_signal(signum, frame):
        if bound.stopping.is_set():
            bound.hurry.set()
        else:
            bound.stop()

    return {signum: signal.signal(signum, on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}


def run(
    bound: Bound,
    *,
    drain_seconds: float = DRAIN_SECONDS,
    install_signals: bool = True,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT (or KeyboardInterrupt, or `bound.stop()`), then stop
    cleanly (see module). `on_ready` runs first, inside the same guard, so a signal that comes
    while it announces the server still stops it cleanly."""
    server = bound.server
    previous = handle_signals(bound) if install_signals else {}
    for service in bound.services:
        service.start()
    try:
        try:
            if on_ready is not None:
                on_ready()
            # cheroot's serve() loop, without its 503 thread (the accepted queue is unbounded,
            # so no connection is ever "unservicable") and stoppable from another thread
            while not bound.stopping.is_set():
                server._connections.run(server.expiration_interval)
        except KeyboardInterrupt:
            pass
        log.info("stopping: finishing the requests in progress")
        try:
            drain(bound, drain_seconds)
        except KeyboardInterrupt:
            log.warning("second interrupt: stopping at once")
    finally:
        _close(server, timeout=1.0)
        for service in reversed(bound.services):
            service.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _busy(server) -> int:
    """Requests handed to the worker pool and not yet answered."""
    pool = server.requests
    return pool.qsize + sum(1 for worker in pool._threads if worker.conn is not None)


def drain(bound: Bound, seconds: float) -> None:
    """Stop accepting, let the requests handed to workers finish and their answers go out
    (their keep-alive connections then close); returns when no worker is busy, after
    `seconds`, or at once on a second signal (`bound.hurry`). Connections waiting idle, or whose next request was not yet handed to a
    worker, are closed by `_close` without an answer: their request never ran."""
    server = bound.server
    server._connections._stop_requested = True
    server.ready = False  # a worker that finishes closes its connection instead of keeping it
    sock, server.socket = server.socket, None
    if sock is not None:
        sock.close()
    deadline = time.monotonic() + seconds
    while _busy(server):
        if bound.hurry.is_set():
            log.warning("second signal: stopping at once")
            return
        if time.monotonic() >= deadline:
            log.warning("stopping: %d request(s) still busy after %.0f s", _busy(server), seconds)
            return
        time.sleep(0.02)


def _close(server, timeout: float) -> None:
    """Close the listening socket and every connection left, stop the worker threads (a
    worker still busy after `timeout` has its connection shut for reading)."""
    server.ready = False
    server._connections._stop_requested = True
    sock, server.socket = server.socket, None
    if sock is not None:
        sock.close()
    server._connections.close()
    server.requests.stop(timeout)


def warn_if_exposed(host: str, out=sys.stderr) -> bool:
    if is_loopback(host):
        return False
    print(
        f"Warning: the bot API is bound to {host}, reachable from other machines. Bot tokens and "
        "account passwords travel in plain HTTP: put it behind a TLS reverse proxy or a VPN.",
        file=out,
    )
    return True

"""Serving the bot API with waitress: bind, run, and stop cleanly.

A clean stop (SIGTERM or SIGINT): the listening sockets close at once (no new connections),
requests already received run to the end and their answers are sent, idle keep-alive
connections are closed, then the worker threads stop. A second signal stops at once. Every
write is one SQLite transaction, so even a hard kill loses nothing that was answered.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from waitress import create_server
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.task import ErrorTask

from .app import AuthThrottle, create_app

DRAIN_SECONDS = 30.0
log = logging.getLogger("igctl.botserver")


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

    def stop(self) -> None:
        """Ask `run()` (in another thread) to stop cleanly, as a signal would."""
        self.stopping.set()
        trigger = getattr(self.server, "trigger", None) or getattr(_first_listener(self.server), "trigger", None)
        if trigger is not None:
            try:
                trigger.pull_trigger()
            except OSError:  # already closed
                pass

    @property
    def urls(self) -> list[str]:
        return [f"http://[{h}]:{p}" if ":" in h else f"http://{h}:{p}" for h, p in self.addresses]


class _JsonErrorTask(ErrorTask):
    """The answers waitress gives itself, before the app sees a request (a body over
    `max_request_body_size`, a malformed request line or chunk, headers too large): JSON like
    every other answer of the API, not waitress's plain text."""

    def execute(self):
        err = self.request.error
        body = json.dumps({"error": err.reason.lower(), "detail": err.body}).encode("utf-8")
        self.status = f"{err.code} {err.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _JsonErrorChannel(HTTPChannel):
    error_task_class = _JsonErrorTask


def make_server(ws, host: str, port: int, threads: int, *, throttle: AuthThrottle | None = None) -> Bound:
    """A waitress server for the bot API over `ws`, bound (port 0: a free port) but not yet
    running. The workspace's key is checked first, so a wrong key stops start-up with its
    error instead of failing every claim."""
    ws.cipher  # noqa: B018 - load and check the key once, before any request needs it
    app = create_app(ws, throttle=throttle)
    max_body = int(ws.config.server.max_body_mb * 1024 * 1024)
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="igctl",
        # waitress buffers a whole body before the app sees it. Up to 4x our limit the app
        # answers 413 in JSON; beyond, waitress refuses it itself without buffering it all.
        max_request_body_size=max(4 * max_body, max_body + 1024 * 1024),
        clear_untrusted_proxy_headers=True,
        channel_timeout=120,
    )
    listening = [s for s in _dispatchers(server) if isinstance(s, BaseWSGIServer)] or [server]
    for listener in listening:
        listener.channel_class = _JsonErrorChannel
    addresses = [(s.effective_host, int(s.effective_port)) for s in listening]
    return Bound(server, addresses)


def _map(server) -> dict:
    return server.map if hasattr(server, "map") else server._map


def _dispatchers(server) -> list:
    return list(_map(server).values())


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def handle_sigterm():
    """From now on SIGTERM stops the server as Ctrl-C (SIGINT) does. Returns the old handler.
    Install it before telling anyone the server is up, so an early SIGTERM is clean too."""
    return signal.signal(signal.SIGTERM, _raise_interrupt)


def run(bound: Bound, *, drain_seconds: float = DRAIN_SECONDS, install_signals: bool = True,
        on_ready: Callable[[], None] | None = None) -> None:
    """Serve until SIGTERM or SIGINT (or KeyboardInterrupt), then stop cleanly (see module).
    `on_ready` runs first, inside the same guard, so a signal that comes while it announces
    the server still stops it cleanly."""
    server = bound.server
    previous = None
    if install_signals:
        previous = handle_sigterm()
    try:
        try:
            if on_ready is not None:
                on_ready()
            while not bound.stopping.is_set():
                server.asyncore.loop(timeout=1.0, map=_map(server), use_poll=True, count=1)
        except KeyboardInterrupt:
            pass
        log.info("stopping: finishing the requests in progress")
        try:
            drain(server, drain_seconds)
        except KeyboardInterrupt:
            log.warning("second signal: stopping at once")
    finally:
        dispatcher = getattr(server, "task_dispatcher", None) or _first_task_dispatcher(server)
        if dispatcher is not None:
            dispatcher.shutdown(cancel_pending=True, timeout=5)
        server.asyncore.close_all(_map(server))
        if install_signals and previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _first_listener(server):
    for s in _dispatchers(server):
        if isinstance(s, BaseWSGIServer):
            return s
    return None


def _first_task_dispatcher(server):
    listener = _first_listener(server)
    return listener.task_dispatcher if listener is not None else None


def drain(server, seconds: float) -> None:
    """Stop accepting, let received requests finish and their answers go out, close idle
    connections; returns when no connection is left or after `seconds`."""
    the_map = _map(server)
    for s in _dispatchers(server):
        if isinstance(s, BaseWSGIServer):
            s.accepting = False
            s.del_channel()
            s.socket.close()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        channels = [c for c in list(the_map.values()) if isinstance(c, HTTPChannel)]
        if not channels:
            return
        for c in channels:
            # `received` runs on this thread, so a channel seen without requests here takes
            # no new one: it closes as soon as its last answer is flushed.
            if not c.requests:
                c.close_when_flushed = True
        server.asyncore.loop(timeout=0.05, map=the_map, use_poll=True, count=1)
    log.warning("stopping: %d connection(s) still busy after %.0f s", len(
        [c for c in the_map.values() if isinstance(c, HTTPChannel)]), seconds)


def warn_if_exposed(host: str, out=sys.stderr) -> bool:
    if is_loopback(host):
        return False
    print(
        f"Warning: the bot API is bound to {host}, reachable from other machines. Bot tokens and "
        "account passwords travel in plain HTTP: put it behind a TLS reverse proxy or a VPN.",
        file=out,
    )
    return True

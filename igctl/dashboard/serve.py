"""Serving the dashboard with cheroot, as the bot API is served (igctl/botserver/serve.py):
the same clean stop on SIGTERM or Ctrl-C, its own app."""

from __future__ import annotations

import sys

from igctl.botserver.serve import Bound, build_server, handle_signals, is_loopback, run  # noqa: F401  (re-exported)

from .app import create_app

THREADS = 8


def make_server(ws, host: str, port: int, *, threads: int = THREADS, secure_cookies: bool = False) -> Bound:
    """A cheroot server for the dashboard over `ws`, bound (port 0: a free port), not yet
    serving. The key is checked first: imports and pages need it."""
    ws.cipher  # noqa: B018 - fail at start-up on a wrong key, not on the first import
    app = create_app(ws, secure_cookies=secure_cookies)
    max_upload = int(ws.config.import_.max_file_mb * 1024 * 1024)  # MB means MiB, as for `import`
    # an upload is at most import.max_file_mb plus its form around it; the server's own refusals
    # (a body over that, malformed requests) stay plain text here: a browser shows them as they are
    return build_server(
        app, host, port, threads, max_body_bytes=max_upload + 1024 * 1024, ident="igctl-dashboard", json_errors=False
    )


def warn_if_exposed(host: str, out=sys.stderr) -> bool:
    if is_loopback(host):
        return False
    print(
        f"Warning: the dashboard is bound to {host}, reachable from other machines. The operator password and "
        "session cookie travel in plain HTTP: put it behind a TLS reverse proxy or a VPN (docs/dashboard.md).",
        file=out,
    )
    return True

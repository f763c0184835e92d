"""`igctl serve-bots`: the bot API (product.md §7)."""

from __future__ import annotations

import logging
import sys

import click

from igctl.commands._common import open_workspace, workspace_option


class _StderrLines(logging.Handler):
    """Access-log and server lines on stderr, flushed one by one (journald reads them live)."""

    def emit(self, record):
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - a log line must never take a request down
            self.handleError(record)


def _logging() -> None:
    handler = _StderrLines()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    for name in ("igctl.botserver", "waitress"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False


@click.command("serve-bots")
@click.option("--host", default=None, help="Address to bind (default: server.host in igctl.yaml, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port to bind; 0 picks a free one (default: server.port in igctl.yaml, 8700).")  # fmt: skip
@click.option("--threads", type=click.IntRange(1, 256), default=None,
              help="Worker threads (default: server.threads in igctl.yaml, 16).")  # fmt: skip
@workspace_option
def serve_bots(host, port, threads):
    """Serve the bot API that bot PCs poll for their tasks.

    Prints the address it listens on, then one access-log line per request on stderr (method,
    path, status, milliseconds, bot). SIGTERM or Ctrl-C stops it cleanly: requests in progress
    finish and are answered first."""
    from igctl.botserver import serve

    ws = open_workspace()
    settings = ws.config.server
    host = host or settings.host
    port = settings.port if port is None else port
    threads = threads or settings.threads
    serve.warn_if_exposed(host)
    try:
        bound = serve.make_server(ws, host, port, threads)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    _logging()  # only once it serves: a refused start leaves the process's logging as it was
    serve.handle_sigterm()

    def announce():
        for url in bound.urls:
            click.echo(f"Serving the bot API on {url} ({threads} threads, workspace {ws.path}); SIGTERM or Ctrl-C stops it.")
        sys.stdout.flush()

    serve.run(bound, install_signals=False, on_ready=announce)
    click.echo("Stopped.")


COMMANDS = [serve_bots]

"""`igctl serve-bots`: the bot API (product.md §7)."""

from __future__ import annotations

import sys

import click

from igctl.commands._common import log_to_stderr, open_workspace, workspace_option


@click.command("serve-bots")
@click.option("--host", default=None, help="Address to bind (default: server.host in igctl.yaml, 127.0.0.1).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port to bind; 0 picks a free one (default: server.port in igctl.yaml, 8700).",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=None,
    help="Worker threads (default: server.threads in igctl.yaml, 16).",
)
@workspace_option
def serve_bots(host, port, threads):
    """Serve the bot API that bot PCs poll for their tasks.

    Prints the address it listens on, then one access-log line per request on stderr (method,
    path, status, milliseconds, bot). SIGTERM or Ctrl-C stops it cleanly: requests in progress
    finish and are answered first. The bots' claims and reports are written by a second
    process it starts (igctl.engine.store.writer_child), which ends with it and is replaced
    at once if it dies (logged; GET /api/health shows it)."""
    from igctl.botserver import serve  # start-up time: loaded when the command runs

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
    log_to_stderr(
        "igctl.botserver", "igctl.server"
    )  # only once it serves: a refused start leaves the process's logging as it was
    serve.handle_signals(bound)  # before it is announced: an early signal stops it cleanly too

    def announce():
        for url in bound.urls:
            click.echo(
                f"Serving the bot API on {url} ({threads} threads, workspace {ws.path}); SIGTERM or Ctrl-C stops it."
            )
        sys.stdout.flush()

    serve.run(bound, install_signals=False, on_ready=announce)
    click.echo("Stopped.")


COMMANDS = [serve_bots]

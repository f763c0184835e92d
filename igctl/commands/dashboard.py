"""`igctl dashboard`: the operator's web dashboard (product.md §10) and its password."""

from __future__ import annotations

import sys

import click

from igctl.commands._common import actor, changing, log_to_stderr, open_workspace, workspace_option
from igctl.engine.store.errors import InvalidInput


@click.group("dashboard", invoke_without_command=True)
@click.option("--host", default=None, help="Address to bind (default: dashboard.host in igctl.yaml, 127.0.0.1).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port to bind; 0 picks a free one (default: dashboard.port in igctl.yaml, 8701).",
)
@click.option(
    "--secure-cookie", is_flag=True, help="Mark the session cookie Secure (when a TLS reverse proxy is in front of it)."
)
@workspace_option
@click.pass_context
def dashboard(ctx, host, port, secure_cookie):
    """The operator's web dashboard: models, accounts, proxies, bots, review, report, import.

    Without a subcommand it serves the dashboard (127.0.0.1:8701 by default) until SIGTERM or
    Ctrl-C, one access-log line per request on stderr. Set the password first with
    `igctl dashboard set-password`."""
    if ctx.invoked_subcommand is not None:
        return
    from igctl.dashboard import serve  # start-up time: loaded when the command runs
    from igctl.engine.domain import operators

    ws = open_workspace()
    if not operators.has_password(ws):
        raise InvalidInput("no dashboard password is set: run `igctl dashboard set-password` first")
    host = host or ws.config.dashboard.host
    port = ws.config.dashboard.port if port is None else port
    log_to_stderr("igctl.dashboard", "igctl.server")
    serve.warn_if_exposed(host)
    try:
        bound = serve.make_server(ws, host, port, secure_cookies=secure_cookie)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    serve.handle_signals(bound)  # before it is announced: an early signal stops it cleanly too

    def announce():
        for url in bound.urls:
            click.echo(f"Serving the dashboard on {url} (workspace {ws.path}); SIGTERM or Ctrl-C stops it.")
        sys.stdout.flush()

    serve.run(bound, install_signals=False, on_ready=announce)
    click.echo("Stopped.")


def _read_twice() -> tuple[str, str]:
    if sys.stdin.isatty():
        first = click.prompt("New dashboard password", hide_input=True)
        second = click.prompt("Repeat it", hide_input=True)
        return first, second
    lines = sys.stdin.read().splitlines()
    if len(lines) < 2:
        raise InvalidInput("give the new password twice, one line each, on standard input")
    return lines[0], lines[1]


@dashboard.command("set-password")
@workspace_option
def set_password():
    """Set the operator password of the dashboard: asked twice (read as two lines from standard
    input when it is not a terminal), never taken from an argument. Ends every open session."""
    from igctl.engine.domain import operators  # start-up time: loaded when the command runs

    first, second = _read_twice()
    if first != second:
        raise InvalidInput("the two passwords differ; nothing was changed")
    with changing("dashboard set-password") as change:
        result = operators.set_password(change.ws, first, actor=actor())
    verb = "changed" if result["replaced"] else "set"
    click.echo(
        f"Dashboard password {verb}"
        + (f"; {result['sessions_ended']} session(s) ended." if result["sessions_ended"] else ".")
    )


COMMANDS = [dashboard]

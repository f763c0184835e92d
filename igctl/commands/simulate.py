"""`igctl bots simulate`: simulated bots that drive a running `igctl serve-bots` over HTTP."""

from __future__ import annotations

import json
import re
import secrets
import sys
from pathlib import Path

import click

from igctl.commands._common import actor, changing, json_option, open_workspace, print_json, print_rows
from igctl.commands._options import workspace_option
from igctl.engine.flows.botwork import ERROR_KINDS

WORK_MS = re.compile(r"^\s*(\d{1,7})\s*(?:-\s*(\d{1,7})\s*)?$")


def _work_ms(ctx, param, value):
    m = WORK_MS.match(value or "")
    if not m:
        raise click.BadParameter("expected MIN-MAX in milliseconds, e.g. 20-200 (or one number)")
    low = int(m.group(1))
    high = int(m.group(2)) if m.group(2) is not None else low
    if high < low:
        raise click.BadParameter(f"MAX ({high}) must be at least MIN ({low})")
    return low, high


def _error_kinds(ctx, param, value):
    kinds = tuple(k.strip() for k in value.split(",") if k.strip())
    unknown = [k for k in kinds if k not in ERROR_KINDS]
    if not kinds or unknown:
        raise click.BadParameter(
            f"unknown error kind(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(ERROR_KINDS)}"
        )
    return kinds


def read_tokens(path: Path) -> list[str]:
    """Tokens, one a line: a bare token, or a JSON object with "token" (`igctl bot add --json`
    output, one per line). Blank lines and # comments are skipped."""
    from igctl.engine.store.errors import InvalidInput  # start-up time: loaded when the command runs

    tokens = []
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("{"):
            try:
                token = json.loads(line)["token"]
            except (ValueError, KeyError, TypeError):
                raise InvalidInput(f'{path}, line {number}: a JSON line must be an object with a "token"') from None
        else:
            token = line
        if not isinstance(token, str) or not re.fullmatch(r"[A-Za-z0-9._~+/=-]{8,256}", token):
            raise InvalidInput(f"{path}, line {number}: not a bot token")
        tokens.append(token)
    if not tokens:
        raise InvalidInput(f"{path} holds no token")
    return tokens


@click.group("bots")
def bots():
    """Simulated bots that drive a running serve-bots over HTTP, to try the pipeline without phones."""


@bots.command("simulate")
@click.option(
    "--bots",
    "count",
    type=click.IntRange(1, 256),
    default=3,
    show_default=True,
    help="Simulated bots to register and run (ignored with --token-file).",
)
@click.option(
    "--failure-rate",
    type=click.FloatRange(0, 1),
    default=0.1,
    show_default=True,
    help="Share of tasks reported as failed, with a random error kind.",
)
@click.option(
    "--duration", type=click.FloatRange(0, min_open=True), default=60, show_default=True, help="Seconds to run."
)
@click.option(
    "--server", "server_url", metavar="URL", help="The bot API (default: http://HOST:PORT from server: in igctl.yaml)."
)
@click.option(
    "--token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Use these bots' tokens (one a line, or `bot add --json` lines) instead of registering new bots.",
)
@click.option(
    "--work-ms",
    default="20-200",
    show_default=True,
    callback=_work_ms,
    metavar="MIN-MAX",
    help='How long each task "works", drawn between MIN and MAX milliseconds.',
)
@click.option(
    "--error-kinds",
    default=",".join(ERROR_KINDS),
    callback=_error_kinds,
    metavar="K1,K2",
    help="Error kinds to draw failures from (default: all nine).",
)
@click.option("--slots", type=click.IntRange(1), default=None, help="Slots of each registered bot (default: no limit).")
@click.option("--max-tasks", type=click.IntRange(1), default=None, help="Stop once this many tasks were completed.")
@click.option(
    "--until-idle",
    type=click.FloatRange(0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Stop once every bot has found nothing to do for this long.",
)
@click.option("--seed", type=int, default=None, help="Seed of the random draws, for a repeatable run.")
@json_option
@workspace_option
def simulate(
    count,
    failure_rate,
    duration,
    server_url,
    token_file,
    work_ms,
    error_kinds,
    slots,
    max_tasks,
    until_idle,
    seed,
    json_,
):
    """Run simulated bots against a running `igctl serve-bots`: each claims tasks, fetches their
    content and images, works a random short time, then completes or fails them, heartbeats and
    reports metrics. Prints a live summary on a terminal and a table per bot at the end."""
    from igctl.botclient import ApiError, BotClient  # start-up time: loaded when the command runs
    from igctl.engine.store.errors import InvalidInput
    from igctl.simulation import Settings, Simulation

    ws = None
    if token_file is None or server_url is None:
        ws = open_workspace()
    if server_url is None:
        host = ws.config.server.host
        host = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
        server_url = f"http://{host}:{ws.config.server.port}"
    try:
        probe = BotClient(server_url, "-", retries=1, timeout=10, backoff=0.2)
        probe.health()
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    except ApiError as exc:
        raise InvalidInput(
            f"no bot API answers at {server_url} ({exc.error}); start it with `igctl serve-bots`"
        ) from None

    if token_file is not None:
        tokens = read_tokens(token_file)
    else:
        from igctl.engine.domain import bots as engine_bots  # start-up time: loaded when the command runs

        prefix = f"sim-{secrets.token_hex(3)}"
        with changing("bots simulate"):
            tokens = [
                engine_bots.add(ws, f"{prefix}-{i}", slots=slots, actor=actor())["token"] for i in range(1, count + 1)
            ]
        if not json_:
            click.echo(f"Registered {count} simulated bot(s): {prefix}-1 … {prefix}-{count}", err=True)
    for number, token in enumerate(tokens, start=1):
        try:
            BotClient(server_url, token, retries=1).me()
        except ApiError as exc:
            raise InvalidInput(f"token {number} is not accepted by {server_url}: {exc.error}") from None

    settings = Settings(
        duration=duration,
        failure_rate=failure_rate,
        work_ms=work_ms,
        error_kinds=error_kinds,
        max_completed=max_tasks,
        stop_when_idle=until_idle,
        seed=seed,
    )
    sim = Simulation(server_url, tokens, settings)
    live = not json_ and sys.stderr.isatty()

    def on_tick(c, elapsed):
        if live:
            sys.stderr.write(
                f"\r{elapsed:6.1f}s  claimed {c.claimed}  completed {c.completed}  failed {c.failed}  "
                f"idle {c.idle}  conflicts {c.conflicts}  errors {c.errors}   "
            )
            sys.stderr.flush()

    results = sim.run(on_tick=on_tick)
    if live:
        sys.stderr.write("\n")
    rows = [{"bot": r.name, "bot_id": r.bot_id, **r.counts.as_dict(), "error": r.error} for r in results]
    total = {k: sum(r[k] for r in rows) for k in rows[0] if k not in ("bot", "bot_id", "error")}
    if json_:
        print_json({"server": server_url, "bots": rows, "total": total})
        return
    columns = [
        "bot",
        "claimed",
        "completed",
        "failed",
        "conflicts",
        "idle",
        "images",
        "screenshots",
        "metrics",
        "heartbeats",
        "errors",
    ]
    print_rows(rows + [{"bot": "total", **total}], columns)
    for r in rows:
        if r["error"]:
            click.echo(f"{r['bot']} stopped: {r['error']}", err=True)


COMMANDS = [bots]

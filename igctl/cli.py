"""The root `igctl` group.

Command modules are imported only when their command runs, so `igctl --help` and a small
listing start fast (every module pulls in parts of the engine, pydantic, tabulate or bottle).
COMMANDS maps each top-level command to the module and attribute that define it, with its
one-line help for the root `--help`; tests/test_cli_docs.py checks that the line equals the
command's own help, so the two cannot drift.
"""

from __future__ import annotations

import importlib

import click

from igctl import __version__
from igctl.commands._options import workspace_option

# name → (module, attribute, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("igctl.commands.setup", "init", "Create a new workspace in PATH (a new or empty folder)."),
    "accounts": ("igctl.commands.accounts", "accounts", "Instagram accounts: import, list, show, update, retire."),
    "proxy": ("igctl.commands.proxy", "proxy", "Proxies: add and import them, see their use, put accounts on them."),
    "warmup": ("igctl.commands.warmup", "warmup", "The warm-up: the cron tick, the pipeline and each account's plan."),
    "review": (
        "igctl.commands.review",
        "review",
        "Needs attention: accounts in human review, without a proxy or on a bad proxy, silent bots, failed "
        "operations and content problems; and retrying or resolving stuck steps.",
    ),
    "model": (
        "igctl.commands.model",
        "model",
        "Models: create one with its strategy and content folder, assign ready accounts, watch them work, "
        "unassign or delete (accounts go through cleanup back to ready).",
    ),
    "content": (
        "igctl.commands.content",
        "content",
        "Images and texts: content/_templates/ for warm-up, content/<model>/ for each model.",
    ),
    "bot": ("igctl.commands.bot", "bot", "Bot identities: one per PC with its phone, each with its own API token."),
    "serve-bots": ("igctl.commands.serve", "serve_bots", "Serve the bot API that bot PCs poll for their tasks."),
    "bots": (
        "igctl.commands.simulate",
        "bots",
        "Simulated bots that drive a running serve-bots over HTTP, to try the pipeline without phones.",
    ),
    "report": (
        "igctl.commands.report",
        "report",
        "Analytics: accounts per state, warm-up success and duration per step, the conversion funnel, proxy "
        "utilisation, bots, models and errors.",
    ),
    "dashboard": (
        "igctl.commands.dashboard",
        "dashboard",
        "The operator's web dashboard: models, accounts, proxies, bots, review, report, import.",
    ),
    "demo": (
        "igctl.commands.demo",
        "demo",
        "A throw-away workspace taken through the whole lifecycle by simulated bots.",
    ),
    "log": ("igctl.commands.log", "log", "The event log: state changes, bot actions, errors, commands, proxy changes."),
    "secrets": ("igctl.commands.secrets", "secrets", "The key that encrypts every stored password."),
    "watch": (
        "igctl.commands.watch",
        "watch",
        "Import files dropped into inbox/accounts/ and inbox/proxies/: each once complete and at most once (by "
        "content hash), then moved to inbox/processed/ (with a .result.json) or inbox/failed/ (with an "
        ".error.txt).",
    ),
}


def _shorten(text: str, limit: int) -> str:
    """A one-line help cut at a word boundary to `limit` characters, as click shortens them."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 3].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "..."


class IgctlGroup(click.Group):
    """Loads commands lazily, and turns expected (domain) errors into `Error: …` and exit 1;
    bugs keep their traceback."""

    def list_commands(self, ctx):
        return sorted(name for name in COMMANDS if self.get_command(ctx, name) is not None)

    def get_command(self, ctx, name):
        spec = COMMANDS.get(name)
        if spec is None:
            return None
        module, attribute, _ = spec
        return getattr(importlib.import_module(module), attribute, None)

    def format_commands(self, ctx, formatter):
        # The root help lists every command without importing any of them.
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [(name, _shorten(help_, limit)) for name, (_, _, help_) in sorted(COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def make_context(self, info_name, args, parent=None, **extra):
        # The arguments as given, for the `command` event (sys.argv is not them under CliRunner).
        argv = list(args)
        ctx = super().make_context(info_name, args, parent=parent, **extra)
        ctx.meta["igctl.argv"] = argv
        return ctx

    def invoke(self, ctx):
        from igctl.engine.store.errors import IgctlError, UsageError  # start-up time: loaded when the command runs

        try:
            return super().invoke(ctx)
        except UsageError as exc:
            leaf = ctx.meta.get("igctl.leaf", ctx)
            raise click.UsageError(with_options(exc.message, exc.about), leaf) from None
        except IgctlError as exc:
            raise click.ClickException(with_options(exc.message, exc.about)) from None


# The command line's control for each input an engine error can be about (errors.IgctlError.about):
# the engine speaks of things, the CLI adds where to give them. Every command spells an input the
# same way, so one table serves them all.
OPTIONS = {
    "reason": "--reason TEXT",
    "note": "--note TEXT",
    "count": "--count N",
    "usernames": "USERNAME…",
    "all": "--all",
    "reassign": "--reassign",
    "max_retries": "--max-retries N",
    "min_followers": "--min-followers N",
    "slots": "--slots N",
    "limit": "--limit N",
    "since": "--since",
    "until": "--until",
    "proxy_ids": "PROXY_ID…",
    "email": "--email E",
    "password": "--password-stdin",
    "email_password": "--email-password-stdin",
}


def with_options(message: str, about: tuple[str, ...]) -> str:
    """An engine error's message with the options it is about: "... (--reason TEXT)"."""
    options = [OPTIONS[name] for name in about if name in OPTIONS]
    return f"{message} ({', '.join(options)})" if options else message


@click.group("igctl", cls=IgctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="igctl")
@workspace_option
def cli():
    """igctl runs a fleet of Instagram accounts through import, proxies, a 5-day warm-up,
    models and cleanup, for bot PCs that poll its API. It never talks to Instagram itself."""


def main() -> None:
    cli(prog_name="igctl")

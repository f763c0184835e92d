"""`igctl model`: models (personas/campaigns), their strategies, accounts and pages."""

from __future__ import annotations

import sys

import click

from igctl.commands._common import (
    actor,
    changing,
    json_option,
    open_workspace,
    output_options,
    print_json,
    print_rows,
    workspace_option,
)
from igctl.engine.flows import models
from igctl.engine.store.clock import show as show_time
from igctl.engine.store.errors import InvalidInput
from igctl.engine.views import models as model_views


@click.group("model")
def model():
    """Models: create one with its strategy and content folder, assign ready accounts, watch
    them work, unassign or delete (accounts go through cleanup back to ready)."""


@model.command("create")
@click.argument("name")
@click.option(
    "--strategy",
    "strategy_file",
    type=click.Path(dir_okay=False),
    help="A strategy YAML file to use (default: the commented example, i.e. every default).",
)
@click.option("--display-name", help="How the model is shown (default: its name); not with --strategy.")
@json_option
@workspace_option
def create(name, strategy_file, display_name, json_):
    """Create model NAME: models/<slug>.yaml and content/<slug>/ (pfp, post, story, highlight,
    any, texts.yaml)."""
    with changing("model create", model=name) as change:
        result = model_views.model_summary(
            change.ws,
            models.create(change.ws, name, strategy_file=strategy_file, display_name=display_name, actor=actor()),
        )
    if json_:
        print_json(result)
        return
    click.echo(f"Model {result['name']} created.")
    click.echo(f"  strategy: {result['strategy_file']}  (edit, then: igctl model sync {_quote(result['name'])})")
    click.echo(f"  content:  content/{result['slug']}/  (add files, then: igctl content sync {_quote(result['name'])})")


def _quote(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else repr(name)


@model.command("sync")
@click.argument("name")
@json_option
@workspace_option
def sync(name, json_):
    """Apply NAME's edited strategy file and sync its content folder."""
    with changing("model sync", model=name) as change:
        result = models.sync(change.ws, name, actor=actor())
    if json_:
        print_json(result)
        return
    click.echo(f"{result['model']}: strategy {'applied (changed)' if result['strategy_changed'] else 'unchanged'}.")
    pool = result["content"]
    if pool:
        click.echo(
            f"content: images {pool['images_added']} new, {pool['images_changed']} changed, {pool['images_retired']} retired; "
            f"texts {pool['texts_added']} new, {pool['texts_retired']} retired"
        )
        for item in pool["refused"]:
            click.echo(f"  refused {item['path']}: {item['reason']}")
        for item in pool["skipped"]:
            click.echo(f"  skipped {item['path']}: {item['reason']}")


LIST_COLUMNS = [
    "name",
    "active",
    "onboarding",
    "cleanup",
    "human_review",
    "proxies",
    "tasks_done_7d",
    "tasks_failed_7d",
    "content_images",
    "content_texts",
    "followers_total",
    "followers_change_7d",
]


@model.command("list")
@click.option("--archived", is_flag=True, help="Also list deleted (archived) models.")
@output_options
@workspace_option
def list_(archived, json_, csv_):
    """The models dashboard: one row a model with its accounts, last 7 days' tasks, content and
    followers."""
    ws = open_workspace()
    rows = model_views.list_models(ws, include_archived=archived)
    if json_ or csv_:
        print_rows(rows, json_=json_, csv_=csv_)
        return
    table = [{**r, "name": r["name"] + (" (archived)" if r["archived_at"] else "")} for r in rows]
    print_rows(
        table,
        LIST_COLUMNS,
        empty="(no models: igctl model create NAME)",
        headers={
            "tasks_done_7d": "done 7d",
            "tasks_failed_7d": "failed 7d",
            "content_images": "images",
            "content_texts": "texts",
            "followers_total": "followers",
            "followers_change_7d": "7d change",
            "human_review": "review",
        },
    )


@model.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@workspace_option
def delete(name, yes, json_):
    """Delete model NAME: it is archived (history, strategy file and content stay) and each of
    its accounts goes through cleanup back to ready."""
    ws = open_workspace()
    if not yes:
        if json_ or not sys.stdin.isatty():
            raise InvalidInput("model delete sends every account of the model to cleanup: confirm with --yes")
        click.confirm(f"Delete model {name} and send its accounts to cleanup?", abort=True)
    with changing("model delete", model=name):
        result = models.delete(ws, name, actor=actor())
    if json_:
        print_json(result)
        return
    click.echo(f"Model {result['model']} deleted (archived). {len(result['cleanup'])} account(s) sent to cleanup.")
    if result["reassign_cancelled"]:
        click.echo("No longer joining it (stay ready): " + ", ".join(result["reassign_cancelled"]))


@model.command("assign")
@click.argument("name")
@click.argument("usernames", nargs=-1)
@click.option("--count", type=int, help="Assign the N best eligible ready accounts.")
@click.option("--location", help="Only accounts whose proxy is in this location.")
@click.option("--max-retries", type=int, help="Only accounts with at most K failed warm-up attempts.")
@click.option("--min-followers", type=int, help="Only accounts whose bots reported at least F followers.")
@click.option(
    "--reassign", is_flag=True, help="Named accounts active in another model go through cleanup, then join this one."
)
@click.option("--dry-run", is_flag=True, help="Show what would be assigned and change nothing.")
@json_option
@workspace_option
def assign(name, usernames, count, location, max_retries, min_followers, reassign, dry_run, json_):
    """Assign ready accounts to model NAME: --count N, or USERNAME… . Each one skipped is listed
    with the reason; onboarding starts at once."""
    with changing("model assign", dry_run=dry_run, model=name) as change:
        result = models.assign(
            change.ws,
            name,
            usernames=list(usernames) or None,
            count=count,
            location=location,
            max_retries=max_retries,
            min_followers=min_followers,
            reassign=reassign,
            actor=actor(),
        )
        change.note(assigned=len(result["assigned"]), dry_run=dry_run)
    if json_:
        print_json(result)
        return
    if dry_run:
        click.echo("Dry run: nothing was changed.")
    verb = "would be assigned" if dry_run else "assigned"
    click.echo(
        f"{len(result['assigned'])} account(s) {verb} to {result['model']}"
        + (": " + ", ".join(result["assigned"]) if result["assigned"] else "")
    )
    if result["reassigning"]:
        click.echo("through cleanup first, then joining: " + ", ".join(result["reassigning"]))
    if count is not None and len(result["assigned"]) < count:
        click.echo(f"(asked for {count}; only {len(result['assigned'])} eligible)")
    for s in result["skipped"]:
        click.echo(f"  skipped {s['username']}: {s['reason']}")


@model.command("unassign")
@click.argument("name")
@click.argument("usernames", nargs=-1, required=True)
@json_option
@workspace_option
def unassign(name, usernames, json_):
    """Take accounts out of model NAME: each goes to cleanup (reset_pfp, reset_bio,
    delete_posts), then back to ready."""
    with changing("model unassign", model=name) as change:
        result = models.unassign(change.ws, name, list(usernames), actor=actor())
    if json_:
        print_json(result)
        return
    click.echo(
        f"{len(result['cleanup'])} account(s) of {result['model']} sent to cleanup: " + ", ".join(result["cleanup"])
    )


@model.command("show")
@click.argument("name")
@click.option(
    "--view",
    type=click.Choice(model_views.VIEWS),
    default="overview",
    show_default=True,
    help="overview: its accounts; available: ready accounts it may take; pipeline: warm-up, onboarding "
    "and cleanup; proxies: its proxies and free ones; attention: what needs a person.",
)
@click.option("--location", help="available: only accounts whose proxy is in this location.")
@click.option("--max-retries", type=int, help="available: mark accounts with more failed warm-up attempts.")
@click.option("--min-followers", type=int, help="available: mark accounts with fewer reported followers.")
@output_options
@workspace_option
def show(name, view, location, max_retries, min_followers, json_, csv_):
    """The model accounts page of NAME, one view at a time (default: overview)."""
    ws = open_workspace()
    summary, data = model_views.show(
        ws, name, view, location=location, max_retries=max_retries, min_followers=min_followers
    )
    if json_:
        print_json(data)
        return
    if csv_:
        print_rows(_flat(view, data), csv_=True)
        return
    tz = ws.tz
    click.echo(
        f"{summary['display_name']} ({summary['name']})"
        + (" — archived" if summary["archived_at"] else "")
        + f": {summary['active']} active, {summary['onboarding']} onboarding, {summary['cleanup']} in cleanup, "
        f"{summary['human_review']} in review"
    )
    click.echo("")
    if view == "overview":
        rows = [
            {
                **r,
                "task": " ".join(x for x in (r["task_kind"], r["task_step"], r["task_status"]) if x),
                "due": show_time(r["task_due_at"], tz),
                "last action": show_time(r["last_bot_action_at"], tz),
            }
            for r in data
        ]
        print_rows(
            rows,
            ["username", "phase", "proxy_id", "bot", "task", "due", "last action", "followers", "followers_change_7d"],
            headers={"followers_change_7d": "7d change"},
            empty="(no accounts: igctl model assign NAME --count N)",
        )
    elif view == "available":
        rows = [{**r, "eligible": "yes" if r["eligible"] else f"no: {r['reason']}"} for r in data]
        print_rows(
            rows,
            ["username", "proxy_id", "proxy_location", "warmup_hours", "warmup_retries", "followers", "eligible"],
            empty="(no ready accounts)",
        )
    elif view == "pipeline":
        click.echo("Warm-up (fleet-wide):")
        rows = [{**r, "due": show_time(r["due_at"], tz)} for r in data["warmup"]["accounts"]]
        print_rows(
            rows,
            ["username", "step_number", "step_name", "step_status", "due", "attempts", "proxy_location", "last_error"],
            empty="(none in warm-up)",
        )
        for section in ("onboarding", "cleanup"):
            click.echo(f"\n{section.capitalize()}:")
            rows = [
                {**r, "step": f"{r['step_number']}/{r['steps']} {r['step_name']}", "due": show_time(r["due_at"], tz)}
                for r in data[section]
            ]
            print_rows(rows, ["username", "step", "status", "due", "attempts", "last_error"], empty="(none)")
    elif view == "proxies":
        click.echo("This model's proxies:")
        rows = [{**p, "accounts": ", ".join(p["accounts"])} for p in data["model_proxies"]]
        print_rows(rows, ["id", "host", "port", "location", "status", "account_count", "max_accounts", "accounts"])
        click.echo("\nFree proxies with room:")
        print_rows(data["free_proxies"], ["id", "host", "port", "location", "account_count", "max_accounts"])
        click.echo("\nProxies by model:")
        print_rows(data["proxy_models"], ["proxy_id", "host", "port", "location", "model", "account_count", "status"])
    else:
        rows = [{**r, "since": show_time(r["since"], tz)} for r in data]
        print_rows(rows, ["kind", "username", "state", "since", "message"], empty="(nothing needs attention)")


def _flat(view: str, data) -> list[dict]:
    """The rows of a view for CSV: multi-part views get a `section` column (and every column of
    every part)."""
    if view == "pipeline":
        rows = [{"section": "warmup", **r} for r in data["warmup"]["accounts"]] + [
            {"section": s, **r} for s in ("onboarding", "cleanup") for r in data[s]
        ]
    elif view == "proxies":
        rows = [
            {"section": part, **p} for part in ("model_proxies", "free_proxies", "proxy_models") for p in data[part]
        ]
    else:
        return data
    keys = list(dict.fromkeys(k for r in rows for k in r))
    return [{k: r.get(k) for k in keys} for r in rows]


COMMANDS = [model]

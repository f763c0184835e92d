"""`igctl content`: content folders ⇄ database."""

from __future__ import annotations

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
from igctl.engine.domain import content as engine_content
from igctl.engine.store.clock import show


@click.group("content")
def content():
    """Images and texts: content/_templates/ for warm-up, content/<model>/ for each model."""


@content.command("sync")
@click.argument("model", required=False)
@json_option
@workspace_option
def sync(model, json_):
    """Register new and changed files and texts, retire removed ones (never deleted).

    MODEL is a model's name or _templates; without it, the templates and every model."""
    ws = open_workspace()
    scanned = engine_content.scan(ws, model)  # hashing happens here, outside the write lock
    with changing("content sync"):
        result = engine_content.apply(ws, scanned, actor=actor())
    if json_:
        print_json(result)
        return
    for pool in result["pools"]:
        click.echo(
            f"{pool['model']}: images {pool['images_added']} new, {pool['images_changed']} changed, "
            f"{pool['images_restored']} restored, {pool['images_retired']} retired, {pool['images_unchanged']} unchanged; "
            f"texts {pool['texts_added']} new, {pool['texts_restored']} restored, {pool['texts_retired']} retired, "
            f"{pool['texts_unchanged']} unchanged"
        )
        for item in pool["refused"]:
            click.echo(f"  refused {item['path']}: {item['reason']}")
        for item in pool["skipped"]:
            click.echo(f"  skipped {item['path']}: {item['reason']}")


def _short(text, width=60):
    if text is None:
        return ""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@content.command("list")
@click.argument("model")
@click.option("--include-retired", is_flag=True, help="Also list retired rows (removed or replaced files and texts).")
@output_options
@workspace_option
def list_(model, include_retired, json_, csv_):
    """The content of MODEL (a model's name, or _templates): images and texts with their use."""
    ws = open_workspace()
    rows = engine_content.list_content(ws, model, include_retired=include_retired)
    if json_ or csv_:
        print_rows(rows, json_=json_, csv_=csv_)
        return
    table = [
        {
            **r,
            "item": r["path"] if r["kind"] == "image" else _short(r["text"]),
            "active": "yes" if r["active"] else f"retired {show(r['retired_at'], ws.tz)}",
        }
        for r in rows
    ]
    print_rows(
        table,
        ["content_id", "type", "kind", "item", "order_priority", "usage_count", "active"],
        headers={"content_id": "id", "order_priority": "priority", "usage_count": "used"},
        empty=f"(no content for {model}; put files in its folder and run `igctl content sync`)",
    )


@content.command("add")
@click.argument("model")
@click.argument("content_type", metavar="TYPE")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@json_option
@workspace_option
def add(model, content_type, files, json_):
    """Copy images into MODEL's TYPE folder and register them (an existing name is refused).

    A .txt FILE adds its lines (one text a line, blank lines skipped) to the TYPE list of the
    model's texts.yaml, e.g. `igctl content add alice bio bios.txt`."""
    with changing("content add") as change:
        result = engine_content.add(change.ws, model, content_type, list(files), actor=actor())
    if json_:
        print_json(result)
        return
    for image in result["images"]:
        click.echo(f"added {image['path']} (content id {image['content_id']})")
    if result["texts_added"]:
        click.echo(f"added {result['texts_added']} {content_type} text(s) to {result['model']}'s texts.yaml")
    for text in result["texts_already_there"]:
        click.echo(f"already there: {_short(text)}")


COMMANDS = [content]

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

    MODEL is a model's name, _templates (every template set) or _templates/SET; without it,
    every template set and every model. A disabled item stays disabled."""
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


def _pool_rows(rows):
    return [
        {
            **r,
            "sets_models": ", ".join(r["models"]) if r["kind"] == "set" else "",
        }
        for r in rows
    ]


def _print_pools(rows, json_, csv_):
    if json_ or csv_:
        print_rows(rows, json_=json_, csv_=csv_)
        return
    print_rows(
        _pool_rows(rows),
        ["pool", "kind", "images", "texts", "disabled", "sets_models"],
        headers={"sets_models": "listed by"},
        empty="(no pools)",
    )


@content.command("list")
@click.argument("model", required=False)
@click.option("--include-retired", is_flag=True, help="Also list retired rows (removed or replaced files and texts).")
@output_options
@workspace_option
def list_(model, include_retired, json_, csv_):
    """The content of MODEL (a model's name, _templates or _templates/SET): images and texts with their use.

    Without MODEL: every pool (the default template set, each named set, each model) with its
    image and text counts."""
    ws = open_workspace()
    if model is None:
        _print_pools(engine_content.pools(ws), json_, csv_)
        return
    rows = engine_content.list_content(ws, model, include_retired=include_retired)
    if json_ or csv_:
        print_rows(rows, json_=json_, csv_=csv_)
        return
    table = [
        {
            **r,
            "item": r["path"] if r["kind"] == "image" else _short(r["text"]),
            "active": ("disabled" if r["disabled"] else "yes")
            if r["active"]
            else f"retired {show(r['retired_at'], ws.tz)}",
        }
        for r in rows
    ]
    print_rows(
        table,
        ["content_id", "type", "kind", "item", "order_priority", "usage_count", "active"],
        headers={"content_id": "id", "order_priority": "priority", "usage_count": "used"},
        empty=f"(no content for {model}; put files in its folder and run `igctl content sync`)",
    )


@content.command("sets")
@output_options
@workspace_option
def sets(json_, csv_):
    """The template sets: the default one (content/_templates/) and each named one, with counts
    and the models whose strategy lists it."""
    _print_pools(engine_content.pools(open_workspace(), kind="sets"), json_, csv_)


@content.command("set-create")
@click.argument("name")
@json_option
@workspace_option
def set_create(name, json_):
    """Create template set NAME: content/_templates/NAME/ with its type folders and texts.yaml.

    A folder of that name that is there already is adopted and synced. A model draws from the
    set when its strategy lists it: `templates: [NAME]`."""
    with changing("content set-create", set=name) as change:
        result = engine_content.create_set(change.ws, name, actor=actor())
    if json_:
        print_json(result)
        return
    done = result["sync"]
    click.echo(
        f"template set {result['set']} created in {result['folder']}"
        + (f" (adopted: {done['images_added']} image(s), {done['texts_added']} text(s))" if result["adopted"] else "")
    )


@content.command("set-rename")
@click.argument("old")
@click.argument("new")
@json_option
@workspace_option
def set_rename(old, new, json_):
    """Rename template set OLD to NEW (its folder moves too).

    Refused while a model's strategy lists OLD: take it out of `templates:` first."""
    with changing("content set-rename", old=old, new=new) as change:
        result = engine_content.rename_set(change.ws, old, new, actor=actor())
    if json_:
        print_json(result)
        return
    click.echo(f"template set {result['old']} renamed to {result['new']} ({result['folder']})")


@content.command("set-delete")
@click.argument("name")
@json_option
@workspace_option
def set_delete(name, json_):
    """Delete template set NAME: its content is retired (kept for history) and its folder moved
    to content/_templates/.deleted/. Refused while a model's strategy lists it."""
    with changing("content set-delete", set=name) as change:
        result = engine_content.delete_set(change.ws, name, actor=actor())
    if json_:
        print_json(result)
        return
    moved = f"; folder moved to {result['moved_to']}" if result["moved_to"] else ""
    click.echo(f"template set {result['set']} deleted: {result['retired']} item(s) retired{moved}")


def _ids_command(name, verb):
    @content.command(name)
    @click.argument("ids", nargs=-1, required=True, type=int, metavar="ID...")
    @json_option
    @workspace_option
    def run(ids, json_):
        with changing(f"content {name}", ids=list(ids)) as change:
            if name == "delete":
                result = engine_content.delete_items(change.ws, list(ids), actor=actor())
            else:
                result = engine_content.set_disabled(change.ws, list(ids), name == "disable", actor=actor())
        if json_:
            print_json(result)
            return
        if name == "delete":
            click.echo(f"deleted {len(result['deleted'])} item(s); {len(result['files_removed'])} file(s) removed")
        else:
            click.echo(
                f"{verb} {len(result['changed'])} item(s)"
                + (f"; {len(result['already'])} already so" if result["already"] else "")
            )

    return run


disable = _ids_command("disable", "disabled")
disable.help = """Disable content items by id: never chosen for a task, kept by `content sync` (see `content list`)."""
enable = _ids_command("enable", "enabled")
enable.help = """Enable disabled content items again."""
delete = _ids_command("delete", "deleted")
delete.help = """Delete content items by id: an image's file is removed from content/, a text is taken out of
texts.yaml; the row is retired (kept), so an item already used keeps its record."""


@content.command("add")
@click.argument("model", metavar="POOL")
@click.argument("content_type", metavar="TYPE")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@json_option
@workspace_option
def add(model, content_type, files, json_):
    """Copy images into POOL's TYPE folder and register them (an existing name is refused).

    POOL is a model's name, _templates (the default template set) or _templates/SET. Each image
    must be one by its first bytes (JPEG, PNG, WebP, HEIC, as its extension says). A .txt FILE
    adds its lines (one text a line, blank lines skipped) to the TYPE list of the pool's
    texts.yaml, e.g. `igctl content add alice bio bios.txt`."""
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

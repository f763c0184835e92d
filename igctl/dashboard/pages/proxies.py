"""Proxies: the list (`proxy list`), add one (`proxy add`), test some (`proxy test`), status,
replace (`proxy replace`), remove (`proxy remove`), putting accounts on proxies."""

from __future__ import annotations

from bottle import Bottle, request

from igctl.dashboard.face import Face
from igctl.engine.domain import accounts, proxies, proxy_health
from igctl.engine.store.changes import Command
from igctl.engine.store.errors import InvalidInput
from igctl.engine.store.events import redact_argument

# A click waits for its tests' answers: at most this many proxies a click, all tested at once,
# so one click takes at most about two `proxies.test_timeout_seconds` (a dead proxy costs one or
# two timeouts). More than this: `igctl proxy test --all`, or `proxies.test_every_hours` in tick.
TEST_LIMIT = 25


def _ids(text: str | None) -> list[int]:
    """`?tested=3,7`: the proxies whose last test the page shows first (anything else ignored)."""
    return [int(part) for part in (text or "").split(",") if part.strip().isdigit() and len(part.strip()) < 12]


def install(app: Bottle, face: Face) -> None:
    ws, render, change, actor, done, forms = face.ws, face.render, face.change, face.actor, face.done, face.forms

    @app.get("/proxies")
    def proxies_page():
        rows = proxies.list_proxies(ws)
        tested = _ids(request.query.get("tested"))
        by_id = {r["id"]: r for r in rows}
        return render(
            "proxies",
            title="Proxies",
            nav="proxies",
            rows=rows,
            tested=[by_id[i] for i in dict.fromkeys(tested) if i in by_id],
            statuses=proxies.STATUSES,
            unplaced=[a["username"] for a in accounts.list_accounts(ws, state="imported")],
            test_limit=TEST_LIMIT,
            default_max=ws.config.proxies.default_max_accounts,
        )

    @app.post("/proxies/add")
    def proxy_add():
        f = forms()
        spec = (f.get("spec") or "").strip()
        if not spec:
            raise InvalidInput("give the proxy: host:port, host:port:user:pass, user:pass@host:port or a URL")
        cost = (f.get("cost") or "").strip() or None
        max_accounts = face.number(f.get("max_accounts"), "max accounts")
        details = {
            "proxy": redact_argument(spec),
            "provider": f.get("provider") or None,
            "location": f.get("location") or None,
            "cost": cost,
            "max_accounts": max_accounts,
        }
        with change("proxy add", **details):
            row = proxies.add(
                ws,
                spec,
                provider=f.get("provider"),
                location=f.get("location"),
                cost=cost,
                max_accounts=max_accounts,
                actor=actor(),
            )
        done(f"Added proxy {row['id']} (holds up to {row['max_accounts']} accounts).", f"/proxies#proxy-{row['id']}")

    @app.post("/proxies/test")
    def proxy_test():
        f = forms()
        ids = list(
            dict.fromkeys(n for n in (face.number(v, "proxy id") for v in f.getall("proxy_ids")) if n is not None)
        )
        if not ids:
            raise InvalidInput("choose the proxies to test")
        if len(ids) > TEST_LIMIT:
            raise InvalidInput(
                f"{len(ids)} proxies chosen: at most {TEST_LIMIT} are tested a click (the page waits for their "
                "answers); choose fewer, or test them all with igctl proxy test --all"
            )
        # The tests wait for the network, so the engine records the command in its own first
        # write transaction, as for `igctl proxy test` (no transaction of ours to hold it).
        who = actor()
        result = proxy_health.check_proxies(
            ws,
            ids,
            concurrency=min(len(ids), proxy_health.MAX_CONCURRENCY),
            actor=who,
            command=Command("proxy test", who, "dashboard", details={"proxy_ids": ids}),
        )
        text = f"Tested {result['tested']} prox{'y' if result['tested'] == 1 else 'ies'}: {result['passed']} passed, {result['failed']} failed."
        for key, words in (
            ("quarantined", "Set to error"),
            ("recovered", "Back to active"),
            ("exit_ip_changed", "Exit IP changed"),
        ):
            if result[key]:
                text += f" {words}: {', '.join(map(str, result[key]))}."
        done(text, f"/proxies?tested={','.join(map(str, ids))}#test-results")

    @app.post("/proxies/<proxy_id:int>/status")
    def proxy_status(proxy_id):
        f = forms()
        status = (f.get("status") or "").strip()
        with change("proxy set-status", proxy_id=proxy_id, status=status):
            result = proxies.set_status(
                ws, proxy_id, status, actor=actor(), cause=(f.get("reason") or "").strip() or None, acknowledge=True
            )
        text = (
            f"Proxy {proxy_id}: {result['old_status']} → {status}."
            if result["changed"]
            else f"Proxy {proxy_id} is already {status}."
        )
        done(text, f.get("next") or "/proxies")

    @app.get("/proxies/<proxy_id:int>/replace")
    def replace_page(proxy_id):
        old = proxies.get_proxy(ws, proxy_id)
        on_it = [a for a in accounts.list_accounts(ws, proxy_id=proxy_id) if a["lifecycle_state"] != "retired"]
        return render(
            "proxy_replace",
            title=f"Replace proxy {proxy_id}",
            nav="proxies",
            old=old,
            accounts=on_it,
            candidates=proxies.replacement_candidates(ws, proxy_id),
        )

    @app.post("/proxies/<proxy_id:int>/replace")
    def proxy_replace(proxy_id):
        new_id = face.number(forms().get("new_proxy_id"), "new proxy id")
        if new_id is None:
            raise InvalidInput("choose the proxy to move the accounts to")
        with change("proxy replace", old_proxy_id=proxy_id, new_proxy_id=new_id):
            result = proxies.replace(ws, proxy_id, new_id, actor=actor())
        n = len(result["moved"])
        text = (
            f"{n} account{'s' if n != 1 else ''} moved from proxy {proxy_id} to proxy {new_id}: "
            + ", ".join(m["username"] for m in result["moved"])
            + "."
            if n
            else f"Proxy {proxy_id} has no accounts; nothing to move."
        )
        done(text, f"/proxies#proxy-{proxy_id}")

    @app.post("/proxies/<proxy_id:int>/remove")
    def proxy_remove(proxy_id):
        with change("proxy remove", proxy_id=proxy_id):
            row = proxies.remove(ws, proxy_id, actor=actor())
        done(f"Removed proxy {proxy_id} ({row['scheme']}://{row['host']}:{row['port']}).", "/proxies")

    @app.post("/proxies/assign")
    def proxy_assign():
        f = forms()
        username = (f.get("username") or "").strip()
        if not username:
            raise InvalidInput("give the account to put on a proxy")
        proxy_id = face.number(f.get("proxy_id"), "proxy id")
        with change("proxy assign", username=username, proxy_id=proxy_id):
            result = proxies.assign(ws, username, proxy_id, actor=actor())
        done(
            f"{result['username']} is on proxy {result['proxy_id']}; state {result['lifecycle_state']}.",
            f.get("next") or "/proxies",
        )

    @app.post("/proxies/auto-assign")
    def proxy_auto_assign():
        f = forms()
        with change("proxy auto-assign"):
            result = proxies.auto_assign(ws, actor=actor())
        done(
            f"{result['assigned']} account(s) got a proxy; {result['left_without_proxy']} left without one.",
            f.get("next") or "/proxies",
        )

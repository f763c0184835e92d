"""The HTTP bad-input corpus (product.md §7 and §9: "bad input of any kind ... gets a clear
error and changes nothing"): oversized bodies, wrong content types, deep JSON nesting, numbers
where strings belong, huge integers, Unicode in every field, garbled headers — every answer is a
JSON 4xx (never a 5xx, never HTML or plain text) and the database is as it was.
The everyday cases (each 400/413 of each body) are in tests/test_botserver.py."""

from __future__ import annotations

import json

import pytest
from botserver_helpers import PNG, LiveServer, raw_request
from warmup_helpers import fleet, seed_templates, snapshot

from igctl.engine.domain import bots
from igctl.engine.flows import tick as engine_tick

pytestmark = pytest.mark.stress

WEIRD = [
    "ｔａｓｋ",
    "\u202etxt.exe",
    "\u0000",
    "😀" * 50,
    "аdmin",
    "\ud7ff\ue000",
    "x" * 100_000,
    "=cmd|' /C calc'!A0",
    "\u200b",
    "Ω≈ç√∫",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
]


@pytest.fixture
def arranged(ws, ws_path):
    seed_templates(ws)
    fleet(ws, 6)
    engine_tick.tick(ws)
    bot = bots.add(ws, "phone", actor="test")
    server = LiveServer(ws_path, threads=4)
    status, _, task = server.call("GET", f"/api/bot/next-task/{bot['id']}", token=bot["token"])
    assert status == 200
    yield {"server": server, "bot": bot, "task": task}
    server.stop()


def bodies(bot_id: int, task_id: int, account_id: int):
    """(method, path, raw body, content type) of every hostile request of the corpus."""
    complete, failed = "/api/bot/step-complete", "/api/bot/step-failed"
    heartbeat, metrics = f"/api/bot/heartbeat/{bot_id}", f"/api/bot/account/{account_id}/metrics"
    js = "application/json"
    out = [
        # deep nesting: at the top and inside an accepted free-form field
        ("POST", complete, b"[" * 200_000 + b"]" * 200_000, js),
        (
            "POST",
            complete,
            json.dumps({"task_id": task_id, "bot_id": bot_id, "content_used": 0})
            .encode()
            .replace(b"0}", b"[" * 50_000 + b"]" * 50_000 + b"}"),
            js,
        ),
        ("PUT", heartbeat, b'{"system_info": ' + b'{"a": ' * 20_000 + b"1" + b"}" * 20_001, js),
        # huge integers: beyond SQLite's range, and beyond what Python converts (4,300 digits)
        ("POST", complete, b'{"task_id": ' + b"9" * 5000 + b', "bot_id": 1}', js),
        ("POST", complete, json.dumps({"task_id": 2**64, "bot_id": bot_id}).encode(), js),
        ("POST", complete, json.dumps({"task_id": task_id, "bot_id": 2**63}).encode(), js),
        ("POST", metrics, b'{"followers": ' + b"9" * 5000 + b"}", js),
        ("POST", metrics, b'{"followers": 1e400}', js),
        ("POST", metrics, b'{"extra_figure": NaN}', js),
        ("POST", metrics, b'{"extra_figure": -Infinity}', js),
        (
            "POST",
            failed,
            json.dumps(
                {"task_id": task_id, "bot_id": bot_id, "error_message": "x", "retry_after_seconds": 10**30}
            ).encode(),
            js,
        ),
        # numbers where strings belong, strings where numbers belong, wrong JSON types
        ("POST", failed, json.dumps({"task_id": task_id, "bot_id": bot_id, "error_message": 12345}).encode(), js),
        (
            "POST",
            failed,
            json.dumps({"task_id": task_id, "bot_id": bot_id, "error_message": "x", "error_kind": 3}).encode(),
            js,
        ),
        ("PUT", heartbeat, json.dumps({"status": 1.5, "app_version": ["1"]}).encode(), js),
        ("POST", complete, json.dumps({"task_id": str(task_id), "bot_id": bot_id}).encode(), js),
        ("POST", complete, json.dumps({"task_id": [task_id], "bot_id": bot_id}).encode(), js),
        ("POST", complete, json.dumps({"task_id": None, "bot_id": bot_id}).encode(), js),
        ("POST", complete, b"null", js),
        ("POST", complete, b'"a string"', js),
        ("POST", complete, b"{}" * 1000, js),
        # not UTF-8, lone surrogates, a BOM, NUL bytes
        ("POST", complete, b'{"task_id": 1, "bot_id": 1, "x": "\xff\xfe"}', js),
        ("POST", failed, b'{"task_id": %d, "bot_id": %d, "error_message": "\\ud800"}' % (task_id, bot_id), js),
        ("POST", complete, b"\xef\xbb\xbf" + json.dumps({"task_id": task_id, "bot_id": bot_id, "zzz": 1}).encode(), js),
        ("POST", complete, b'{"task_id": 1\x00, "bot_id": 1}', js),
        # wrong content types for a JSON body: refused (415) whatever the bytes are
        ("POST", complete, json.dumps({"task_id": task_id, "bot_id": bot_id}).encode(), "text/plain"),
        ("POST", complete, b"task_id=1&bot_id=1", "application/x-www-form-urlencoded"),
        (
            "PUT",
            heartbeat,
            b'--x\r\nContent-Disposition: form-data; name="status"\r\n\r\nok\r\n--x--',
            "multipart/form-data; boundary=x",
        ),
        ("POST", metrics, json.dumps({"followers": 5}).encode(), "application/xml"),
        ("POST", f"/api/bot/tasks/{task_id}/screenshot", b"<html>not an image</html>", "text/html"),
        ("POST", f"/api/bot/tasks/{task_id}/screenshot", PNG, "application/json"),
    ]
    # Unicode in every field of every body
    for text in WEIRD:
        out += [
            (
                "POST",
                failed,
                json.dumps({"task_id": task_id, "bot_id": bot_id, "error_message": text, "error_kind": text}).encode(),
                js,
            ),
            ("PUT", heartbeat, json.dumps({"status": text, "app_version": text, "current_task_id": text}).encode(), js),
            ("POST", metrics, json.dumps({text: 1}).encode(), js),
            ("POST", complete, json.dumps({"task_id": task_id, "bot_id": bot_id, text: text}).encode(), js),
        ]
    return out


def test_every_hostile_body_gets_a_json_4xx_and_changes_nothing(arranged, ws):
    server, bot, task = arranged["server"], arranged["bot"], arranged["task"]
    before = snapshot(ws)
    corpus = bodies(bot["id"], task["task_id"], task["account"]["id"])
    seen = set()
    for method, path, raw, ctype in corpus:
        status, headers, answer = server.call(method, path, token=bot["token"], raw=raw, content_type=ctype)
        assert 400 <= status < 500, (method, path, raw[:80], ctype, status, answer)
        assert headers["content-type"].startswith("application/json"), (path, raw[:80], headers)
        assert isinstance(answer, dict) and answer["error"], answer
        seen.add(status)
    assert snapshot(ws) == before  # nothing was recorded, claimed or changed
    assert {400, 415} <= seen
    # the same token still works: the corpus broke nothing
    status, _, answer = server.call(
        "POST", "/api/bot/step-complete", token=bot["token"], body={"task_id": task["task_id"], "bot_id": bot["id"]}
    )
    assert status == 200 and answer["status"] == "completed"


def test_bodies_far_over_the_limit_and_malformed_requests_get_json_errors_from_the_server_itself(arranged, ws):
    # cheroot refuses these before the app runs (it never buffers them): our request class makes its answers JSON too
    server, bot = arranged["server"], arranged["bot"]
    before = snapshot(ws)
    auth = f"Authorization: Bearer {bot['token']}\r\n".encode()
    huge = 10 * 1024**3  # 10 GiB announced, none sent
    cases = [
        (
            b"POST /api/bot/step-complete HTTP/1.1\r\nHost: x\r\n"
            + auth
            + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % huge,
            b"",
            413,
        ),
        (
            b"POST /api/bot/step-complete HTTP/1.1\r\nHost: x\r\n"
            + auth
            + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"zz\r\n{}\r\n0\r\n\r\n",
            400,
        ),
        (
            b"POST /api/bot/step-complete HTTP/1.1\r\nHost: x\r\n"
            + auth
            + b"Content-Length: 5\r\nContent-Length: 7\r\n\r\n",
            b"{}",
            400,
        ),
        (b"GET /api/bot/me HTTP/1.1\r\nHost: x\r\n" + auth + b"X-Big: " + b"a" * 300_000 + b"\r\n\r\n", b"", 431),
    ]
    for head, body, expected in cases:
        status, headers, payload = raw_request(server, head, body)
        assert status == expected, (head[:60], status, payload[:200])
        assert headers["content-type"].startswith("application/json"), headers
        assert json.loads(payload)["error"]
    # 64 MiB actually sent, chunked (no length to refuse up front): still a JSON 413
    chunk = b"x" * (1024 * 1024)
    body = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(64)) + b"0\r\n\r\n"
    status, headers, payload = raw_request(
        server,
        b"POST /api/bot/step-complete HTTP/1.1\r\nHost: x\r\n"
        + auth
        + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        body,
    )
    assert status == 413 and json.loads(payload)["error"]
    assert snapshot(ws) == before


def test_headers_that_are_not_utf8_are_refused_or_ignored_never_a_500(arranged, ws):
    # regression: bottle decodes headers as UTF-8 and raised on these (a 500)
    server, bot = arranged["server"], arranged["bot"]
    image_id = ws.db().scalar("SELECT MIN(id) FROM content WHERE path IS NOT NULL")
    head = (
        b"GET /api/bot/images/%d HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nIf-None-Match: u(\xb8\xfe6\r\n"
        b"Connection: close\r\n\r\n"
    ) % (image_id, bot["token"].encode())
    status, headers, _ = raw_request(server, head)
    assert status == 200  # a garbled ETag matches nothing: the image is sent
    head = b"GET /api/bot/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xb8\xfe\xff\r\nConnection: close\r\n\r\n"
    status, headers, payload = raw_request(server, head)
    assert status == 401 and headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    "ctype", ["application/json", "application/json; charset=utf-8", "application/vnd.igctl+json", None]
)
def test_json_bodies_declared_as_json_or_undeclared_are_read(arranged, ctype):
    # the boundary of the 415 rule: these are accepted
    server, bot = arranged["server"], arranged["bot"]
    raw = json.dumps({"status": "ok"}).encode()
    status, _, answer = server.call(
        "PUT", f"/api/bot/heartbeat/{bot['id']}", token=bot["token"], raw=raw, content_type=ctype
    )
    assert status == 200, answer

"""The bot API end to end over a real socket (cheroot on 127.0.0.1, a free port): every
endpoint, every status code of product.md §7, traversal attempts, repeated and stale reports,
and a full warm-up driven through HTTP with the clock moved day by day."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from botserver_helpers import JPEG, PNG, LiveServer, raw_request
from warmup_helpers import account, fleet, seed_templates, snapshot

from igctl.botserver.app import AuthThrottle
from igctl.engine.domain import bots, metrics
from igctl.engine.flows import tick as engine_tick
from igctl.engine.queue import tasks


@pytest.fixture
def arranged(ws):
    """Template content, three accounts with their warm-up started, two bots."""
    seed_templates(ws)
    ids = fleet(ws, 3)
    engine_tick.tick(ws)
    one = bots.add(ws, "phone1", actor="test")
    two = bots.add(ws, "phone2", actor="test")
    return {"accounts": ids, "bot": one, "other": two}


@pytest.fixture
def server(ws_path, arranged):
    s = LiveServer(ws_path)
    yield s
    s.stop()


def claim(server, bot):
    return server.call("GET", f"/api/bot/next-task/{bot['id']}", token=bot["token"])


def is_json_error(status, headers, body, expected):
    assert status == expected, (status, body)
    assert headers["content-type"].startswith("application/json")
    assert isinstance(body, dict) and isinstance(body["error"], str) and body["error"]
    assert "Traceback" not in json.dumps(body)
    return body


# -- open endpoints ----------------------------------------------------------------------------
def test_health_needs_no_token_and_reports_the_database(server):
    status, headers, body = server.call("GET", "/api/health")
    assert status == 200 and headers["content-type"].startswith("application/json")
    assert body["status"] == "ok" and body["database"] == "ok" and body["version"]
    assert body["server_time"] == "2026-03-02T10:00:00.000Z"


def test_openapi_document_is_served(server):
    status, _, body = server.call("GET", "/api/openapi.json")
    assert status == 200 and body["openapi"].startswith("3.1") and "/api/bot/next-task/{bot_id}" in body["paths"]


# -- 401 / 429 ---------------------------------------------------------------------------------
@pytest.mark.parametrize("header", [None, "Bearer", "Bearer not-a-token", "Basic dXNlcjpwdw==", "bearer " + "x" * 300])
def test_missing_or_wrong_token_is_401(server, arranged, header):
    headers = {"Authorization": header} if header else {}
    status, rh, body = server.call("GET", f"/api/bot/next-task/{arranged['bot']['id']}", headers=headers)
    is_json_error(status, rh, body, 401)
    assert rh["www-authenticate"].startswith("Bearer")


def test_revoked_token_is_401(server, arranged, ws):
    bots.revoke(ws, "phone2", actor="test")
    status, rh, body = claim(server, arranged["other"])
    is_json_error(status, rh, body, 401)


@pytest.mark.parametrize("where", ["this process", "the CLI in another process"])
def test_a_token_that_worked_stops_working_the_moment_it_is_revoked(server, arranged, ws, ws_path, where):
    other = arranged["other"]
    status, _, me = server.call("GET", "/api/bot/me", token=other["token"])
    assert status == 200 and me["name"] == "phone2"
    if where == "this process":
        bots.revoke(ws, "phone2", actor="test")
    else:
        done = subprocess.run(
            [sys.executable, "-m", "igctl", "bot", "revoke", "phone2"],
            capture_output=True,
            text=True,
            env={**os.environ, "IGCTL_WORKSPACE": str(ws_path)},
        )
        assert done.returncode == 0, done.stderr
    for method, path in (("GET", "/api/bot/me"), ("GET", f"/api/bot/next-task/{other['id']}")):
        status, rh, body = server.call(method, path, token=other["token"])
        is_json_error(status, rh, body, 401)
    assert server.call("GET", "/api/bot/me", token=arranged["bot"]["token"])[0] == 200  # the others still work


def test_twenty_failures_from_one_address_then_429_but_valid_tokens_still_work(ws_path, arranged):
    now = [1000.0]
    s = LiveServer(ws_path, throttle=AuthThrottle(clock=lambda: now[0]))
    try:
        path = f"/api/bot/next-task/{arranged['bot']['id']}"
        for i in range(20):  # the 20th failure is still an ordinary 401 (just inside)
            status, _, _ = s.call("GET", path, token=f"guess-{i}")
            assert status == 401, i
        status, rh, body = s.call("GET", path, token="guess-21")  # just outside
        is_json_error(status, rh, body, 429)
        assert int(rh["retry-after"]) == 61
        # a forged X-Forwarded-For does not make another address
        status, _, _ = s.call("GET", path, token="guess-22", headers={"X-Forwarded-For": "203.0.113.9"})
        assert status == 429
        # requests without any token are throttled too; a valid token is never throttled
        assert s.call("GET", path)[0] == 429
        status, _, task = s.call("GET", path, token=arranged["bot"]["token"])
        assert status == 200 and task["task_id"]
        # the window is a minute: 60 s after the first failures the address may try again
        now[0] += 59
        assert s.call("GET", path, token="late")[0] == 429
        now[0] += 1.5
        assert s.call("GET", path, token="late")[0] == 401
    finally:
        s.stop()


# -- 403 / 404 / 405 ---------------------------------------------------------------------------
def test_a_token_acts_only_for_its_own_bot(server, arranged):
    me, other = arranged["bot"], arranged["other"]
    status, rh, body = server.call("GET", f"/api/bot/next-task/{other['id']}", token=me["token"])
    is_json_error(status, rh, body, 403)
    status, rh, body = server.call("PUT", f"/api/bot/heartbeat/{other['id']}", token=me["token"], body={})
    is_json_error(status, rh, body, 403)
    _, _, task = claim(server, other)
    for path in ("/api/bot/step-complete", "/api/bot/step-failed"):
        status, rh, body = server.call(
            "POST",
            path,
            token=me["token"],
            body={"task_id": task["task_id"], "bot_id": other["id"], "error_message": "x"}
            if "failed" in path
            else {"task_id": task["task_id"], "bot_id": other["id"]},
        )
        is_json_error(status, rh, body, 403)
    # the account is bound to the other bot: its content and metrics are not this bot's
    aid = task["account"]["id"]
    status, rh, body = server.call(
        "GET", f"/api/bot/account/{aid}/content?task_id={task['task_id']}", token=me["token"]
    )
    is_json_error(status, rh, body, 403)
    status, rh, body = server.call("POST", f"/api/bot/account/{aid}/metrics", token=me["token"], body={"followers": 1})
    is_json_error(status, rh, body, 403)


def test_unknown_things_are_404_json(server, arranged):
    token = arranged["bot"]["token"]
    for path in ("/api/bot/nothing-here", "/nothing", "/api/health/x", "/api/bot/next-task/abc"):
        status, rh, body = server.call("GET", path, token=token)
        is_json_error(status, rh, body, 404)
    _, _, task = claim(server, arranged["bot"])
    other_account = next(a for a in arranged["accounts"] if a != task["account"]["id"])
    status, rh, body = server.call(
        "GET", f"/api/bot/account/{other_account}/content?task_id={task['task_id']}", token=token
    )
    is_json_error(status, rh, body, 404)
    status, rh, body = server.call(
        "POST", "/api/bot/step-complete", token=token, body={"task_id": 999999, "bot_id": arranged["bot"]["id"]}
    )
    is_json_error(status, rh, body, 404)
    status, rh, body = server.call("GET", "/api/bot/images/999999", token=token)
    is_json_error(status, rh, body, 404)
    status, rh, body = server.call("POST", f"/api/bot/account/{2**63}/metrics", token=token, body={"followers": 1})
    is_json_error(status, rh, body, 404)


def test_a_method_a_path_does_not_take_is_405_json(server, arranged):
    for method, path in (
        ("POST", "/api/health"),
        ("GET", "/api/bot/step-complete"),
        ("DELETE", "/api/bot/heartbeat/1"),
    ):
        status, rh, body = server.call(method, path, token=arranged["bot"]["token"])
        is_json_error(status, rh, body, 405)
        assert rh["allow"]


# -- 400 ----------------------------------------------------------------------------------------
BAD_COMPLETE_BODIES = [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b"", "not valid JSON"),
    (json.dumps({"bot_id": 1}).encode(), "task_id"),
    (json.dumps({"task_id": "5", "bot_id": 1}).encode(), "task_id"),
    (json.dumps({"task_id": True, "bot_id": 1}).encode(), "task_id"),
    (json.dumps({"task_id": 1.5, "bot_id": 1}).encode(), "task_id"),
    (json.dumps({"task_id": 0, "bot_id": 1}).encode(), "task_id"),
    (json.dumps({"task_id": 1, "bot_id": 1, "execution_time_ms": -1}).encode(), "execution_time_ms"),
    (json.dumps({"task_id": 1, "bot_id": 1, "surprise": 1}).encode(), "surprise"),
]


@pytest.mark.parametrize("raw, mentions", BAD_COMPLETE_BODIES)
def test_bad_step_complete_bodies_are_400_and_change_nothing(server, arranged, ws, raw, mentions):
    _, _, task = claim(server, arranged["bot"])
    before = snapshot(ws)
    status, rh, body = server.call(
        "POST", "/api/bot/step-complete", token=arranged["bot"]["token"], raw=raw, content_type="application/json"
    )
    is_json_error(status, rh, body, 400)
    assert mentions in body["error"] or mentions in json.dumps(body["detail"])
    assert snapshot(ws) == before
    assert task["task_id"]


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"error_message": ""},
        {"error_message": "   "},
        {"error_message": "x", "error_kind": "meteor"},
        {"error_message": "x", "requires_review": "yes"},
        {"error_message": "x", "retry_after_seconds": -5},
        {"error_message": 7},
    ],
)
def test_bad_step_failed_bodies_are_400_and_change_nothing(server, arranged, ws, fields):
    _, _, task = claim(server, arranged["bot"])
    before = snapshot(ws)
    body = {"task_id": task["task_id"], "bot_id": arranged["bot"]["id"], **fields}
    status, rh, answer = server.call("POST", "/api/bot/step-failed", token=arranged["bot"]["token"], body=body)
    is_json_error(status, rh, answer, 400)
    assert snapshot(ws) == before


def test_content_needs_a_numeric_task_id(server, arranged):
    _, _, task = claim(server, arranged["bot"])
    aid = task["account"]["id"]
    for query in ("", "?task_id=", "?task_id=abc", "?task_id=-1", "?task_id=1.5", f"?task_id={2**64}"):
        status, rh, body = server.call("GET", f"/api/bot/account/{aid}/content{query}", token=arranged["bot"]["token"])
        is_json_error(status, rh, body, 400)


def test_unknown_query_parameters_are_400_after_the_token_check(server, arranged):
    _, _, task = claim(server, arranged["bot"])
    aid, token = task["account"]["id"], arranged["bot"]["token"]
    status, rh, body = server.call(
        "GET", f"/api/bot/account/{aid}/content?task_id={task['task_id']}&taskid=1", token=token
    )
    is_json_error(status, rh, body, 400)
    assert "'taskid'" in body["error"] and "task_id" in body["error"] and body["detail"] == {"unknown": ["taskid"]}
    status, rh, body = server.call("GET", f"/api/bot/next-task/{arranged['bot']['id']}?verbose=1", token=token)
    is_json_error(status, rh, body, 400)
    assert "takes none" in body["error"]
    # without a token the answer is 401 whatever the query; the open routes take any query
    status, rh, body = server.call("GET", f"/api/bot/account/{aid}/content?task_id=1&taskid=1")
    is_json_error(status, rh, body, 401)
    assert server.call("GET", "/api/health?cache-buster=1")[0] == 200


def test_a_head_request_for_the_next_task_claims_nothing(server, arranged, ws):
    bot = arranged["bot"]
    before = snapshot(ws)
    status, rh, _ = server.call("HEAD", f"/api/bot/next-task/{bot['id']}", token=bot["token"])
    assert status == 405 and rh["allow"] == "GET"
    assert snapshot(ws) == before
    assert server.call("GET", f"/api/bot/next-task/{bot['id']}", token=bot["token"])[0] == 200


def test_bad_heartbeat_and_metrics_bodies_are_400(server, arranged, ws):
    bot = arranged["bot"]
    _, _, task = claim(server, bot)
    before = snapshot(ws)
    for body in ({"status": 5}, {"current_task_id": "1"}, {"nope": 1}):
        status, rh, answer = server.call("PUT", f"/api/bot/heartbeat/{bot['id']}", token=bot["token"], body=body)
        is_json_error(status, rh, answer, 400)
    aid = task["account"]["id"]
    for body in (
        {},
        {"followers": None},
        {"followers": -1},
        {"followers": 1.5},
        {"followers": "10"},
        {"likes": True},
        {"Bad Name": 1},
        {"followers": 2**63},
    ):
        status, rh, answer = server.call("POST", f"/api/bot/account/{aid}/metrics", token=bot["token"], body=body)
        is_json_error(status, rh, answer, 400)
    assert snapshot(ws) == before
    assert ws.db().scalar("SELECT COUNT(*) FROM account_metrics") == 0


# -- 413 ----------------------------------------------------------------------------------------
def server_with_a_small_body_limit(ws_path) -> tuple[LiveServer, int]:
    """A server whose workspace allows request bodies of 1,048 bytes; and that limit."""
    config = ws_path / "igctl.yaml"
    config.write_text(config.read_text() + "\nserver:\n  max_body_mb: 0.001\n")
    return LiveServer(ws_path), int(0.001 * 1024 * 1024)


def test_a_body_over_the_limit_is_413_and_one_at_the_limit_is_read(ws_path, arranged, ws):
    s, limit = server_with_a_small_body_limit(ws_path)
    try:
        bot = arranged["bot"]
        body = json.dumps({"task_id": 999999, "bot_id": bot["id"]}).encode()
        at_limit = body + b" " * (limit - len(body))
        status, rh, answer = s.call(
            "POST", "/api/bot/step-complete", token=bot["token"], raw=at_limit, content_type="application/json"
        )
        is_json_error(status, rh, answer, 404)  # read and decoded: the task does not exist
        status, rh, answer = s.call(
            "POST", "/api/bot/step-complete", token=bot["token"], raw=at_limit + b" ", content_type="application/json"
        )
        is_json_error(status, rh, answer, 413)
        _, _, task = s.call("GET", f"/api/bot/next-task/{bot['id']}", token=bot["token"])
        status, rh, answer = s.call(
            "POST",
            f"/api/bot/tasks/{task['task_id']}/screenshot",
            token=bot["token"],
            raw=PNG + b"\0" * limit,
            content_type="image/png",
        )
        is_json_error(status, rh, answer, 413)
    finally:
        s.stop()


def chunked(payload: bytes, size: int = 100) -> bytes:
    return (
        b"".join(
            b"%x\r\n" % len(payload[i : i + size]) + payload[i : i + size] + b"\r\n"
            for i in range(0, len(payload), size)
        )
        + b"0\r\n\r\n"
    )


def test_the_server_refuses_a_body_just_over_4x_the_limit_itself_and_the_app_one_at_it(ws_path, arranged, ws):
    # cheroot's own limit is max(4 x max_body, max_body + 1 MiB); at it the app answers (its 413
    # names max_bytes), one byte over cheroot refuses it before reading any of it: JSON too
    config = ws_path / "igctl.yaml"
    config.write_text(config.read_text() + "\nserver:\n  max_body_mb: 0.5\n")
    limit = int(0.5 * 1024 * 1024)
    server_limit = max(4 * limit, limit + 1024 * 1024)
    s = LiveServer(ws_path)
    before = snapshot(ws)
    try:
        bot = arranged["bot"]
        head = (
            b"POST /api/bot/step-complete HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        )
        status, headers, payload = raw_request(s, head % (bot["token"].encode(), server_limit))
        answer = is_json_error(status, headers, json.loads(payload), 413)
        assert answer["detail"] == {"max_bytes": limit}  # the app's answer
        status, headers, payload = raw_request(s, head % (bot["token"].encode(), server_limit + 1))
        answer = is_json_error(status, headers, json.loads(payload), 413)
        assert "maximum allowed bytes" in answer["detail"] and headers["connection"] == "close"  # the server's
        assert snapshot(ws) == before
    finally:
        s.stop()


def test_a_chunked_body_reaches_the_app_whole_and_is_held_to_the_same_limits(ws_path, arranged, ws):
    s, limit = server_with_a_small_body_limit(ws_path)
    try:
        bot = arranged["bot"]
        _, _, task = s.call("GET", f"/api/bot/next-task/{bot['id']}", token=bot["token"])
        head = (
            b"POST /api/bot/step-complete HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            % bot["token"].encode()
        )
        body = json.dumps({"task_id": task["task_id"], "bot_id": bot["id"]}).encode()
        over = body + b" " * (limit + 1 - len(body))
        before = snapshot(ws)
        status, headers, payload = raw_request(s, head, chunked(over))  # one byte over the app's limit
        assert is_json_error(status, headers, json.loads(payload), 413)["detail"] == {"max_bytes": limit}
        status, headers, payload = raw_request(s, head, b"zz\r\n{}\r\n0\r\n\r\n")  # a malformed chunk
        assert "chunked" in is_json_error(status, headers, json.loads(payload), 400)["detail"]
        assert snapshot(ws) == before
        # a Content-Length sent with the chunked body is overruled by the chunks (RFC 9112 6.3)
        lying = head.replace(b"Transfer-Encoding", b"Content-Length: 5\r\nTransfer-Encoding")
        status, headers, payload = raw_request(s, lying, chunked(over[:-1]))  # at the limit, in 11 chunks
        assert status == 200 and json.loads(payload)["status"] == "completed"
        assert ws.db().scalar("SELECT status FROM tasks WHERE id = ?", [task["task_id"]]) == "completed"
    finally:
        s.stop()


def test_the_app_sees_no_forwarded_headers_and_a_dechunked_body_with_its_length(arranged):
    # what cheroot hands an app, seen by a WSGI app that answers with its environ
    import threading

    from igctl.botserver.serve import build_server, run

    def echo(environ, start_response):
        seen = {k: v for k, v in environ.items() if k.startswith(("HTTP_", "CONTENT_", "REMOTE_"))}
        seen["body"] = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode()
        answer = json.dumps(seen).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
        return [answer]

    bound = build_server(echo, "127.0.0.1", 0, 2, max_body_bytes=1000, ident="test", json_errors=True)
    runner = threading.Thread(target=run, args=(bound,), kwargs={"install_signals": False, "drain_seconds": 2})
    runner.start()
    try:

        class Target:
            host, port = bound.addresses[0]

        head = (
            b"POST / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.9.9.9\r\nX-Forwarded-Host: evil.example\r\n"
            b"X-Forwarded-Proto: https\r\nForwarded: for=10.9.9.9\r\nX-Other: kept\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        status, headers, payload = raw_request(Target, head, chunked(b'{"a": "' + b"x" * 891 + b'"}', 64))  # 900 bytes
        seen = json.loads(payload)
        assert headers["server"] == "test"  # the ident, not cheroot's version
        assert status == 200 and seen["HTTP_X_OTHER"] == "kept" and seen["REMOTE_ADDR"] == "127.0.0.1"
        assert not [k for k in seen if "FORWARDED" in k]
        assert "HTTP_TRANSFER_ENCODING" not in seen and seen["CONTENT_LENGTH"] == "900" and len(seen["body"]) == 900
        # over the server's limit (for a chunked body cheroot counts the chunk-size lines too)
        status, headers, payload = raw_request(Target, head, chunked(b" " * 1001, 64))
        assert status == 413 and headers["content-type"] == "application/json" and json.loads(payload)["error"]
    finally:
        bound.stop()
        runner.join(timeout=10)
    assert not runner.is_alive()


# -- a bug is a JSON 500 ------------------------------------------------------------------------
def test_an_unexpected_error_is_a_json_500_without_traceback(server, arranged, ws, caplog):
    db = ws.db()
    with db.write():
        db.execute("ALTER TABLE step_log RENAME TO step_log_gone")
    with caplog.at_level(logging.ERROR, logger="igctl.botserver"):
        status, rh, body = claim(server, arranged["bot"])
    is_json_error(status, rh, body, 500)
    assert body == {"error": "internal server error", "detail": None}
    assert "Traceback" in caplog.text  # kept for the operator, in the server's log


# -- claiming, content, images ------------------------------------------------------------------
def test_next_task_hands_out_credentials_content_urls_and_logs_the_hand_out(server, arranged, ws):
    status, _, task = claim(server, arranged["bot"])
    assert status == 200
    assert task["kind"] == "warmup" and task["step_number"] == 1 and task["step_name"] == "change_pfp"
    assert task["account"]["password"].startswith("pw-acct-") and task["proxy"]["password"].startswith("secret")
    assert task["slot"] == 1 and task["lease_expires_at"] == "2026-03-02T10:20:00.000Z"
    [image] = task["content"]["images"]
    assert (
        image["url"] == f"/api/bot/images/{image['content_id']}" and len(image["sha256"]) == 64 and "path" not in image
    )
    handed = ws.db().query("SELECT * FROM events WHERE kind = 'bot.credentials'")
    assert [(e["bot_id"], e["account_id"], e["task_id"]) for e in handed] == [
        (arranged["bot"]["id"], task["account"]["id"], task["task_id"])
    ]
    assert "pw-acct" not in json.dumps([dict(e) for e in ws.db().query("SELECT * FROM events")])


def test_nothing_due_is_204_without_a_body(server, arranged, ws):
    db = ws.db()
    with db.write():
        db.execute("UPDATE tasks SET due_at = '2026-03-09T00:00:00.000Z'")
    status, rh, body = claim(server, arranged["bot"])
    assert status == 204 and body == b"" and "content-type" not in rh


def test_content_is_the_same_every_time_and_images_come_with_etag(server, arranged, ws):
    bot = arranged["bot"]
    _, _, task = claim(server, bot)
    path = f"/api/bot/account/{task['account']['id']}/content?task_id={task['task_id']}"
    first = server.call("GET", path, token=bot["token"])
    second = server.call("GET", path, token=bot["token"])
    assert first[0] == 200 and first[2] == second[2]
    assert first[2]["images"] == task["content"]["images"] and first[2]["texts"] == task["content"]["texts"]
    [image] = first[2]["images"]
    status, rh, data = server.call("GET", image["url"], token=bot["token"])
    assert status == 200 and rh["content-type"] == "image/jpeg"
    import hashlib

    assert hashlib.sha256(data).hexdigest() == image["sha256"] and rh["etag"] == f'"{image["sha256"]}"'
    status, rh, data = server.call("GET", image["url"], token=bot["token"], headers={"If-None-Match": rh["etag"]})
    assert status == 304 and data == b""
    status, _, data = server.call("GET", image["url"], token=bot["token"], headers={"If-None-Match": '"other"'})
    assert status == 200 and data


def test_content_of_an_unclaimed_task_is_409(server, arranged, ws):
    bot = arranged["bot"]
    _, _, task = claim(server, bot)
    db = ws.db()
    aid = task["account"]["id"]
    with db.write():  # a second, not yet claimed task of the same (bound) account
        later = tasks.enqueue(
            db,
            ws.events,
            account_id=aid,
            kind="warmup",
            step_name="post_post",
            key="extra",
            step_number=5,
            due_at=ws.instant(None),
            now=ws.instant(None),
            actor="test",
        )
    status, rh, body = server.call("GET", f"/api/bot/account/{aid}/content?task_id={later}", token=bot["token"])
    is_json_error(status, rh, body, 409)


@pytest.mark.parametrize(
    "path",
    [
        "/api/bot/images/../../secret.key",
        "/api/bot/images/%2e%2e%2fsecret.key",
        "/api/bot/images/%2e%2e%2f%2e%2e%2figctl.yaml",
        "/api/bot/images/..%2f..%2fsecret.key",
        "/api/bot/images//etc/passwd",
        "/api/bot/images/%2fetc%2fpasswd",
        "/api/bot/images/abc",
        "/api/bot/images/1.0",
        "/api/bot/images/-1",
        "/api/bot/images/0",
        "/api/bot/images/1%00",
    ],
)
def test_image_paths_that_try_to_leave_content_are_404(server, arranged, path, ws_path):
    status, rh, body = server.call("GET", path, token=arranged["bot"]["token"])
    is_json_error(status, rh, body, 404)
    assert (ws_path / "secret.key").read_bytes()[:20] not in json.dumps(body).encode()


def test_image_rows_that_point_outside_content_are_404(server, arranged, ws, ws_path, tmp_path):
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"\xff\xd8\xff private")
    link = ws_path / "content" / "_templates" / "pfp" / "zz_link.jpg"
    os.symlink(outside, link)
    db = ws.db()
    now = ws.now()
    ids = []
    with db.write():
        for rel in ("../secret.key", "_templates/pfp/zz_link.jpg", str(outside), "_templates/../../igctl.yaml"):
            cur = db.execute(
                "INSERT INTO content (model_id, is_template, content_type, path, sha256, created_at, updated_at)"
                " VALUES (NULL, 1, 'pfp', ?, 'x', ?, ?)",
                [rel, now, now],
            )
            ids.append(cur.lastrowid)
    for content_id in ids:
        status, rh, body = server.call("GET", f"/api/bot/images/{content_id}", token=arranged["bot"]["token"])
        is_json_error(status, rh, body, 404)


# -- reports --------------------------------------------------------------------------------------
def test_repeated_completion_gets_the_same_answer_and_changes_nothing(server, arranged, ws):
    bot = arranged["bot"]
    _, _, task = claim(server, bot)
    body = {
        "task_id": task["task_id"],
        "bot_id": bot["id"],
        "execution_time_ms": 1200,
        "instagram_response": {"ok": True},
    }
    status, _, first = server.call("POST", "/api/bot/step-complete", token=bot["token"], body=body)
    assert status == 200 and first["status"] == "completed" and first["next_task"]["step_number"] == 2
    before = snapshot(ws)
    status, _, again = server.call("POST", "/api/bot/step-complete", token=bot["token"], body=body)
    assert status == 200 and again == first
    assert snapshot(ws) == before
    # the other bot reporting the same task is a conflict
    other = arranged["other"]
    status, rh, answer = server.call(
        "POST", "/api/bot/step-complete", token=other["token"], body={**body, "bot_id": other["id"]}
    )
    is_json_error(status, rh, answer, 409)


def test_a_stale_holder_gets_409_after_its_lease_went_to_another_claim(server, arranged, ws, clock, ws_path):
    db = ws.db()
    with db.write():  # one account only, unbound, so the second bot can take it over
        db.execute("UPDATE tasks SET status = 'cancelled' WHERE account_id != ?", [arranged["accounts"][0]])
    bot, other = arranged["bot"], arranged["other"]
    _, _, task = claim(server, bot)
    with db.write():
        db.execute("UPDATE accounts SET bot_id = NULL, slot = NULL")  # as `accounts move`/revoke would leave it
    clock.set("2026-03-02T10:20:00")  # the lease ends exactly now: it has run out
    status, _, again = claim(server, other)
    assert status == 200 and again["task_id"] == task["task_id"] and again["attempt"] == 2
    for path, extra in (("/api/bot/step-complete", {}), ("/api/bot/step-failed", {"error_message": "late"})):
        status, rh, body = server.call(
            "POST", path, token=bot["token"], body={"task_id": task["task_id"], "bot_id": bot["id"], **extra}
        )
        is_json_error(status, rh, body, 409)
    status, _, done = server.call(
        "POST", "/api/bot/step-complete", token=other["token"], body={"task_id": task["task_id"], "bot_id": other["id"]}
    )
    assert status == 200 and done["status"] == "completed"
    assert [
        r["error_kind"]
        for r in db.query("SELECT error_kind FROM step_log WHERE task_id = ? ORDER BY id", [task["task_id"]])
    ] == ["lease_expired", None]


def test_a_lease_one_millisecond_from_its_end_is_still_held(server, arranged, clock):
    bot = arranged["bot"]
    _, _, task = claim(server, bot)
    clock.set("2026-03-02T10:19:59.999")
    status, _, done = server.call(
        "POST", "/api/bot/step-complete", token=bot["token"], body={"task_id": task["task_id"], "bot_id": bot["id"]}
    )
    assert status == 200 and done["status"] == "completed"


def test_step_failed_schedules_the_retry_or_sends_to_review(server, arranged, ws):
    bot = arranged["bot"]
    _, _, first = claim(server, bot)
    status, _, answer = server.call(
        "POST",
        "/api/bot/step-failed",
        token=bot["token"],
        body={
            "task_id": first["task_id"],
            "bot_id": bot["id"],
            "error_message": "button not found",
            "error_kind": "ui_not_found",
        },
    )
    assert status == 200 and answer["status"] == "retry_scheduled" and answer["retry_at"] == "2026-03-02T10:30:00.000Z"
    _, _, second = claim(server, bot)
    status, _, answer = server.call(
        "POST",
        "/api/bot/step-failed",
        token=bot["token"],
        body={
            "task_id": second["task_id"],
            "bot_id": bot["id"],
            "error_message": "slow down",
            "error_kind": "rate_limited",
            "retry_after_seconds": 7200,
        },
    )
    assert answer["status"] == "retry_scheduled" and answer["retry_at"] == "2026-03-02T12:00:00.000Z"
    _, _, third = claim(server, bot)
    body = {"task_id": third["task_id"], "bot_id": bot["id"], "error_message": "checkpoint", "error_kind": "challenge"}
    status, _, answer = server.call("POST", "/api/bot/step-failed", token=bot["token"], body=body)
    assert (
        answer["status"] == "human_review" and account(ws, third["account"]["id"])["lifecycle_state"] == "human_review"
    )
    assert (
        server.call("POST", "/api/bot/step-failed", token=bot["token"], body=body)[2] == answer
    )  # repeated: same answer


def test_heartbeat_extends_the_leases_and_takes_an_empty_body(server, arranged, ws, clock):
    bot = arranged["bot"]
    _, _, task = claim(server, bot)
    clock.set("2026-03-02T10:15:00")
    status, _, beat = server.call(
        "PUT",
        f"/api/bot/heartbeat/{bot['id']}",
        token=bot["token"],
        body={
            "status": "working",
            "current_task_id": task["task_id"],
            "app_version": "1.2",
            "system_info": {"ios": "17"},
        },
    )
    assert status == 200 and beat["server_time"] == "2026-03-02T10:15:00.000Z" and beat["leases_extended"] == 1
    assert (
        ws.db().scalar("SELECT lease_expires_at FROM tasks WHERE id = ?", [task["task_id"]])
        == "2026-03-02T10:35:00.000Z"
    )
    status, _, beat = server.call("PUT", f"/api/bot/heartbeat/{bot['id']}", token=bot["token"])
    assert status == 200 and beat["server_time"]
    row = ws.db().one("SELECT * FROM bots WHERE id = ?", [bot["id"]])
    assert (
        row["status"] == "working"
        and row["app_version"] == "1.2"
        and json.loads(row["system_info_json"]) == {"ios": "17"}
    )


def test_screenshots_are_kept_as_evidence_with_the_step_log(server, arranged, ws, ws_path):
    bot = arranged["bot"]
    _, _, task = claim(server, bot)
    path = f"/api/bot/tasks/{task['task_id']}/screenshot"
    status, _, kept = server.call("POST", path, token=bot["token"], raw=PNG, content_type="image/png")
    assert status == 201 and kept["path"] == f"evidence/{task['task_id']}/1.png"
    assert (ws_path / kept["path"]).read_bytes() == PNG
    status, _, kept = server.call("POST", path, token=bot["token"], raw=JPEG, content_type="image/jpeg")
    assert status == 201 and kept["path"] == f"evidence/{task['task_id']}/2.jpg"
    assert ws.db().scalar("SELECT screenshot_path FROM step_log WHERE task_id = ?", [task["task_id"]]) == kept["path"]
    before = snapshot(ws)
    # not an image (whatever the content type says), empty, another bot, unknown task
    is_json_error(*server.call("POST", path, token=bot["token"], raw=b"GIF89a....", content_type="image/png"), 415)
    is_json_error(*server.call("POST", path, token=bot["token"], raw=b"", content_type="image/png"), 400)
    is_json_error(*server.call("POST", path, token=arranged["other"]["token"], raw=PNG, content_type="image/png"), 409)
    is_json_error(
        *server.call("POST", "/api/bot/tasks/999999/screenshot", token=bot["token"], raw=PNG, content_type="image/png"),
        404,
    )
    assert snapshot(ws) == before
    assert sorted(p.name for p in (ws_path / "evidence" / str(task["task_id"])).iterdir()) == ["1.png", "2.jpg"]
    # after the failure report the same bot may still add the screenshot of what went wrong
    server.call(
        "POST",
        "/api/bot/step-failed",
        token=bot["token"],
        body={"task_id": task["task_id"], "bot_id": bot["id"], "error_message": "x"},
    )
    status, _, kept = server.call("POST", path, token=bot["token"], raw=PNG, content_type="image/png")
    assert status == 201 and kept["path"].endswith("/3.png")


def test_metrics_are_kept_as_a_time_series(server, arranged, ws, clock):
    bot = arranged["bot"]
    _, _, task = claim(server, bot)
    aid = task["account"]["id"]
    status, _, kept = server.call(
        "POST",
        f"/api/bot/account/{aid}/metrics",
        token=bot["token"],
        body={"followers": 100, "following": 50, "posts": 3, "likes": 12.5},
    )
    assert status == 201 and kept["account_id"] == aid and kept["extra"] == {"likes": 12.5}
    clock.set("2026-03-09T10:00:00")
    server.call("POST", f"/api/bot/account/{aid}/metrics", token=bot["token"], body={"followers": 130, "following": 49})
    latest = metrics.latest(ws, aid)
    assert latest["followers"] == 130 and latest["posts"] is None
    change = metrics.change(ws, aid, days=7)
    assert change["followers"] == 30 and change["following"] == -1 and change["posts"] is None and change["days"] == 7


# -- the whole warm-up through HTTP -----------------------------------------------------------------
def test_full_warmup_of_several_accounts_over_http_day_by_day(server, arranged, ws, clock):
    bots_ = [arranged["bot"], arranged["other"]]
    days = ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06"]
    steps_done = []
    for n, day in enumerate(days, start=1):
        clock.set(f"{day}T11:00:00")
        for bot in bots_:
            server.call("PUT", f"/api/bot/heartbeat/{bot['id']}", token=bot["token"], body={"status": "idle"})
            while True:
                status, _, task = claim(server, bot)
                if status == 204:
                    break
                assert status == 200 and task["step_number"] == n
                got = server.call(
                    "GET",
                    f"/api/bot/account/{task['account']['id']}/content?task_id={task['task_id']}",
                    token=bot["token"],
                )
                assert got[0] == 200
                for image in got[2]["images"]:
                    assert server.call("GET", image["url"], token=bot["token"])[0] == 200
                status, _, done = server.call(
                    "POST",
                    "/api/bot/step-complete",
                    token=bot["token"],
                    body={"task_id": task["task_id"], "bot_id": bot["id"], "execution_time_ms": 900},
                )
                assert status == 200
                steps_done.append((day, task["account"]["id"], task["step_name"]))
        # a second round the same day finds nothing: one step per account per calendar day
        assert all(claim(server, b)[0] == 204 for b in bots_)
    assert len(steps_done) == 15
    for aid in arranged["accounts"]:
        row = account(ws, aid)
        assert row["lifecycle_state"] == "ready" and row["warmup_completed_at"].startswith("2026-03-06")
        names = [s for _, a, s in steps_done if a == aid]
        assert names == ["change_pfp", "change_bio", "post_highlight", "post_story", "post_post"]


def test_access_log_has_one_line_per_request_and_no_token(server, arranged, caplog):
    with caplog.at_level(logging.INFO, logger="igctl.botserver.access"):
        server.call("GET", "/api/health")
        claim(server, arranged["bot"])
        server.call("GET", "/api/bot/next-task/1", token="wrong-token")
        server.call("GET", "/nowhere")
    lines = [r.getMessage() for r in caplog.records if r.name == "igctl.botserver.access"]
    assert len(lines) == 4
    assert lines[0].startswith("GET /api/health 200 ") and lines[0].endswith("bot=-")
    assert lines[1].startswith(f"GET /api/bot/next-task/{arranged['bot']['id']} 200 ") and lines[1].endswith(
        f"bot=phone1#{arranged['bot']['id']}"
    )
    assert " 401 " in lines[2] and " 404 " in lines[3]
    assert arranged["bot"]["token"] not in caplog.text and "wrong-token" not in caplog.text


# -- stopping -----------------------------------------------------------------------------------
@pytest.mark.parametrize("second_signal", [False, True])
def test_a_stop_waits_for_the_request_in_progress_unless_a_second_signal_comes(arranged, caplog, second_signal):
    import threading

    from igctl.botserver.serve import build_server, run

    entered, release = threading.Event(), threading.Event()

    def slow(environ, start_response):
        entered.set()
        release.wait(20)
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
        return [b"{}"]

    bound = build_server(slow, "127.0.0.1", 0, 2, max_body_bytes=1000, ident="test", json_errors=True)
    runner = threading.Thread(target=run, args=(bound,), kwargs={"install_signals": False, "drain_seconds": 20})
    runner.start()

    class Target:
        host, port = bound.addresses[0]

    answers = []
    client = threading.Thread(target=lambda: answers.append(raw_request(Target, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")))
    client.start()
    assert entered.wait(10)
    with caplog.at_level(logging.INFO, logger="igctl.botserver"):
        bound.stop()
        runner.join(timeout=1.5)
        assert runner.is_alive()  # draining: the request in progress holds the stop
        if second_signal:
            bound.hurry.set()
            for _ in range(100):
                if "second signal: stopping at once" in caplog.text:
                    break
                runner.join(timeout=0.05)
            assert "second signal: stopping at once" in caplog.text
        release.set()
        runner.join(timeout=10)
        client.join(timeout=10)
    assert not runner.is_alive() and not client.is_alive()
    if not second_signal:  # the drained request was answered
        assert answers and answers[0][0] == 200 and answers[0][2] == b"{}"
        assert "still busy" not in caplog.text

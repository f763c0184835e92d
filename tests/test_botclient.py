"""BotClient: one method per endpoint against the real server, typed errors, and retries with
backoff on connection errors and 5xx (not on 4xx) against a small scripted HTTP server."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botserver_helpers import PNG, LiveServer
from warmup_helpers import fleet, seed_templates

from igctl import botclient
from igctl.botclient import BotClient
from igctl.engine.domain import bots
from igctl.engine.flows import tick as engine_tick


class Scripted:
    """A real HTTP server on 127.0.0.1 answering each request with the next (status, body) of a
    script (the last one repeats), counting the requests."""

    def __init__(self, script, drop_connections: bool = False):
        self.script = list(script)
        self.requests: list[tuple[str, str, dict]] = []
        self.drop_connections = drop_connections
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append((self.command, self.path, dict(self.headers), body))
                status, payload = outer.script[min(len(outer.requests) - 1, len(outer.script) - 1)]
                data = json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "42")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                if outer.drop_connections:  # close without saying so, as an idle keep-alive timeout does
                    self.close_connection = True

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted():
    made = []

    def make(*script, drop_connections=False):
        s = Scripted(script, drop_connections)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def test_5xx_is_retried_with_backoff_until_it_succeeds(scripted):
    s = scripted((503, {"error": "busy"}), (500, {"error": "bug"}), (200, {"status": "ok"}))
    client = BotClient(s.url, "tok", bot_id=1, retries=3, backoff=0.05)
    start = time.monotonic()
    assert client.health() == {"status": "ok"}
    assert len(s.requests) == 3
    assert time.monotonic() - start >= 0.05 * 0.75 + 0.1 * 0.75  # waited backoff, then twice that


def test_5xx_that_persists_raises_server_error_after_the_retries(scripted):
    s = scripted((502, {"error": "bad gateway", "detail": {"x": 1}}))
    with pytest.raises(botclient.ServerError) as info:
        BotClient(s.url, "tok", bot_id=1, retries=2, backoff=0.01).next_task()
    assert info.value.status == 502 and info.value.error == "bad gateway" and info.value.detail == {"x": 1}
    assert len(s.requests) == 3


@pytest.mark.parametrize(
    "status, cls",
    [
        (400, botclient.BadRequest),
        (401, botclient.Unauthorized),
        (403, botclient.Forbidden),
        (404, botclient.NotFound),
        (409, botclient.Conflict),
        (413, botclient.TooLarge),
        (415, botclient.UnsupportedMedia),
        (429, botclient.Throttled),
        (418, botclient.ApiError),
    ],
)
def test_4xx_is_not_retried_and_raises_its_typed_error(scripted, status, cls):
    s = scripted((status, {"error": "nope", "detail": {"task_id": 5}}))
    with pytest.raises(cls) as info:
        BotClient(s.url, "tok", bot_id=1, retries=5, backoff=0.01).complete(5)
    assert info.value.status == status and info.value.error == "nope" and info.value.detail == {"task_id": 5}
    assert len(s.requests) == 1
    if status == 429:
        assert info.value.retry_after == 42


def test_requests_carry_the_token_and_a_json_body(scripted):
    s = scripted((200, {"task_id": 5, "status": "completed"}))
    BotClient(s.url, "secret-token", bot_id=7).complete(5, execution_time_ms=10)
    method, path, headers, body = s.requests[0]
    assert (method, path) == ("POST", "/api/bot/step-complete")
    assert headers["Authorization"] == "Bearer secret-token" and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"task_id": 5, "bot_id": 7, "execution_time_ms": 10}


def test_connection_refused_is_retried_then_connection_failed():
    # The port stays bound, never listening, for the whole test: connecting is refused, and no
    # other socket can take the port meanwhile (as one could once a probe socket was closed).
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        client = BotClient(f"http://127.0.0.1:{port}", "tok", bot_id=1, retries=2, backoff=0.05)
        start = time.monotonic()
        with pytest.raises(botclient.ConnectionFailed) as info:
            client.heartbeat()
    assert info.value.status == 0
    assert time.monotonic() - start >= (0.05 + 0.1) * 0.75


def test_a_server_that_comes_up_during_the_retries_is_reached(ws_path, ws):
    from igctl.botserver.serve import make_server, run

    # The port is held (bound, not listening: connections are refused) through the outage and
    # let go only just before the server binds it, so no other socket can take it meanwhile.
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    got = {}

    def call():
        got["health"] = BotClient(f"http://127.0.0.1:{port}", "tok", retries=8, backoff=0.1).health()

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.3)  # the client is retrying meanwhile: a real outage, not a clock
    holder.close()
    bound = make_server(ws, "127.0.0.1", port, 2)
    runner = threading.Thread(target=run, args=(bound,), kwargs={"install_signals": False, "drain_seconds": 2})
    runner.start()
    try:
        caller.join(timeout=20)
        assert got["health"]["status"] == "ok"
    finally:
        bound.stop()
        runner.join()


def test_bad_base_urls_are_refused():
    for url in ("ftp://x", "localhost:8700", ""):
        with pytest.raises(ValueError):
            BotClient(url, "tok")


# -- against the real server -------------------------------------------------------------------
@pytest.fixture
def live(ws, ws_path):
    seed_templates(ws)
    fleet(ws, 2)
    engine_tick.tick(ws)
    bot = bots.add(ws, "phone1", actor="test")
    server = LiveServer(ws_path)
    yield server, bot
    server.stop()


def test_every_method_against_the_real_server(live, ws):
    server, bot = live
    with BotClient(server.url, bot["token"]) as client:
        assert client.me()["name"] == "phone1" and client.bot_id == bot["id"]
        assert client.health()["status"] == "ok" and client.openapi()["openapi"].startswith("3.1")
        assert client.heartbeat(status="idle")["server_time"]
        task = client.next_task()
        answer = client.content(task["account"]["id"], task["task_id"])
        [image_ref] = answer["images"]
        image = client.image_url(image_ref["url"])
        assert image.sha256 == image_ref["sha256"] and image.content_type == "image/jpeg"
        assert client.image(image.content_id, etag=image.etag) is None  # 304
        assert client.screenshot(task["task_id"], PNG)["path"].endswith("/1.png")
        assert client.metrics(task["account"]["id"], followers=10, likes=3)["extra"] == {"likes": 3}
        done = client.complete(task["task_id"], execution_time_ms=5)
        assert client.complete(task["task_id"], execution_time_ms=5) == done
        second = client.next_task()
        assert client.fail(second["task_id"], "boom", error_kind="ui_not_found")["status"] == "retry_scheduled"
        with pytest.raises(botclient.Conflict):
            client.complete(second["task_id"])
        with pytest.raises(botclient.NotFound):
            client.image(999999)
        with pytest.raises(botclient.UnsupportedMedia):
            client.screenshot(task["task_id"], b"GIF89a", content_type="image/gif")
    with pytest.raises(botclient.Unauthorized):
        BotClient(server.url, "wrong-token", bot_id=bot["id"]).next_task()


def test_a_keep_alive_connection_closed_by_the_server_is_reopened_at_once(scripted):
    s = scripted((200, {"status": "ok"}), drop_connections=True)
    client = BotClient(s.url, "tok", retries=0)  # no retry budget: only the stale-connection retry
    for _ in range(3):
        assert client.health() == {"status": "ok"}
    assert len(s.requests) == 3


def test_a_claim_sends_one_idempotency_key_and_the_same_on_its_retries(scripted):
    s = scripted((503, {"error": "busy"}), (200, {"task_id": 5}), (204, None))
    client = BotClient(s.url, "tok", bot_id=1, retries=3, backoff=0.01)
    assert client.next_task() == {"task_id": 5}  # the second try got the answer
    assert client.next_task() is None  # a new logical claim
    keys = [headers["Idempotency-Key"] for _, _, headers, _ in s.requests]
    assert len(keys) == 3 and keys[0] == keys[1] != keys[2]
    assert all(32 <= len(k) <= 200 and k.isascii() and k.isprintable() for k in keys)

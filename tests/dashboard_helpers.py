"""What the dashboard's WSGI tests share: a cookie-keeping WSGI client, a logged-in browser, and
a scene (a model, ready accounts on two proxies, accounts in review, a bot). Test modules import
the fixtures they use by name."""

from __future__ import annotations

import io
import re
import uuid
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

import pytest
from warmup_helpers import add_accounts, add_bot, fleet, seed_model_content, seed_templates

from igctl.dashboard import create_app
from igctl.engine.domain import proxies
from igctl.engine.flows import botwork

PASSWORD = "correct horse 42"


class Page:
    def __init__(self, status: str, headers: list, text: str):
        self.status, self.headers, self.text = status, headers, text
        self.code = int(status.split()[0])

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def location(self) -> str:
        return urlsplit(self.header("Location") or "").path + (
            ("?" + urlsplit(self.header("Location")).query) if urlsplit(self.header("Location") or "").query else ""
        )

    def figure(self, name: str) -> str:
        m = re.search(rf'data-figure="{re.escape(name)}">([^<]*)<', self.text)
        assert m, f"no figure {name}"
        return m.group(1).strip()

    @property
    def csrf(self) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', self.text).group(1)


class Browser:
    """A WSGI client that keeps cookies, as a browser does (enough for these tests)."""

    def __init__(self, app, address: str = "127.0.0.1"):
        self.app, self.address, self.cookies = app, address, {}

    def request(self, method: str, path: str, data: dict | list | None = None, files: dict | None = None) -> Page:
        path_only, _, query = path.partition("?")
        body, ctype = b"", "application/x-www-form-urlencoded"
        if files:
            boundary = uuid.uuid4().hex
            parts = []
            for k, v in data.items() if isinstance(data, dict) else (data or []):
                parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
            for k, (filename, content) in files.items():
                parts.append(
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{filename}"\r\n'
                    f"Content-Type: text/plain\r\n\r\n".encode()
                    + content
                    + b"\r\n"
                )
            body = b"".join(parts) + f"--{boundary}--\r\n".encode()
            ctype = f"multipart/form-data; boundary={boundary}"
        elif data is not None:
            body = urlencode(data, doseq=True).encode()
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path_only,
            "QUERY_STRING": query,
            "SERVER_NAME": "dash.test",
            "SERVER_PORT": "80",
            "HTTP_HOST": "dash.test",
            "wsgi.url_scheme": "http",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.input": io.BytesIO(body),
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": ctype,
            "REMOTE_ADDR": self.address,
            "wsgi.errors": io.StringIO(),
            "HTTP_COOKIE": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
        }
        out = {}

        def start_response(status, headers, exc_info=None):
            out["status"], out["headers"] = status, headers

        text = b"".join(self.app(environ, start_response)).decode("utf-8", errors="replace")
        for k, v in out["headers"]:
            if k.lower() == "set-cookie":
                c = SimpleCookie()
                c.load(v)
                for name, morsel in c.items():
                    if morsel["max-age"] in ("0", "-1") or morsel.value in ("", '""'):
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
        return Page(out["status"], out["headers"], text)

    def get(self, path: str) -> Page:
        return self.request("GET", path)

    def post(self, path: str, data=None, files=None) -> Page:
        return self.request("POST", path, data, files)

    def login(self, password: str = PASSWORD, operator: str = "alice") -> Page:
        page = self.get("/login")
        token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
        return self.post("/login", {"login_token": token, "password": password, "operator": operator, "next": "/"})

    def csrf(self) -> str:
        return self.get("/import").csrf


@pytest.fixture
def dash(igctl, ws):
    igctl("dashboard", "set-password", input=f"{PASSWORD}\n{PASSWORD}\n")
    return create_app(ws)


@pytest.fixture
def browser(dash):
    b = Browser(dash)
    assert b.login().code == 303
    return b


@pytest.fixture
def scene(igctl, ws):
    """A model with ready accounts on two proxies, accounts in human review, and a bot."""
    seed_templates(ws)
    igctl("model", "create", "Alice")
    seed_model_content(ws, "Alice")
    p1 = proxies.add(ws, "10.1.0.1:8080:u1:p1", location="DE", actor="test")["id"]
    p2 = proxies.add(ws, "10.1.0.2:8080:u2:p2", location="US", actor="test")["id"]
    add_accounts(
        ws,
        3,
        state="ready",
        proxy_ids=[p1],
        per_proxy=3,
        prefix="ready",
        warmup_started_at="2026-02-20T10:00:00.000Z",
        warmup_completed_at="2026-02-25T10:00:00.000Z",
    )
    add_accounts(
        ws,
        1,
        state="ready",
        proxy_ids=[p2],
        per_proxy=1,
        prefix="usready",
        warmup_started_at="2026-02-20T10:00:00.000Z",
        warmup_completed_at="2026-02-25T10:00:00.000Z",
    )
    fleet(ws, 2, prefix="warm")
    igctl("warmup", "tick")
    bot = add_bot(ws, "phone1")
    for _ in range(2):
        t = botwork.claim_next(ws, bot)
        botwork.fail(
            ws, t["task_id"], bot, error_message=f"challenge on {t['account']['username']}", error_kind="challenge"
        )
    model_id = ws.db().scalar("SELECT id FROM models WHERE name = 'Alice'")
    return {"model_id": model_id, "p1": p1, "p2": p2, "bot": bot}


def events_by(ws, actor: str) -> list[dict]:
    return [dict(r) for r in ws.db().query("SELECT * FROM events WHERE actor = ? ORDER BY id", [actor])]

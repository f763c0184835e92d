"""Real servers on 127.0.0.1 for proxy tests: an IP-echo check URL (plain or TLS), a forwarding
HTTP proxy (GET with an absolute URI and CONNECT; optionally behind TLS, optionally with Basic
credentials), a SOCKS5 proxy, a port that refuses and a port that accepts and never answers.

Every server binds port 0 (a free port) on a loopback address and refuses to forward anywhere
but the loopback range, so no test reaches beyond this machine. A proxy's *exit IP* is the
loopback address it connects out from (`exit_ip`, e.g. 127.0.0.2: all of 127.0.0.0/8 is the
loopback on Linux), so the echo server reports it for GET and CONNECT alike, and a test changes
it by setting the attribute.

Use them through the fixtures at the bottom (import them into a test module or conftest), or
directly as context managers: `with EchoServer() as echo, HttpProxy() as proxy: …`.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import select
import socket
import socketserver
import ssl
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host) in LOOPBACK
    except ValueError:
        return host == "localhost"


# -- a certificate for 127.0.0.1 ---------------------------------------------------------------
def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (cert.pem, key.pem). The cert
    file doubles as the CA file a client trusts (`proxies.ca_file`)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "igctl test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def server_context(cert: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    return ctx


# -- the base: a threaded server on a free loopback port ---------------------------------------
class _Server:
    server: socketserver.BaseServer

    def _serve(self) -> None:
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _ThreadingTCP(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False


# -- the check URL ------------------------------------------------------------------------------
class EchoServer(_Server):
    """Answers every GET with `{"ip": <the client's address>}` (or `{"ip": self.ip}` when set;
    `body` replaces the whole answer, `status` the 200). `tls` = (cert, key) serves HTTPS.
    `requests` counts the requests answered."""

    def __init__(self, tls: tuple[Path, Path] | None = None, host: str = "127.0.0.1"):
        self.ip: str | None = None
        self.body: bytes | None = None
        self.status = 200
        self.requests = 0
        echo = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                echo.requests += 1
                body = (
                    echo.body
                    if echo.body is not None
                    else json.dumps({"ip": echo.ip or self.client_address[0]}).encode()
                )
                self.send_response(echo.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def get_request(self):
                sock, addr = super().get_request()
                if tls is not None:
                    sock = server_context(tls).wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
                return sock, addr

        self.server = Server((host, 0), Handler)
        self.scheme = "https" if tls else "http"
        self._serve()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/ip?format=json"


# -- piping -------------------------------------------------------------------------------------
def _pipe(a: socket.socket, b: socket.socket, timeout: float = 10) -> None:
    """Copy bytes both ways until either side closes (or nothing moves for `timeout`)."""
    socks = [a, b]
    try:
        while True:
            # a TLS socket may hold decrypted bytes that select() cannot see
            ready = [s for s in socks if isinstance(s, ssl.SSLSocket) and s.pending()]
            if not ready:
                ready, _, _ = select.select(socks, [], [], timeout)
            if not ready:
                return
            for s in ready:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    except OSError:
        return


def _connect_out(host: str, port: int, exit_ip: str) -> socket.socket:
    if not _loopback(host):
        raise PermissionError(f"test proxy refuses to leave the loopback: {host}")
    return socket.create_connection((host, port), timeout=5, source_address=(exit_ip, 0))


# -- an HTTP proxy --------------------------------------------------------------------------------
class HttpProxy(_Server):
    """A forwarding HTTP proxy: `GET http://host:port/path` and `CONNECT host:port`, out from
    `exit_ip`. With `username`/`password` it wants `Proxy-Authorization: Basic …` (else 407);
    with `tls` = (cert, key) clients reach it over TLS (an `https://` proxy). `requests` lists
    the request lines it got; `auth_seen` the Proxy-Authorization headers."""

    def __init__(
        self,
        exit_ip: str = "127.0.0.2",
        username: str | None = None,
        password: str | None = None,
        tls: tuple[Path, Path] | None = None,
    ):
        self.exit_ip = exit_ip
        self.requests: list[str] = []
        self.auth_seen: list[str | None] = []
        proxy = self
        expected = None
        if username is not None:
            expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                conn = self.connection
                reader = self.rfile
                line = reader.readline(8192).decode("latin-1").rstrip("\r\n")
                if not line:
                    return
                headers: list[tuple[str, str]] = []
                while True:
                    h = reader.readline(8192).decode("latin-1").rstrip("\r\n")
                    if not h:
                        break
                    k, _, v = h.partition(":")
                    headers.append((k.strip(), v.strip()))
                proxy.requests.append(line)
                auth = next((v for k, v in headers if k.lower() == "proxy-authorization"), None)
                proxy.auth_seen.append(auth)
                if expected is not None and auth != expected:
                    conn.sendall(
                        b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                        b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
                    )
                    return
                method, target, _version = (line.split(" ") + ["", ""])[:3]
                try:
                    if method == "CONNECT":
                        host, _, port = target.rpartition(":")
                        upstream = _connect_out(host.strip("[]"), int(port), proxy.exit_ip)
                        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        with upstream:
                            _pipe(conn, upstream)
                        return
                    parts = urlsplit(target)
                    if parts.scheme != "http" or not parts.hostname:
                        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        return
                    upstream = _connect_out(parts.hostname, parts.port or 80, proxy.exit_ip)
                except (PermissionError, OSError, ValueError):
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    return
                with upstream:
                    path = parts.path or "/"
                    if parts.query:
                        path += "?" + parts.query
                    out = [f"{method} {path} HTTP/1.1"]
                    out += [
                        f"{k}: {v}"
                        for k, v in headers
                        if k.lower() not in ("proxy-authorization", "proxy-connection", "connection")
                    ]
                    out.append("Connection: close")
                    upstream.sendall(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
                    _pipe(conn, upstream)

        class Server(_ThreadingTCP):
            def get_request(self):
                sock, addr = super().get_request()
                if tls is not None:
                    sock = server_context(tls).wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
                return sock, addr

        self.server = Server(("127.0.0.1", 0), Handler)
        self.scheme = "https" if tls else "http"
        self._serve()

    def spec(self, username: str | None = None, password: str | None = None) -> str:
        creds = f"{username}:{password}@" if username else ""
        return f"{self.scheme}://{creds}127.0.0.1:{self.port}"


# -- a SOCKS5 proxy ---------------------------------------------------------------------------------
class Socks5Proxy(_Server):
    """RFC 1928 CONNECT (IPv4, domain and IPv6 addresses), with RFC 1929 user/password when
    `username` is set, out from `exit_ip`. `targets` lists the (host, port) asked for."""

    def __init__(self, exit_ip: str = "127.0.0.4", username: str | None = None, password: str | None = None):
        self.exit_ip = exit_ip
        self.targets: list[tuple[str, int]] = []
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def _read(self, n: int) -> bytes:
                data = b""
                while len(data) < n:
                    chunk = self.request.recv(n - len(data))
                    if not chunk:
                        raise ConnectionError("client went away")
                    data += chunk
                return data

            def handle(self):
                conn = self.request
                try:
                    ver, n = self._read(2)
                    methods = self._read(n)
                    if ver != 5:
                        return
                    want = 2 if username is not None else 0
                    if want not in methods:
                        conn.sendall(b"\x05\xff")
                        return
                    conn.sendall(bytes([5, want]))
                    if want == 2:
                        _v, ulen = self._read(2)
                        user = self._read(ulen).decode()
                        (plen,) = self._read(1)
                        pw = self._read(plen).decode()
                        ok = user == username and pw == password
                        conn.sendall(b"\x01\x00" if ok else b"\x01\x01")
                        if not ok:
                            return
                    _v, cmd, _r, atyp = self._read(4)
                    if atyp == 1:
                        host = socket.inet_ntop(socket.AF_INET, self._read(4))
                    elif atyp == 4:
                        host = socket.inet_ntop(socket.AF_INET6, self._read(16))
                    else:
                        (ln,) = self._read(1)
                        host = self._read(ln).decode()
                    (port,) = struct.unpack("!H", self._read(2))
                    proxy.targets.append((host, port))
                    if cmd != 1:
                        conn.sendall(b"\x05\x07\x00\x01" + bytes(6))
                        return
                    try:
                        upstream = _connect_out(host, port, proxy.exit_ip)
                    except OSError:
                        conn.sendall(b"\x05\x05\x00\x01" + bytes(6))  # connection refused
                        return
                    bound = socket.inet_aton(upstream.getsockname()[0]) + struct.pack("!H", upstream.getsockname()[1])
                    conn.sendall(b"\x05\x00\x00\x01" + bound)
                    with upstream:
                        _pipe(conn, upstream)
                except (ConnectionError, OSError, ValueError):
                    return

        self.server = _ThreadingTCP(("127.0.0.1", 0), Handler)
        self._serve()

    def spec(self, scheme: str = "socks5", username: str | None = None, password: str | None = None) -> str:
        creds = f"{username}:{password}@" if username else ""
        return f"{scheme}://{creds}127.0.0.1:{self.port}"


# -- ports that misbehave -----------------------------------------------------------------------------
class RefusingPort:
    """A port bound and not listening: connecting is refused (and nobody else gets the port)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SilentPort:
    """A port that accepts connections (the kernel completes the handshake) and never answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class HangingPort:
    """A port that accepts connections, reads nothing and never answers; `accepted` is set once
    a client is connected (so a test can wait for that instead of sleeping)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted = threading.Event()
        self.clients: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.clients.append(conn)
            self.accepted.set()

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.clients:
            c.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def echo():
    with EchoServer() as server:
        yield server


@pytest.fixture
def tls_echo(certificate):
    with EchoServer(tls=certificate) as server:
        yield server


@pytest.fixture
def http_proxy():
    with HttpProxy() as server:
        yield server


@pytest.fixture
def socks_proxy():
    with Socks5Proxy() as server:
        yield server


@pytest.fixture
def refusing_port():
    with RefusingPort() as port:
        yield port


@pytest.fixture
def silent_port():
    with SilentPort() as port:
        yield port

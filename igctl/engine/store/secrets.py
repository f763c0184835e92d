"""Secrets at rest: Fernet, with the key in `secret.key` (mode 0600) or `IGCTL_SECRET_KEY`.

The key file holds one key a line, the first one current. During `secrets rotate` it briefly
holds the new key and the old one (MultiFernet), so a crash half-way leaves every secret
readable; when every value is re-encrypted the old key is dropped.

A known value encrypted at `init` (`meta.key_check`) tells a wrong key from damaged data, so a
wrong key is a clear error at once and never garbage.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .errors import SecretError

if TYPE_CHECKING:  # workspace.py imports this module: a run-time import would be a cycle
    from .workspace import Workspace

ENV_KEY = "IGCTL_SECRET_KEY"
KEY_CHECK_PLAINTEXT = "igctl key check"

# Every column that holds a secret, as (table, column). `secrets rotate` walks this list.
SECRET_COLUMNS = [
    ("accounts", "password_enc"),
    ("accounts", "email_password_enc"),
    ("accounts", "extras_enc"),
    ("proxies", "password_enc"),
    ("meta", "value"),  # only the row key_check; see rotate()
]


def write_key_file(path: Path, keys: list[bytes]) -> None:
    """Write atomically with mode 0600 from the first byte (never briefly world-readable)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, b"\n".join(keys) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _parse_keys(text: str, source: str) -> list[bytes]:
    keys = [line.strip().encode() for line in text.splitlines() if line.strip()]
    if not keys:
        raise SecretError(f"{source} holds no key")
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise SecretError(f"{source} does not hold a valid Fernet key") from None
    return keys


def load_keys(key_path: Path) -> tuple[list[bytes], str]:
    """The keys (current first) and where they came from."""
    env = os.environ.get(ENV_KEY)
    if env:
        return _parse_keys(env.replace(",", "\n"), ENV_KEY), ENV_KEY
    try:
        st = key_path.stat()
    except FileNotFoundError:
        raise SecretError(
            f"the key file {key_path} is missing (restore it from your backup, or set {ENV_KEY})"
        ) from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(
            f"the key file {key_path} is readable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"run: chmod 600 {key_path}"
        )
    return _parse_keys(key_path.read_text(encoding="ascii", errors="replace"), str(key_path.name)), str(key_path)


def _file_stamp(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class Cipher:
    """Encrypts with the first key, decrypts with any. With `key_path`, a key file changed by
    another process (`secrets rotate` while serve-bots, watch or the dashboard run) is read
    again: before encrypting, so nothing new is encrypted with a key the rotation dropped, and
    when a token does not decrypt, so the re-encrypted secrets stay readable."""

    def __init__(self, keys: list[bytes], source: str = "key", key_path: Path | None = None):
        self.keys = keys
        self.source = source
        self._fernet = MultiFernet([Fernet(k) for k in keys])
        self._key_path = key_path
        self._stamp = _file_stamp(key_path) if key_path is not None else None

    def _reload(self) -> bool:
        """Read the key file again if it changed since it was read; True when it did."""
        if self._key_path is None:
            return False
        stamp = _file_stamp(self._key_path)
        if stamp is None or stamp == self._stamp:
            return False
        keys, _ = load_keys(self._key_path)
        # one assignment each: a thread using the old MultiFernet meanwhile is still right
        self._fernet = MultiFernet([Fernet(k) for k in keys])
        self.keys = keys
        self._stamp = stamp
        return True

    @overload
    def encrypt(self, plaintext: str) -> str: ...
    @overload
    def encrypt(self, plaintext: None) -> None: ...
    @overload
    def encrypt(self, plaintext: str | None) -> str | None: ...
    def encrypt(self, plaintext: str | None) -> str | None:
        if plaintext is None:
            return None
        self._reload()
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    @overload
    def decrypt(self, token: str) -> str: ...
    @overload
    def decrypt(self, token: None) -> None: ...
    @overload
    def decrypt(self, token: str | None) -> str | None: ...
    def decrypt(self, token: str | None) -> str | None:
        if token is None:
            return None
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            if self._reload():
                return self.decrypt(token)
            raise SecretError(
                f"cannot decrypt a stored secret with the key from {self.source}: wrong key for this workspace"
            ) from None

    def rotate_token(self, token: str | None) -> str | None:
        if token is None:
            return None
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise SecretError(f"cannot re-encrypt a stored secret with the key from {self.source}") from None

    def encrypt_bytes(self, data: bytes) -> bytes:
        self._reload()
        return self._fernet.encrypt(data)

    def decrypt_bytes(self, token: bytes) -> bytes:
        """Raises InvalidToken for a wrong key or damaged data (callers name the file)."""
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            if self._reload():
                return self._fernet.decrypt(token)
            raise

    def rotate_bytes(self, token: bytes) -> bytes:
        return self._fernet.rotate(token)

    def check(self, key_check: str | None) -> None:
        if key_check is not None and self.decrypt(key_check) != KEY_CHECK_PLAINTEXT:
            raise SecretError(f"the key from {self.source} is not this workspace's key")


def new_key() -> bytes:
    return Fernet.generate_key()


def rotate(ws: Workspace, actor: str = "operator") -> dict[str, Any]:
    """A new key; every stored secret re-encrypted with it; the old key dropped.

    Order matters for crash safety: (1) the key file gets [new, old] — both accepted;
    (2) one transaction re-encrypts every value with the new key; (3) the key file gets [new].
    A crash after (1) or (2) leaves a file that still decrypts everything; running rotate again
    finishes the job.
    """
    if os.environ.get(ENV_KEY):
        raise SecretError(f"{ENV_KEY} is set: rotate the key where it is kept, or unset it to rotate secret.key")
    old_keys, _ = load_keys(ws.key_path)
    old = Cipher(old_keys, ws.key_path.name)
    db = ws.db()
    old.check(db.scalar("SELECT value FROM meta WHERE key = 'key_check'"))
    key = new_key()
    write_key_file(ws.key_path, [key, *old_keys])
    both = Cipher([key, *old_keys], ws.key_path.name)
    counts: dict[str, int] = {}
    with db.write():
        for table, column in SECRET_COLUMNS:
            where = f"{column} IS NOT NULL" + (" AND key = 'key_check'" if table == "meta" else "")
            pk = "key" if table == "meta" else "id"
            rows = db.query(f"SELECT {pk} AS pk, {column} AS value FROM {table} WHERE {where}")
            db.conn.executemany(
                f"UPDATE {table} SET {column} = ? WHERE {pk} = ?",
                [(both.rotate_token(r["value"]), r["pk"]) for r in rows],
            )
            if table != "meta":
                counts[table] = counts.get(table, 0) + len(rows)
        # Sealed files are re-encrypted while both keys are still accepted; a crash here leaves
        # a mix that the key file (still holding both) reads, and a second rotate finishes it.
        files = sealed_files(ws)
        for path in files:
            reseal_file(both, path)
        counts["sealed_files"] = len(files)
        ws.events.record(db, ws.now(), "secrets.rotate", actor, details={"re_encrypted": counts})
    write_key_file(ws.key_path, [key])
    ws.forget_cipher()
    return {"re_encrypted": counts, "total": sum(counts.values())}


# -- sealed files ------------------------------------------------------------------------------
# Files that igctl keeps but that hold plaintext secrets (the originals of dropped import files
# in inbox/processed/ and inbox/failed/) are sealed: replaced, under the same name, by a short
# header and the Fernet token of their bytes. `igctl secrets unseal FILE` gives the bytes back.
SEAL_HEADER = b"# igctl sealed file v1: encrypted with this workspace's key; read it with: igctl secrets unseal FILE\n"


def is_sealed(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(len(SEAL_HEADER)) == SEAL_HEADER


def seal_file(cipher: Cipher, path: Path) -> bool:
    """Seal `path` in place (atomically, mode 0600). False when it was sealed already."""
    data = path.read_bytes()
    if data.startswith(SEAL_HEADER):
        return False
    _replace_bytes(path, SEAL_HEADER + cipher.encrypt_bytes(data) + b"\n")
    return True


def unseal_bytes(cipher: Cipher, path: Path) -> bytes:
    data = path.read_bytes()
    if not data.startswith(SEAL_HEADER):
        raise SecretError(f"{path} is not a file sealed by igctl")
    try:
        return cipher.decrypt_bytes(data[len(SEAL_HEADER) :].strip())
    except InvalidToken:
        raise SecretError(
            f"cannot unseal {path} with the key from {cipher.source}: wrong key or damaged file"
        ) from None


def unseal_file(ws: Workspace, path: Path, *, actor: str = "operator") -> bytes:
    """The original bytes of a sealed file; the reading is written to the event log."""
    path = Path(path)
    if not path.is_file():
        raise SecretError(f"{path}: no such file")
    data = unseal_bytes(ws.cipher, path)
    db = ws.db()
    with db.write():
        ws.events.record(
            db, ws.now(), "secrets.unseal", actor, message=f"unsealed {path.name}", details={"file": str(path)}
        )
    return data


def unseal_in_place(cipher: Cipher, path: Path) -> None:
    """Give a sealed file its original bytes back, under the same name (a kept original that an
    operator moved back into the inbox to import it again)."""
    _replace_bytes(path, unseal_bytes(cipher, path))


def reseal_file(cipher: Cipher, path: Path) -> None:
    """Re-encrypt a sealed file with the cipher's current key (for rotation)."""
    data = path.read_bytes()
    try:
        token = cipher.rotate_bytes(data[len(SEAL_HEADER) :].strip())
    except InvalidToken:
        raise SecretError(f"cannot re-encrypt the sealed file {path}: wrong key or damaged file") from None
    _replace_bytes(path, SEAL_HEADER + token + b"\n")


def _replace_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.sealing")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def sealed_files(ws: Workspace) -> list[Path]:
    """Every sealed file of the workspace (the inbox archive)."""
    out = []
    for folder in (ws.inbox / "processed", ws.inbox / "failed"):
        if folder.is_dir():
            out += [p for p in sorted(folder.iterdir()) if p.is_file() and is_sealed(p)]
    return out

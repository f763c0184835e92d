"""The key file, IGCTL_SECRET_KEY, wrong keys, and rotation."""

from __future__ import annotations

import os

import pytest
from cryptography.fernet import Fernet

from igctl.engine.store import secrets
from igctl.engine.store.errors import SecretError
from igctl.engine.store.workspace import Workspace


def _store_secret(ws: Workspace, plaintext: str) -> None:
    db = ws.db()
    with db.write():
        db.execute(
            "INSERT INTO proxies (host, port, username, password_enc, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            ["192.0.2.1", 8080, "u", ws.cipher.encrypt(plaintext), ws.now(), ws.now()],
        )


def _read_secret(ws: Workspace) -> str:
    return ws.cipher.decrypt(ws.db().scalar("SELECT password_enc FROM proxies"))


def test_round_trip_and_no_plaintext_in_the_database(ws):
    _store_secret(ws, "hunter2-very-secret")
    assert _read_secret(ws) == "hunter2-very-secret"
    ws.close()
    for path in ws.path.rglob("*"):
        if path.is_file():
            assert b"hunter2-very-secret" not in path.read_bytes(), path


def test_a_group_readable_key_file_is_refused(ws, ws_path, igctl):
    os.chmod(ws_path / "secret.key", 0o640)
    with pytest.raises(SecretError, match="readable by others"):
        _ = ws.cipher
    assert "chmod 600" in igctl.error("secrets", "rotate")


def test_a_missing_key_file_is_a_clear_error(ws_path, igctl):
    (ws_path / "secret.key").unlink()
    assert "key file" in igctl.error("secrets", "rotate") and "missing" in igctl.error("secrets", "rotate")


def test_a_wrong_key_is_a_clear_error_never_garbage(ws, ws_path, igctl):
    _store_secret(ws, "pw")
    ws.close()
    secrets.write_key_file(ws_path / "secret.key", [Fernet.generate_key()])
    fresh = Workspace.open(ws_path)
    with pytest.raises(SecretError, match="not this workspace's key|wrong key"):
        _ = fresh.cipher
    fresh.close()
    assert "Error:" in igctl.error("secrets", "rotate")


def test_a_garbled_key_file_is_a_clear_error(ws_path, igctl):
    (ws_path / "secret.key").write_text("not a key\n")
    assert "valid Fernet key" in igctl.error("secrets", "rotate")


def test_igctl_secret_key_overrides_the_file(ws, ws_path, monkeypatch):
    key = (ws_path / "secret.key").read_text().strip()
    _store_secret(ws, "pw")
    ws.close()
    (ws_path / "secret.key").unlink()
    monkeypatch.setenv("IGCTL_SECRET_KEY", key)
    fresh = Workspace.open(ws_path)
    assert _read_secret(fresh) == "pw"
    fresh.close()
    monkeypatch.setenv("IGCTL_SECRET_KEY", Fernet.generate_key().decode())
    fresh = Workspace.open(ws_path)
    with pytest.raises(SecretError):
        _ = fresh.cipher
    fresh.close()


def test_rotate_re_encrypts_everything_and_drops_the_old_key(ws, ws_path, igctl):
    _store_secret(ws, "s3cret")
    old_key = (ws_path / "secret.key").read_text().strip()
    old_token = ws.db().scalar("SELECT password_enc FROM proxies")
    ws.close()
    result = igctl.json("secrets", "rotate")
    assert result["re_encrypted"]["proxies"] == 1
    new_keys = (ws_path / "secret.key").read_text().split()
    assert new_keys != [old_key] and len(new_keys) == 1
    assert oct(os.stat(ws_path / "secret.key").st_mode & 0o777) == "0o600"
    fresh = Workspace.open(ws_path)
    assert fresh.db().scalar("SELECT password_enc FROM proxies") != old_token
    assert _read_secret(fresh) == "s3cret"
    fresh.close()
    # the old key alone no longer opens it
    secrets.write_key_file(ws_path / "secret.key", [old_key.encode()])
    fresh = Workspace.open(ws_path)
    with pytest.raises(SecretError):
        _ = fresh.cipher
    fresh.close()


def test_a_rotation_interrupted_after_the_key_file_was_extended_loses_nothing(ws, ws_path, igctl):
    """Step 1 of rotate done (file = [new, old]), the process died: everything still decrypts,
    and running rotate again finishes the job."""
    _store_secret(ws, "keep-me")
    old = (ws_path / "secret.key").read_text().strip().encode()
    ws.close()
    secrets.write_key_file(ws_path / "secret.key", [Fernet.generate_key(), old])
    fresh = Workspace.open(ws_path)
    assert _read_secret(fresh) == "keep-me"
    fresh.close()
    igctl("secrets", "rotate")
    fresh = Workspace.open(ws_path)
    assert _read_secret(fresh) == "keep-me"
    assert len((ws_path / "secret.key").read_text().split()) == 1
    fresh.close()


def test_rotate_refuses_while_the_key_comes_from_the_environment(ws_path, igctl, monkeypatch):
    monkeypatch.setenv("IGCTL_SECRET_KEY", (ws_path / "secret.key").read_text().strip())
    assert "IGCTL_SECRET_KEY is set" in igctl.error("secrets", "rotate")

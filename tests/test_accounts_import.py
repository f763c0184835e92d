"""`igctl accounts import` and `engine.accounts.import_file`: the file format, invalid lines,
duplicates, refusals, transactions, dry runs, proxy assignment, and no plaintext secrets."""

from __future__ import annotations

import json
import sqlite3
import tracemalloc
from pathlib import Path

import pytest

from igctl.engine.domain import accounts as engine
from igctl.engine.store.errors import InvalidInput
from igctl.engine.store.workspace import Workspace

DATA = Path(__file__).parent / "data"


# -- helpers -------------------------------------------------------------------------------
def rows(ws_path, sql="SELECT * FROM accounts ORDER BY id", params=()):
    conn = sqlite3.connect(ws_path / "igctl.db")
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def snapshot(ws_path) -> dict:
    """Everything an import could change: the tables and the log mirror."""
    state = {t: rows(ws_path, f"SELECT * FROM {t} ORDER BY rowid") for t in ("accounts", "events", "proxies", "tasks")}
    state["logs"] = sorted((p.name, p.read_bytes()) for p in (ws_path / "logs").iterdir())
    return state


def set_config(ws_path, old: str, new: str) -> None:
    cfg = ws_path / "igctl.yaml"
    text = cfg.read_text(encoding="utf-8")
    assert old in text
    cfg.write_text(text.replace(old, new, 1), encoding="utf-8")


def add_proxies(ws_path, n: int, max_accounts: int = 3) -> None:
    conn = sqlite3.connect(ws_path / "igctl.db")
    with conn:
        for i in range(n):
            conn.execute(
                "INSERT INTO proxies (host, port, max_accounts, created_at, updated_at) VALUES (?, 8080, ?, 'x', 'x')",
                [f"192.0.2.{i + 1}", max_accounts],
            )
    conn.close()


def decrypt(ws_path, token):
    ws = Workspace.open(ws_path)
    try:
        return ws.cipher.decrypt(token)
    finally:
        ws.close()


def import_json(igctl, path, *extra):
    return json.loads(igctl("accounts", "import", path, "--json", *extra).stdout)


# -- the format ------------------------------------------------------------------------------
def test_comma_file_is_imported_with_encrypted_secrets(igctl, ws_path, write):
    path = write("a.txt", "alice,Secret-1,alice@example.com\nbob_2,Secret-2,bob@example.com\n")
    result = import_json(igctl, path, "--no-assign")
    assert result["imported"] == 2 and result["duplicates"] == [] and result["invalid"] == []
    assert result["proxies_assigned"] == 0 and result["file"] == str(path)
    stored = rows(ws_path)
    assert [(r["username"], r["email"], r["lifecycle_state"]) for r in stored] == [
        ("alice", "alice@example.com", "imported"),
        ("bob_2", "bob@example.com", "imported"),
    ]
    assert stored[0]["password_enc"] != "Secret-1"
    assert decrypt(ws_path, stored[0]["password_enc"]) == "Secret-1"
    assert stored[0]["email_password_enc"] is None and stored[0]["extras_enc"] is None
    assert stored[0]["import_source"] == "a.txt"
    assert stored[0]["created_at"] == "2026-03-02T10:00:00.000Z"


@pytest.mark.parametrize("sep, name", [(",", "comma"), (":", "colon"), (";", "semicolon"), ("\t", "tab")])
def test_each_separator(igctl, ws_path, write, sep, name):
    lines = [
        sep.join(["alice", "pw-a", "a@example.com", "mail-a", "2fa-seed", "cookie=1"]),
        sep.join(["bob", "pw-b", "b@example.com"]),
        sep.join(["carol", "pw-c"]),
    ]
    result = import_json(igctl, write("a.txt", "\n".join(lines) + "\n"), "--no-assign")
    assert result["imported"] == 3 and result["invalid"] == []
    assert result["separator"] == sep
    a, b, c = rows(ws_path)
    assert decrypt(ws_path, a["password_enc"]) == "pw-a"
    assert a["email"] == "a@example.com"
    assert decrypt(ws_path, a["email_password_enc"]) == "mail-a"
    assert json.loads(decrypt(ws_path, a["extras_enc"])) == ["2fa-seed", "cookie=1"]
    assert (b["email"], b["email_password_enc"], b["extras_enc"]) == ("b@example.com", None, None)
    assert c["email"] is None and decrypt(ws_path, c["password_enc"]) == "pw-c"


def test_separator_is_what_follows_the_username_even_when_passwords_hold_others(igctl, ws_path, write):
    # Colon-separated, passwords full of commas and semicolons.
    text = "alice:pa,ss;1:a@example.com\nbob:x,y,z:b@example.com\ncarol:c;c:c@example.com\n"
    result = import_json(igctl, write("a.txt", text), "--no-assign")
    assert result["separator"] == ":" and result["imported"] == 3
    assert decrypt(ws_path, rows(ws_path)[0]["password_enc"]) == "pa,ss;1"


def test_separator_majority_of_first_lines_decides(igctl, ws_path, write):
    # Two lines vote comma, one votes semicolon: the file is comma-separated.
    text = "alice,pw,a@example.com\nbob;pw;b@example.com\ncarol,pw,c@example.com\n"
    result = import_json(igctl, write("a.txt", text), "--no-assign")
    assert result["separator"] == ","
    assert result["imported"] == 2
    assert result["invalid"] == [
        {"line": 2, "reason": "username 'bob;pw;b@example.com' may hold only letters, digits, '.' and '_'"}
    ]


def test_separator_tie_goes_to_comma(igctl, write, ws_path):
    result = import_json(igctl, write("a.txt", "alice:pw\nbob,pw\n"), "--no-assign")
    assert result["separator"] == ","
    assert [r["username"] for r in rows(ws_path)] == ["bob"]


def test_detect_separator_rule():
    assert engine.detect_separator([]) == ","
    assert engine.detect_separator(["no separator here at all"]) == ","
    assert engine.detect_separator(["a\tb", "c\td", "e,f"]) == "\t"
    assert engine.detect_separator(["a;b", "c:d"]) == ";"  # tie: order , tab ; :
    assert engine.detect_separator(["  a:b"]) == ":"  # leading blanks ignored


def test_bom_crlf_header_and_comments(igctl, ws_path, write):
    content = (
        "\ufeffusername;password;email;email_password\r\n"
        "# exported 2026-03-01\r\n"
        "\r\n"
        "   # an indented comment\r\n"
        "alice;pw1;a@example.com;mail1\r\n"
        "   \r\n"
        "bob;pw2;b@example.com\r\n"
    )
    result = import_json(igctl, write("a.txt", content), "--no-assign")
    assert result["imported"] == 2 and result["invalid"] == [] and result["header_line"] == 1
    a, b = rows(ws_path)
    assert a["username"] == "alice"  # no BOM kept in the first username
    assert decrypt(ws_path, a["password_enc"]) == "pw1"  # no \r kept in a field
    assert decrypt(ws_path, a["email_password_enc"]) == "mail1"
    assert b["email"] == "b@example.com"


def test_bom_on_a_data_line_and_crlf_without_final_newline(igctl, ws_path, write):
    result = import_json(igctl, write("a.txt", b"\xef\xbb\xbfalice,pw\r\nbob,pw2\r"), "--no-assign")
    assert result["imported"] == 2
    assert [r["username"] for r in rows(ws_path)] == ["alice", "bob"]
    assert decrypt(ws_path, rows(ws_path)[1]["password_enc"]) == "pw2"


def test_header_is_recognised_only_as_the_first_data_line(igctl, ws_path, write):
    text = "# accounts\nUserName,Password,Email\nalice,pw,a@example.com\nusername,pw,u@example.com\n"
    result = import_json(igctl, write("a.txt", text), "--no-assign")
    assert result["header_line"] == 2
    assert [r["username"] for r in rows(ws_path)] == ["alice", "username"]


def test_blanks_around_fields_are_trimmed_and_trailing_empty_columns_dropped(igctl, ws_path, write):
    result = import_json(igctl, write("a.txt", "  alice , pw 1 , a@example.com , ,,\n"), "--no-assign")
    assert result["imported"] == 1
    a = rows(ws_path)[0]
    assert (a["username"], a["email"], a["email_password_enc"], a["extras_enc"]) == (
        "alice",
        "a@example.com",
        None,
        None,
    )
    assert decrypt(ws_path, a["password_enc"]) == "pw 1"


def test_empty_email_field_keeps_email_password_and_extras(igctl, ws_path, write):
    import_json(igctl, write("a.txt", "alice,pw,,mailpw,x\n"), "--no-assign")
    a = rows(ws_path)[0]
    assert a["email"] is None
    assert decrypt(ws_path, a["email_password_enc"]) == "mailpw"
    assert json.loads(decrypt(ws_path, a["extras_enc"])) == ["x"]


def test_empty_file_and_comments_only_import_nothing(igctl, ws_path, write):
    assert import_json(igctl, write("a.txt", ""), "--no-assign")["imported"] == 0
    result = import_json(igctl, write("b.txt", "# nothing yet\n\n"), "--no-assign")
    assert (result["imported"], result["invalid"], result["duplicates"]) == (0, [], [])
    assert rows(ws_path) == []


# -- invalid lines --------------------------------------------------------------------------
def test_each_invalid_line_reason_with_its_line_number(igctl, ws_path, write):
    lines = [
        "username,password,email",  # 1 header
        "good_one,pw,g@example.com",  # 2
        "nopass",  # 3 one field
        "emptypass,,e@example.com",  # 4 empty password
        "bad user,pw",  # 5 space in username
        "a" * 31 + ",pw",  # 6 31 characters
        "b" * 30 + ",pw",  # 7 30 characters: fine
        ",pw,x@example.com",  # 8 no username
        "bad-dash,pw",  # 9 dash
        "mail,pw,not-an-email",  # 10 bad email
        "ctrl,p\x07w",  # 11 control character
        "@at_sign,pw",  # 12
        "j.doe_99,pw,j@example.com",  # 13 fine
        "ünï,pw",  # 14 non-ASCII letters
    ]
    result = import_json(igctl, write("a.txt", "\n".join(lines) + "\n"), "--no-assign")
    assert result["imported"] == 3
    assert [r["username"] for r in rows(ws_path)] == ["good_one", "b" * 30, "j.doe_99"]
    assert result["invalid"] == [
        {"line": 3, "reason": "no password for nopass (fields are separated by commas in this file)"},
        {"line": 4, "reason": "no password for emptypass (fields are separated by commas in this file)"},
        {"line": 5, "reason": "username 'bad user' may hold only letters, digits, '.' and '_'"},
        {"line": 6, "reason": f"username {'a' * 31!r} is longer than 30 characters"},
        {"line": 8, "reason": "no username"},
        {"line": 9, "reason": "username 'bad-dash' may hold only letters, digits, '.' and '_'"},
        {"line": 10, "reason": "'not-an-email' is not an e-mail address (third field)"},
        {"line": 11, "reason": "holds a control character"},
        {"line": 12, "reason": "username '@at_sign' may hold only letters, digits, '.' and '_'"},
        {"line": 14, "reason": "username 'ünï' may hold only letters, digits, '.' and '_'"},
    ]


def test_invalid_reasons_never_quote_a_password(igctl, ws_path, write):
    text = "x y,TopSecret9,not-mail\nok,TopSecret8,not-mail\nbad\x01,TopSecret7\n"
    result = import_json(igctl, write("a.txt", text), "--no-assign")
    assert len(result["invalid"]) == 3
    assert "TopSecret" not in json.dumps(result)


def test_line_length_limit_just_inside_and_just_outside(igctl, ws_path, write):
    set_config(ws_path, "max_line_chars: 4096", "max_line_chars: 80")
    inside = "alice,pw," + "e" * (80 - len("alice,pw,") - len("@x.io")) + "@x.io"
    outside = "bob,pw," + "e" * (81 - len("bob,pw,") - len("@x.io")) + "@x.io"
    assert (len(inside), len(outside)) == (80, 81)
    # A line far beyond the limit (read in pieces) is reported the same way.
    huge = "carol,pw," + "z" * 50_000
    result = import_json(igctl, write("a.txt", f"{inside}\n{outside}\n{huge}\ndave,pw\n"), "--no-assign")
    assert result["invalid"] == [
        {"line": 2, "reason": "line is longer than 80 characters"},
        {"line": 3, "reason": "line is longer than 80 characters"},
    ]
    assert [r["username"] for r in rows(ws_path)] == ["alice", "dave"]


def test_line_limit_counts_characters_not_bytes(igctl, ws_path, write):
    set_config(ws_path, "max_line_chars: 4096", "max_line_chars: 80")
    line = "alice," + "é" * 74  # 80 characters, 154 bytes: the password is the é's
    assert len(line) == 80
    result = import_json(igctl, write("a.txt", line + "\n"), "--no-assign")
    assert result["imported"] == 1 and result["invalid"] == []


def test_carriage_return_inside_a_line_is_reported(igctl, ws_path, write):
    result = import_json(igctl, write("a.txt", "alice,pw\rbob,pw\ncarol,pw\n"), "--no-assign")
    assert result["invalid"] == [
        {"line": 1, "reason": "holds a carriage return inside the line (use LF or CRLF line endings)"}
    ]
    assert [r["username"] for r in rows(ws_path)] == ["carol"]


# -- duplicates ------------------------------------------------------------------------------
def test_duplicates_in_the_file_case_insensitive_first_one_wins(igctl, ws_path, write):
    text = "Alice,pw1,a@example.com\nbob,pw\nALICE,pw2\nalice,pw3\n"
    result = import_json(igctl, write("a.txt", text), "--no-assign")
    assert result["imported"] == 2
    assert result["duplicates"] == ["ALICE", "alice"]
    assert result["duplicate_lines"] == [
        {"line": 3, "username": "ALICE", "reason": "also on line 1 of this file"},
        {"line": 4, "username": "alice", "reason": "also on line 1 of this file"},
    ]
    stored = rows(ws_path)
    assert [r["username"] for r in stored] == ["Alice", "bob"]  # stored as given
    assert decrypt(ws_path, stored[0]["password_enc"]) == "pw1"


def test_duplicates_against_the_database_case_insensitive(igctl, ws_path, write):
    import_json(igctl, write("a.txt", "Alice,pw1\n"), "--no-assign")
    result = import_json(igctl, write("b.txt", "carol,pw\nalice,pw2\nALICE,pw3\n"), "--no-assign")
    assert result["imported"] == 1
    assert result["duplicates"] == ["alice", "ALICE"]
    assert result["duplicate_lines"] == [
        {"line": 2, "username": "alice", "reason": "already stored"},
        {"line": 3, "username": "ALICE", "reason": "also on line 2 of this file"},
    ]
    assert decrypt(ws_path, rows(ws_path)[0]["password_enc"]) == "pw1"


def test_duplicates_across_batches(igctl, ws_path, write):
    # More lines than one insert batch; the repeat comes after the first batch is written.
    n = engine.BATCH_ROWS + 10
    text = "".join(f"user{i},pw\n" for i in range(n)) + "USER3,pw\n"
    result = import_json(igctl, write("a.txt", text), "--no-assign")
    assert result["imported"] == n
    assert result["duplicate_lines"] == [{"line": n + 1, "username": "USER3", "reason": "also on line 4 of this file"}]


def test_reimporting_the_same_file_imports_nothing(igctl, ws_path, write):
    path = write("a.txt", "alice,pw\nbob,pw\n")
    import_json(igctl, path, "--no-assign")
    result = import_json(igctl, path, "--no-assign")
    assert result["imported"] == 0 and result["duplicates"] == ["alice", "bob"]


# -- refusals --------------------------------------------------------------------------------
def refused(igctl, ws_path, *args) -> str:
    before = snapshot(ws_path)
    message = igctl.error("accounts", "import", *args)
    assert snapshot(ws_path) == before
    return message


def test_missing_file_is_refused(igctl, ws_path, tmp_path):
    assert refused(igctl, ws_path, tmp_path / "nope.txt") == f"Error: {tmp_path / 'nope.txt'}: no such file"


def test_folder_is_refused(igctl, ws_path, tmp_path):
    (tmp_path / "dir").mkdir()
    assert "is a folder" in refused(igctl, ws_path, tmp_path / "dir")


def test_binary_file_is_refused(igctl, ws_path, write):
    path = write("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert refused(igctl, ws_path, path) == f"Error: {path} is not a text file (it holds binary data)"


def test_utf16_file_is_refused_with_a_hint(igctl, ws_path, write):
    path = write("a.txt", "alice,pw\n".encode("utf-16"))
    assert refused(igctl, ws_path, path) == f"Error: {path} is UTF-16 text; save it as UTF-8 and import it again"


def test_invalid_utf8_names_the_line_and_rolls_back_earlier_batches(igctl, ws_path, write):
    good = "".join(f"user{i},pw{i}\n" for i in range(engine.BATCH_ROWS * 3))  # several batches written first
    path = write("a.txt", good.encode() + b"late,caf\xe9\n")  # Latin-1 é
    line = engine.BATCH_ROWS * 3 + 1
    message = refused(igctl, ws_path, path)
    assert message == f"Error: {path} is not valid UTF-8 (line {line}); save it as UTF-8 — nothing was imported"


def test_nul_byte_late_in_the_file_is_refused(igctl, ws_path, write):
    path = write(
        "a.txt", ("alice,pw\n" * 1).encode() + b"".join(f"u{i},pw\n".encode() for i in range(5000)) + b"x,\x00\n"
    )
    assert (
        refused(igctl, ws_path, path)
        == f"Error: {path} is not a text file (NUL byte on line 5002); nothing was imported"
    )


def test_invalid_utf8_inside_an_overlong_line_is_refused(igctl, ws_path, write):
    set_config(ws_path, "max_line_chars: 4096", "max_line_chars: 80")
    path = write("a.txt", b"alice,pw\n" + b"bob,pw," + b"x" * 5000 + b"\xff" + b"y" * 10 + b"\ncarol,pw\n")
    assert "is not valid UTF-8 (line 2)" in refused(igctl, ws_path, path)


def test_file_size_limit_just_inside_and_just_outside(igctl, ws_path, write):
    set_config(ws_path, "max_file_mb: 200", "max_file_mb: 0.001")  # 1048.576 bytes
    inside = write("inside.txt", b"alice,pw\n" + b"#" * 1038 + b"\n")
    outside = write("outside.txt", b"alice,pw\n" + b"#" * 1039 + b"\n")
    assert (inside.stat().st_size, outside.stat().st_size) == (1048, 1049)
    message = refused(igctl, ws_path, outside)
    assert (
        message == f"Error: {outside} is 0.001 MB, over the import limit of 0.001 MB (import.max_file_mb in igctl.yaml)"
    )
    assert import_json(igctl, inside, "--no-assign")["imported"] == 1


def test_unreadable_password_key_refuses_before_anything_is_stored(igctl, ws_path, write, monkeypatch):
    from cryptography.fernet import Fernet

    monkeypatch.setenv("IGCTL_SECRET_KEY", Fernet.generate_key().decode())
    message = refused(igctl, ws_path, write("a.txt", "alice,pw\n"))
    assert "wrong key for this workspace" in message


def test_engine_refusals_raise_invalid_input(ws, tmp_path):
    with pytest.raises(InvalidInput, match="no such file"):
        engine.import_file(ws, tmp_path / "missing.txt")
    assert ws.db().scalar("SELECT count(*) FROM accounts") == 0


# -- one transaction, dry run, events, progress -------------------------------------------------
def test_dry_run_reports_exactly_and_stores_nothing(igctl, ws_path, write):
    add_proxies(ws_path, 1)
    import_json(igctl, write("old.txt", "carol,pw\n"), "--no-assign")
    path = write("a.txt", "alice,pw\nbad user,pw\nCAROL,pw\nbob,pw\ndave,pw\nerin,pw\n")
    before = snapshot(ws_path)
    dry = import_json(igctl, path, "--dry-run")
    assert snapshot(ws_path) == before
    assert dry["dry_run"] is True
    real = import_json(igctl, path)
    assert real["dry_run"] is False
    for key in ("imported", "duplicates", "invalid", "proxies_assigned", "duplicate_lines", "separator"):
        assert dry[key] == real[key], key
    # one proxy, three slots: carol (imported earlier, oldest) and two new accounts
    assert real["imported"] == 4 and real["proxies_assigned"] == 3


def test_dry_run_human_output_says_nothing_was_stored(igctl, ws_path, write):
    out = igctl("accounts", "import", write("a.txt", "alice,pw\n"), "--dry-run").stdout
    assert "1 account would be imported" in out
    assert out.rstrip().endswith("Dry run: nothing was stored.")
    assert rows(ws_path) == []


def test_imported_accounts_get_free_proxy_slots(igctl, ws_path, write):
    add_proxies(ws_path, 2)  # 6 slots
    text = "".join(f"user{i},pw\n" for i in range(8))
    result = import_json(igctl, write("a.txt", text))
    assert result["imported"] == 8 and result["proxies_assigned"] == 6
    states = [(r["lifecycle_state"], r["proxy_id"]) for r in rows(ws_path)]
    assert states.count(("proxy_assigned", 1)) == 3 and states.count(("proxy_assigned", 2)) == 3
    assert states[-2:] == [("imported", None), ("imported", None)]


def test_no_assign_leaves_accounts_imported(igctl, ws_path, write):
    add_proxies(ws_path, 1)
    result = import_json(igctl, write("a.txt", "alice,pw\nbob,pw\n"), "--no-assign")
    assert result["proxies_assigned"] == 0
    assert {(r["lifecycle_state"], r["proxy_id"]) for r in rows(ws_path)} == {("imported", None)}


def test_one_import_event_with_counts_and_a_command_event(igctl, ws_path, write):
    path = write("a.txt", "alice,Pw-One,a@example.com,Mail-One\nalice,Pw-Two\nbad user,x\n")
    igctl("accounts", "import", path, "--no-assign")
    events = rows(ws_path, "SELECT * FROM events WHERE kind IN ('accounts.import', 'command') ORDER BY id")
    assert [e["kind"] for e in events] == ["command", "accounts.import"]
    details = json.loads(events[1]["details_json"])
    assert details == {
        "file": str(path),
        "imported": 1,
        "duplicates": 1,
        "invalid": 1,
        "proxies_assigned": 0,
        "separator": "comma",
        "lines": 3,
    }
    assert events[1]["message"] == "1 accounts imported from a.txt"
    assert json.loads(events[0]["details_json"])["file"] == str(path)
    assert events[0]["message"] == "accounts import"


def test_progress_is_called_with_lines_handled(ws, write):
    n = engine.PROGRESS_EVERY * 2 + 123
    path = write("a.txt", "# header comment\n" + "".join(f"u{i},pw\n" for i in range(n - 1)))
    calls = []
    result = engine.import_file(ws, path, assign=False, progress=calls.append)
    assert result["imported"] == n - 1
    assert sum(calls) == n == engine.count_lines(path)
    assert calls[0] == engine.PROGRESS_EVERY and len(calls) == 3


def test_count_lines_without_final_newline(write):
    assert engine.count_lines(write("a.txt", "a\nb")) == 2
    assert engine.count_lines(write("b.txt", "a\nb\n")) == 2
    assert engine.count_lines(write("c.txt", "")) == 0


def test_engine_import_joins_the_callers_transaction(ws, write):
    db = ws.db()
    with pytest.raises(RuntimeError), db.write():
        engine.import_file(ws, write("a.txt", "alice,pw\n"), assign=False)
        raise RuntimeError("the caller fails after the import")
    assert db.scalar("SELECT count(*) FROM accounts") == 0


def test_memory_stays_flat_in_the_file_size(ws, write, tmp_path):
    # 8,000 lines of ~2,000 characters (extras) = ~16 MB; the import must never hold the file.
    path = tmp_path / "big.txt"
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(8000):
            fh.write(f"user{i},pw{i},u{i}@example.com,mail,{'x' * 1950}\n")
    size = path.stat().st_size
    tracemalloc.start()
    try:
        result = engine.import_file(ws, path, assign=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result["imported"] == 8000
    assert peak < size / 4, (peak, size)


# -- several files ---------------------------------------------------------------------------
def test_several_files_each_their_own_result(igctl, ws_path, write):
    a = write("a.txt", "alice,pw\nbad user,pw\n")
    b = write("b.txt", "bob;pw\nALICE;pw\n")
    result = json.loads(igctl("accounts", "import", a, b, "--json", "--no-assign").stdout)
    assert result["imported"] == 2
    assert result["duplicates"] == ["ALICE"]
    assert result["invalid"] == [
        {"line": 2, "reason": "username 'bad user' may hold only letters, digits, '.' and '_'", "file": str(a)}
    ]
    assert result["proxies_assigned"] == 0
    assert [f["file"] for f in result["files"]] == [str(a), str(b)]
    assert [f["separator"] for f in result["files"]] == [",", ";"]


def test_several_files_a_missing_one_refuses_all_before_any_import(igctl, ws_path, write, tmp_path):
    a = write("a.txt", "alice,pw\n")
    refused(igctl, ws_path, a, tmp_path / "missing.txt")


def test_several_files_a_bad_one_keeps_the_files_before_it(igctl, ws_path, write):
    a = write("a.txt", "alice,pw\n")
    b = write("b.txt", b"bob,pw\ncaf\xe9,pw\n")
    c = write("c.txt", "carol,pw\n")
    message = igctl.error("accounts", "import", a, b, c, "--no-assign")
    assert message == (
        f"Error: {b} is not valid UTF-8 (line 2); save it as UTF-8 — nothing was imported; "
        "files before it stay imported: a.txt (1 imported)"
    )
    assert [r["username"] for r in rows(ws_path)] == ["alice"]


def test_human_summary(igctl, ws_path, write):
    path = write("a.txt", "alice,pw\nALICE,pw\nbad user,pw\n")
    out = igctl("accounts", "import", path, "--no-assign").stdout
    assert out.splitlines() == [
        "a.txt: 1 account imported, 1 duplicate, 1 invalid line, 0 proxy slots assigned (comma-separated).",
        "  line 2: duplicate ALICE (also on line 1 of this file)",
        "  line 3: username 'bad user' may hold only letters, digits, '.' and '_'",
    ]


def test_json_shape_is_exactly_the_contract(igctl, ws_path, write):
    result = import_json(igctl, write("a.txt", "alice,pw\nalice,pw\nx y,pw\n"), "--no-assign")
    assert {"imported", "duplicates", "invalid", "proxies_assigned"} <= set(result)
    assert isinstance(result["imported"], int) and isinstance(result["proxies_assigned"], int)
    assert result["duplicates"] == ["alice"]
    assert all(set(i) == {"line", "reason"} and isinstance(i["line"], int) for i in result["invalid"])


# -- examples and sample files ----------------------------------------------------------------
def test_examples_file_imports_as_documented(igctl, ws_path):
    example = Path(__file__).parents[1] / "examples" / "accounts.txt"
    result = import_json(igctl, example, "--no-assign")
    assert result["imported"] == 20
    assert len(result["duplicates"]) == 1 and len(result["invalid"]) == 1
    assert result["header_line"] is not None


def test_windows_export_sample(igctl, ws_path):
    result = import_json(igctl, DATA / "accounts_windows_export.csv", "--no-assign")
    assert result["separator"] == ";" and result["header_line"] == 1
    assert result["imported"] == 3 and result["invalid"] == [] and result["duplicates"] == []
    stored = rows(ws_path)
    assert [r["username"] for r in stored] == ["lena.hoffmann_92", "marco.rossi", "sofia_nunes"]
    assert json.loads(decrypt(ws_path, stored[0]["extras_enc"])) == ["JBSWY3DPEHPK3PXP", "iPhone 12 #3"]


# -- no plaintext secrets --------------------------------------------------------------------
def test_no_plaintext_secret_anywhere_in_the_workspace(igctl, ws_path, write):
    secrets = ["Pw-Alice-Zq81x", "Mail-Alice-Uu3k9", "TOTP-SEED-J7K2L9", "Pw-Bob-Yy55t", "Pw-Dup-Oo88n", "Pw-Bad-Ii77h"]
    add_proxies(ws_path, 1)
    # An open connection keeps the WAL file from being checkpointed away, so it is searched too.
    keep = sqlite3.connect(ws_path / "igctl.db")
    keep.execute("SELECT count(*) FROM accounts").fetchone()
    path = write(
        "a.txt",
        f"alice,{secrets[0]},a@example.com,{secrets[1]},{secrets[2]}\n"
        f"bob,{secrets[3]}\nALICE,{secrets[4]}\nbad user,{secrets[5]}\n",
    )
    igctl("accounts", "import", path)
    igctl("accounts", "import", path, "--json")
    igctl("accounts", "import", path, "--dry-run")
    shown = json.loads(igctl("accounts", "show", "alice", "--reveal", "--json").stdout)
    assert shown["password"] == secrets[0] and shown["extras"] == [secrets[2]]
    igctl("accounts", "show", "bob", "--reveal")
    igctl("accounts", "list", "--json")
    files = [p for p in ws_path.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"igctl.db", "igctl.db-wal"} <= names and any(n.startswith("events-") for n in names)
    assert (ws_path / "igctl.db-wal").stat().st_size > 0
    try:
        for p in files:
            data = p.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, f"{secret} in {p}"
                assert secret.encode("utf-16-le") not in data, f"{secret} in {p}"
    finally:
        keep.close()


def test_separator_detection_looks_only_at_the_start_of_the_file(igctl, ws_path, write):
    # Many comments first: detection stops after 1,000 lines and falls back to comma; the
    # colon lines that follow are then invalid (the whole line is read as the username).
    text = "# note\n" * engine.DETECT_MAX_LINES + "alice:pw\n"
    result = import_json(igctl, write("a.txt", text), "--no-assign")
    assert result["separator"] == ","
    assert result["invalid"] == [
        {
            "line": engine.DETECT_MAX_LINES + 1,
            "reason": "username 'alice:pw' may hold only letters, digits, '.' and '_'",
        }
    ]
    # Within the window the first data line decides.
    text = "# note\n" * (engine.DETECT_MAX_LINES - 1) + "alice:pw\n"
    assert import_json(igctl, write("b.txt", text), "--no-assign")["separator"] == ":"

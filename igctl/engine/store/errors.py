"""Domain errors. Each carries the HTTP status the bot API answers with; the CLI prints
`Error: <message>` and exits 1 for any of them. Anything else is a bug and keeps its traceback.

Messages speak of things ("a reason is required to retire an account"), never of a face's
controls: the dashboard shows them as they are. `about` names the inputs an error is about, by
the engine's parameter names (`reason`, `count`, ...), so a face can point at its own control
for them (the CLI adds its option: "(--reason TEXT)").
"""

from __future__ import annotations

from typing import Any


class IgctlError(Exception):
    http_status = 400

    def __init__(self, message: str, detail: Any = None, *, about: tuple[str, ...] = ()):
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.about = about


class InvalidInput(IgctlError):
    http_status = 400


class UsageError(InvalidInput):
    """The request cannot be read as asked (both a list of accounts and "all of them", or
    neither): not bad data but a malformed call. The CLI shows its usage and exits 2."""


class Unauthorized(IgctlError):
    http_status = 401


class Forbidden(IgctlError):
    http_status = 403


class NotFound(IgctlError):
    http_status = 404


class Conflict(IgctlError):
    http_status = 409


class IllegalTransition(Conflict):
    pass


class TooLarge(IgctlError):
    http_status = 413


class WorkspaceError(IgctlError):
    """No workspace, a broken igctl.yaml, a database from a newer igctl."""

    http_status = 500


class SecretError(IgctlError):
    """Missing, unsafe or wrong key."""

    http_status = 500

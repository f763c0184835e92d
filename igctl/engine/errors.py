"""Domain errors. Each carries the HTTP status the bot API answers with; the CLI prints
`Error: <message>` and exits 1 for any of them. Anything else is a bug and keeps its traceback."""


class IgctlError(Exception):
    http_status = 400

    def __init__(self, message: str, detail=None):
        super().__init__(message)
        self.message = message
        self.detail = detail


class InvalidInput(IgctlError):
    http_status = 400


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

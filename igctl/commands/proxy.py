"""`igctl proxy` (being written)."""

COMMANDS: list = []

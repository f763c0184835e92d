"""`igctl bot` (being written)."""

COMMANDS: list = []

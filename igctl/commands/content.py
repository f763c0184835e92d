"""`igctl content` (being written)."""

COMMANDS: list = []

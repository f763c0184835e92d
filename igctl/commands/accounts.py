"""`igctl accounts` (being written)."""

COMMANDS: list = []

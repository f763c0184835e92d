"""`igctl watch` (being written)."""

COMMANDS: list = []

"""`igctl model` (being written)."""

COMMANDS: list = []

"""`igctl report` (being written)."""

COMMANDS: list = []

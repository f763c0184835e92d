"""`igctl simulate` (being written)."""

COMMANDS: list = []

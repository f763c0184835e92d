"""`igctl review` (being written)."""

COMMANDS: list = []

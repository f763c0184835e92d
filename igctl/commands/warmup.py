"""`igctl warmup` (being written)."""

COMMANDS: list = []

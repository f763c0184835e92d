"""`igctl serve` (being written)."""

COMMANDS: list = []

"""Thin click commands: parse, call igctl.engine, render."""

"""igctl: the single source of truth for a fleet of Instagram accounts worked by bot PCs."""

__version__ = "0.1.0"

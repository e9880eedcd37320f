"""signals: find hate and polarization signals in public feedback."""

__version__ = "0.1.0"

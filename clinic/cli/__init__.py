"""The staff command line (`clinic ...`, `python -m clinic.cli`): bookings, SMS, the console's
staff accounts, erasure and retention; ``commands`` holds them, ``output`` formats their tables
and times. ``main`` is re-exported for the installed `clinic` script (entry point clinic.cli:main)."""

from clinic.cli.commands import main

__all__ = ["main"]

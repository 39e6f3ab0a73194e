"""The staff command line (`clinic ...`, `python -m clinic.cli.main`): bookings, SMS, the
console's staff accounts, erasure and retention; ``output`` formats its tables and times."""

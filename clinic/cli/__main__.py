"""`python -m clinic.cli`: the staff command line."""

import sys

from clinic.cli.commands import main

sys.exit(main())

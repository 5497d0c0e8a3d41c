"""`python -m switchboard.cli ...`: the same `main` as the `switchboard` command."""

import sys

from switchboard.cli import main

sys.exit(main())

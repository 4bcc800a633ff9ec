"""`python -m display` is `wartemarke-display`."""

import sys

from display.cli import main

sys.exit(main())

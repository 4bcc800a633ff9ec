"""`python -m kiosk` is `wartemarke-kiosk`."""

import sys

from kiosk.cli import main

sys.exit(main())

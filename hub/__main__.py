"""`python -m hub` is `wartemarke-hub`."""

import sys

from hub.cli import main

sys.exit(main())

"""`python -m web` is `wartemarke-web`."""

import sys

from web.cli import main

sys.exit(main())

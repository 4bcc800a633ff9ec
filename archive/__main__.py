"""`python -m archive` is `wartemarke-archive`."""

import sys

from archive.cli import main

sys.exit(main())

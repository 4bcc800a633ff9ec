"""`python -m hubprocess` is `wartemarke-hub`."""

import sys

from hubprocess.cli import main

sys.exit(main())

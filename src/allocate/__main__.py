"""``python -m allocate`` runs the command line."""

import sys

from allocate.cli import main

sys.exit(main())

"""``python -m allocate`` runs the command line."""

import sys

from allocate.cli import main

# Guarded: a user's process pool started with "spawn" imports this module again in each worker.
if __name__ == "__main__":
    sys.exit(main())

"""``python -m allocate`` runs the command line."""

import sys

from allocate.cli import main

# Guarded: the analyses' process pools start workers with "spawn", which imports this module
# again in each worker; unguarded, every worker would run the command line once more.
if __name__ == "__main__":
    sys.exit(main())

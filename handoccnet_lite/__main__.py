"""`python -m handoccnet_lite ...` runs the command line (see handoccnet_lite.cli)."""

import sys

from handoccnet_lite.cli import main

if __name__ == "__main__":
    sys.exit(main())

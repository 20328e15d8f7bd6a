"""``python -m handoccnet_lite.assignments release|autograde|feedback|validate`` (see .cli)."""

import sys

from .cli import main

sys.exit(main())

"""Entry point of `python -m fluxtrust`."""

import sys

from .cli import main

sys.exit(main())

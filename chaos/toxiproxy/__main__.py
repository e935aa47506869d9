"""``python -m chaos.toxiproxy [--host H] [--port P] [--config FILE] [--metrics]``."""

import sys

from .cli import main

sys.exit(main())

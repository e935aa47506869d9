"""``python -m chaos.cli``: the ``pushchat`` command."""

import sys

from chaos.cli.main import main

sys.exit(main())

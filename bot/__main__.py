"""``python -m bot`` is the ``charbot`` command."""

import sys

from bot.cli import main

sys.exit(main())

"""``python -m bot`` is the ``charbot`` command."""

import sys

from bot.ops.cli import main

sys.exit(main())

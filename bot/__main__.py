"""`python -m bot` is the same as `dukcapil-bot`."""

import sys

from bot.cli import main

sys.exit(main())

"""`python -m bot` is the same as `dukcapil-bot`."""

import sys

from bot.cli import main

if __name__ == "__main__":  # not again in the import's worker processes (multiprocessing)
    sys.exit(main())

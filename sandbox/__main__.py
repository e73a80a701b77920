"""`python -m sandbox` (`make demo`): the whole service offline, in a browser."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import warnings
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from bot.config import TIMEZONE
from sandbox.core import Sandbox
from sandbox.web import serving


def main(argv: Sequence[str] | None = None) -> int:
    """Build the sandbox, serve the page until Ctrl+C."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "apscheduler", "telegram.ext.Updater"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The bot's conversations are per chat on purpose (as in pyproject's pytest settings).
    warnings.filterwarnings("ignore", message="If 'per_message=False'")
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass
    except OSError as error:
        print(f"cannot serve the sandbox: {error} (try PORT=8081 make demo)", file=sys.stderr)  # noqa: T201
        return 2
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--count", type=int, default=50_000, help="sample residents")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=Path("var/demo"))
    parser.add_argument(
        "--start",
        type=_wib,
        help="the sandbox's first moment, YYYY-MM-DDTHH:MM in WIB (default: now)",
    )
    return parser


def _wib(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=TIMEZONE)


async def _serve(args: argparse.Namespace) -> None:
    args.data_dir.mkdir(parents=True, exist_ok=True)
    print(f"Building the sandbox: {args.count:,} sample residents in {args.data_dir} ...")  # noqa: T201
    sandbox = Sandbox(args.data_dir, count=args.count, seed=args.seed, start=args.start)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    async with serving(sandbox, args.host, args.port) as url:
        print(f"\nSandbox ready: open {url} in a browser (Ctrl+C to stop)\n", flush=True)  # noqa: T201
        await stop.wait()
    print("Sandbox stopped.")  # noqa: T201


if __name__ == "__main__":
    sys.exit(main())

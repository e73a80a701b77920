"""The printable outreach list: CPU seconds of `outreach_pdf.render` for a kecamatan's list.

The drawing runs in a worker thread of the bot and holds the GIL, so every other chat waits on
it. Rows like the real ones (nine columns, upper-case names from the sample generator's name
lists, addresses of one to three lines, households of one to six), split over desa of about
250 rows; timed with the process's CPU clock, the median of three runs at 1,100 rows (a
kecamatan official's list in the fuzz tests) and one run at 5,000. Prints one summary line; the
target is the 1,100 rows'.

Usage: .venv/bin/python benchmarks/outreach_pdf.py [--rows 1100] [--large 5000] [--seed 1]
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import time

import pypdf

from bot import outreach_pdf, sample
from bot.services.summaries import OUTREACH_HEADER

TARGET_S = 0.5
DESA_ROWS = 250
STREETS = ("MAWAR", "MELATI", "KENANGA", "ANGGREK", "FLAMBOYAN", "SEMERU", "KELUD", "BRANTAS")
DUSUN = ("KRAJAN", "SUMBERJO KULON", "BABADAN", "NGLEGOK WETAN", "TEGALREJO", "GEMBONGAN")
STATUSES = ("wajib KTP belum rekam", "berusia 17 tahun pada tahun ini, belum rekam", "NIK nonaktif")


def outreach_rows(count: int, seed: int) -> list[tuple[str, ...]]:
    """`count` rows in OUTREACH_HEADER's order, in walking order (desa, RW, RT)."""
    rng = random.Random(seed)
    rows: list[tuple[str, ...]] = []
    family = 0
    while len(rows) < count:
        family += 1
        names = [_name(rng) for _ in range(rng.randint(1, 6))]
        address = _address(rng, family)
        desa = f"DESA {len(rows) // DESA_ROWS + 1:02d}"
        rw, rt = str(rng.randint(1, 9)), str(rng.randint(1, 20))
        for name in names[: count - len(rows)]:
            members = "; ".join(sorted(other for other in names if other != name))
            born = f"{rng.randint(1950, 2009)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            status = rng.choice(STATUSES)
            rows.append((name, born, status, desa, rw, rt, address, str(family), members))
    return rows


def _name(rng: random.Random) -> str:
    first = rng.choice(sample.MALE_FIRST + sample.FEMALE_FIRST)
    return " ".join(
        [first, *rng.sample(sample.MALE_SECOND + sample.FEMALE_SECOND, rng.randint(0, 3))]
    )


def _address(rng: random.Random, family: int) -> str:
    street = " ".join(rng.sample(STREETS, rng.randint(1, 3)))
    return f"JL. {street} NO. {family % 200} DUSUN {rng.choice(DUSUN)}"


def render_seconds(rows: list[tuple[str, ...]]) -> tuple[float, int]:
    """CPU seconds of one render, and the pages it drew."""
    started = time.process_time()
    data = outreach_pdf.render("Daftar kunjungan Kanigoro, 24 November 2026", OUTREACH_HEADER, rows)
    seconds = time.process_time() - started
    return seconds, len(pypdf.PdfReader(io.BytesIO(data)).pages)


def main() -> None:
    """Parse the options, render both sizes, print the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_100, help="rows of the timed list")
    parser.add_argument("--large", type=int, default=5_000, help="rows of the large list")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    runs = [render_seconds(outreach_rows(args.rows, args.seed)) for _ in range(3)]
    seconds, pages = statistics.median(s for s, _ in runs), runs[0][1]
    large_s, large_pages = render_seconds(outreach_rows(args.large, args.seed))
    verdict = "ok" if seconds <= TARGET_S else "MISSED"
    print(  # noqa: T201
        f"outreach_pdf: rows={args.rows} render_s={seconds:.2f} pages={pages} "
        f"large_rows={args.large} large_s={large_s:.2f} large_pages={large_pages} "
        f"target=render_s<={TARGET_S} {verdict}"
    )


if __name__ == "__main__":
    main()

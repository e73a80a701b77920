"""The outreach list as a printable PDF (A4 landscape), drawn with fpdf2.

Pure drawing: the caller passes the title (in the reader's language), the column names and the
rows in walking order, and gets PDF bytes. Each desa starts a page; its rows continue over
pages with the column names repeated. Names are set in DejaVu Sans, the TrueType font that
matplotlib (a dependency already) ships in its data directory: nothing is bundled here and no
system font is needed, and any name in Unicode prints as typed. Runs in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from pathlib import Path

import matplotlib
from fpdf import FPDF

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONT = "DejaVu"
DESA = 3  # the column of the desa, which the rows are sorted by first
# Shares of the page width, one per column (nama .. anggota_keluarga).
WIDTHS = (17, 9, 14, 10, 4, 4, 17, 6, 19)


class _Page(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.title_line = title
        self.desa = ""
        self.add_font(FONT, "", FONT_DIR / "DejaVuSans.ttf")
        self.add_font(FONT, "B", FONT_DIR / "DejaVuSans-Bold.ttf")
        self.set_auto_page_break(auto=True, margin=12)

    def header(self) -> None:
        self.set_font(FONT, "B", 11)
        self.cell(0, 6, self.title_line, new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, "", 10)
        self.cell(0, 6, self.desa, new_x="LMARGIN", new_y="NEXT")
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(FONT, "", 8)
        self.cell(0, 5, str(self.page_no()), align="R")


def render(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    """One table per desa, each starting a page; the title and the desa head every page."""
    pdf = _Page(title)
    for desa, group in groupby(rows, key=lambda row: row[DESA]):
        pdf.desa = desa
        pdf.add_page()
        pdf.set_font(FONT, "", 8)
        with pdf.table(col_widths=WIDTHS, line_height=4.5, repeat_headings=1) as table:
            table.row(header)
            for row in group:
                table.row(row)
    if not rows:
        pdf.add_page()
    return bytes(pdf.output())

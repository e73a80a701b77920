"""The outreach list as a printable PDF (A4 landscape), drawn with fpdf2.

Pure drawing: the caller passes the title (in the reader's language), the column names and the
rows in walking order, and gets PDF bytes. Each desa starts a page; its rows continue over
pages with the column names repeated. Names are set in DejaVu Sans, the TrueType font that
matplotlib (a dependency already) ships in its data directory: nothing is bundled here and no
system font is needed, and any name in Unicode prints as typed. Runs in a worker thread.

The table is drawn here rather than with `FPDF.table`, whose line breaking measures every
character of every cell again (5 s of CPU for 1,100 rows, holding the GIL): a cell is wrapped
between words with the font's character widths, each measured once, then drawn as one `rect`
and one `text` per line. A row never splits across pages unless it is taller than a page.
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
SIZE = 8  # points, of the table's text
LINE = 4.5  # mm, the height of a line of text in a cell
PAD = 1.0  # mm, between a cell's border and its text, left and right

Cell = list[str]  # a cell's text, wrapped: its lines


class _Widths(dict[str, float]):
    """The widths (mm) of characters, each measured once, in the font the pdf has when it is
    first asked for: the caller keeps the font it measures."""

    def __init__(self, pdf: FPDF) -> None:
        super().__init__()
        self.pdf = pdf

    def __missing__(self, char: str) -> float:
        width = self[char] = self.pdf.get_string_width(char)
        return width

    def of(self, text: str) -> float:
        """The width of `text`: fpdf2 adds no kerning without text shaping."""
        return sum(map(self.__getitem__, text))


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


class _Table:
    """The outreach table on the pages of one document: its column names head every page."""

    def __init__(self, pdf: _Page, header: Sequence[str]) -> None:
        self.pdf = pdf
        self.columns = [pdf.epw * share / sum(WIDTHS) for share in WIDTHS]
        self.lefts = [pdf.l_margin + sum(self.columns[:n]) for n in range(len(WIDTHS))]
        pdf.set_font(FONT, "B", SIZE)
        self.heading = self.wrap(header, _Widths(pdf))
        pdf.set_font(FONT, "", SIZE)  # the rows', measured as they come
        self.widths = _Widths(pdf)
        self.room = 0.0  # the height a page has for rows, below the column names

    def wrap(self, texts: Sequence[str], widths: _Widths) -> list[Cell]:
        """The row's cells, each wrapped to its column."""
        return [
            _wrap(text, column - 2 * PAD, widths)
            for text, column in zip(texts, self.columns, strict=True)
        ]

    def new_page(self, desa: str) -> None:
        """A page of the desa, headed by the column names."""
        self.pdf.desa = desa
        self.pdf.add_page()
        self.pdf.set_font(FONT, "B", SIZE)
        self.draw(self.heading)
        self.pdf.set_font(FONT, "", SIZE)
        self.room = self.pdf.page_break_trigger - self.pdf.y

    def row(self, texts: Sequence[str]) -> None:
        """One row, on the next page if it does not fit on this one; a row taller than a page
        continues over pages, as much of it on each as fits."""
        pdf = self.pdf
        cells = self.wrap(texts, self.widths)
        if pdf.will_page_break(_height(cells)) and _height(cells) <= self.room:
            self.new_page(pdf.desa)
        while pdf.will_page_break(_height(cells)):  # taller than a page
            if fits := int((pdf.page_break_trigger - pdf.y) // LINE):
                self.draw([cell[:fits] for cell in cells])
                cells = [cell[fits:] for cell in cells]
            self.new_page(pdf.desa)
        self.draw(cells)

    def draw(self, cells: Sequence[Cell]) -> None:
        """The cells side by side from the current position, each framed, text at the top.
        The text goes line by line across the row, so that a text extraction (copying, a
        screen reader) reads each printed line as one."""
        pdf, y, height = self.pdf, self.pdf.y, _height(cells)
        for x, width in zip(self.lefts, self.columns, strict=True):
            pdf.rect(x, y, width, height)
        baseline = y + LINE / 2 + 0.3 * pdf.font_size  # as fpdf2's cell() sets a line
        for n in range(max(map(len, cells))):
            for x, lines in zip(self.lefts, cells, strict=True):
                if n < len(lines):
                    pdf.text(x + PAD, baseline + n * LINE, lines[n])
        pdf.set_y(y + height)


def render(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    """One table per desa, each starting a page; the title and the desa head every page."""
    pdf = _Page(title)
    table = _Table(pdf, header)
    for desa, group in groupby(rows, key=lambda row: row[DESA]):
        table.new_page(desa)
        for row in group:
            table.row(row)
    if not rows:
        pdf.add_page()
    return bytes(pdf.output())


def _height(cells: Sequence[Cell]) -> float:
    return LINE * max(1, *map(len, cells))


def _wrap(text: str, room: float, widths: _Widths) -> Cell:
    """`text` in lines no wider than `room` (mm), broken between words; a word wider than the
    room is broken between characters."""
    lines: Cell = []
    line, used, space = "", 0.0, widths[" "]
    for word in text.split():
        width = widths.of(word)
        if line and used + space + width <= room:
            line, used = f"{line} {word}", used + space + width
            continue
        if line:
            lines.append(line)
        if width > room:
            *whole, word = _break(word, room, widths)
            lines += whole
            width = widths.of(word)
        line, used = word, width
    if line:
        lines.append(line)
    return lines


def _break(word: str, room: float, widths: _Widths) -> Cell:
    """A word too wide for the room, in pieces that fit (the last may be short)."""
    pieces, start, used = [], 0, 0.0
    for end, char in enumerate(word):
        width = widths[char]
        if used + width > room and end > start:
            pieces.append(word[start:end])
            start, used = end, 0.0
        used += width
    pieces.append(word[start:])
    return pieces

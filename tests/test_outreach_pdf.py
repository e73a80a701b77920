"""The printable outreach list (bot/outreach_pdf.py), read back with pypdf: every resident once,
in whole rows, their text wrapped inside its cells, one desa per page, the title, the desa, the
column names and the page number on every page."""

from __future__ import annotations

import io
import random
import re

import pypdf
import pytest
from fpdf import FPDF

from bot import outreach_pdf
from bot.services.summaries import OUTREACH_HEADER

TITLE = "Daftar kunjungan Kanigoro, 24 November 2026"
HEADING = " ".join(OUTREACH_HEADER)
ADDRESS = "Jalan Kenanga Raya Gang Melati Nomor {n} Dusun Sumberjo Kulon dekat Masjid Al Ikhlas"
MM = 72 / 25.4  # points
WORDS = ("Siti", "Aminah", "Budi", "Santoso", "Dwi", "Lestari", "Kurniawati", "Wahyudi")


def _row(n: int, desa: str, alamat: str, *, nama: str = "", members: str = "Bayu; Lia") -> tuple:
    nama = nama or f"Warga {n:04d} Lestari"
    return (nama, "1990-01-02", "wajib KTP belum rekam", desa, "1", "3", alamat, str(n), members)


def _pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


@pytest.fixture
def measure():
    """An FPDF in points with the table's fonts, to measure text with fpdf2's own widths."""
    pdf = FPDF(unit="pt")
    pdf.add_font("DejaVu", "", outreach_pdf.FONT_DIR / "DejaVuSans.ttf")
    pdf.add_font("DejaVu", "B", outreach_pdf.FONT_DIR / "DejaVuSans-Bold.ttf")
    yield pdf
    pdf.add_page()
    pdf.output()  # closes the font files


def test_every_resident_once_in_whole_rows_one_desa_per_page():
    desas = {"Minggirsari": range(100), "Jatinom": range(100, 130)}
    rows = [_row(n, desa, ADDRESS.format(n=n)) for desa, ns in desas.items() for n in ns]
    pages = _pages(outreach_pdf.render(TITLE, OUTREACH_HEADER, rows))
    for number, page in enumerate(pages, start=1):
        lines = page.splitlines()
        assert lines[0] == TITLE
        assert lines[1] in desas
        assert lines[2] == HEADING  # the column names head every page
        assert lines[-1] == str(number)
    text = "\n".join(pages)
    for nama, *_, alamat, _, _ in rows:
        assert text.count(nama) == 1
        assert all(alamat not in line for line in text.splitlines())  # wrapped
    on_page = {nama: page for page in pages for nama, *_ in rows if nama in page}
    for nama, _, _, desa, _, _, alamat, _, _ in rows:
        page = on_page[nama]
        assert page.splitlines()[1] == desa  # each desa on pages of its own
        words = iter(page[page.index(nama) :].split())
        assert all(word in words for word in alamat.split())  # the row whole, in order
    names = [nama for nama, *_ in rows]
    full = sum(nama in pages[0] for nama in names)  # rows of 3 lines a page holds
    assert [sum(nama in page for nama in names) for page in pages] == [
        *_filled(100, full),
        *_filled(30, full),
    ]


def test_the_text_stays_inside_its_column(measure):
    """Every line ends before the next column (less both paddings), measured by fpdf2 itself:
    names and addresses of any length, a word longer than its column broken, never cut."""
    rng = random.Random(7)
    long_word = "SUMBERJOKULONWETANREJOSARIMULYO" * 3  # no other cell's text is upper case
    rows = [
        _row(
            n,
            "Minggirsari",
            " ".join(rng.choices([*WORDS, "Jl.", "No."], k=rng.randrange(12))),
            nama=" ".join(rng.choices(WORDS, k=rng.randrange(1, 7))),
            members="; ".join(rng.choices(WORDS, k=rng.randrange(9))),
        )
        for n in range(80)
    ]
    rows.append(_row(80, "Minggirsari", long_word))
    data = outreach_pdf.render(TITLE, OUTREACH_HEADER, rows)
    chunks = _chunks(data)
    starts = sorted({x for x, _, _, bold in chunks if bold and x > 0})[-len(OUTREACH_HEADER) :]
    pad = outreach_pdf.PAD * MM
    ends = [start - 2 * pad for start in starts[1:]] + [297 * MM - starts[0]]
    in_table = [c for c in chunks if c[0] in starts]
    assert len(in_table) > len(rows) * 8  # the check below looked at every cell's lines
    for x, size, text, bold in in_table:
        measure.set_font("DejaVu", "B" if bold else "", size)
        assert x + measure.get_string_width(text) <= ends[starts.index(x)] + 0.01, text
    pieces = [text for _, _, text, _ in in_table if text.isalpha() and text.isupper()]
    assert len(pieces) > 1
    assert "".join(pieces) == long_word  # broken, never cut


def test_a_row_taller_than_a_page_continues_over_pages():
    """A household whose members' names fill more than a page: the row goes on over the next
    pages under the column names (fpdf2's table refused it: ValueError, no PDF at all)."""
    members = "; ".join(f"Anggota Keluarga {n:03d}" for n in range(200))
    rows = [
        _row(1, "Jatinom", "Jl. Mawar 2"),
        _row(2, "Jatinom", "Jl. Mawar 3", members=members),
        _row(3, "Jatinom", "Jl. Mawar 4"),
    ]
    pages = _pages(outreach_pdf.render(TITLE, OUTREACH_HEADER, rows))
    assert len(pages) > 2
    assert all(page.splitlines()[2] == HEADING for page in pages)
    assert rows[1][0] in pages[0]  # begun under the first row, not on a page of its own
    table = " ".join(" ".join(page.splitlines()[3:-1]) for page in pages)
    assert re.findall(r"Anggota Keluarga (\d+)", table) == [f"{n:03d}" for n in range(200)]
    assert rows[2][0] in pages[-1]


def test_no_rows_is_one_page_with_its_title():
    pages = _pages(outreach_pdf.render(TITLE, OUTREACH_HEADER, []))
    assert [page.splitlines()[0] for page in pages] == [TITLE]


def _chunks(data: bytes) -> list[tuple[float, float, str, bool]]:
    """Every piece of text of the table's font size: (x in points, size, text, bold)."""
    found: list[tuple[float, float, str, bool]] = []

    def visit(text, cm, tm, font, size):
        if text.strip() and size == outreach_pdf.SIZE:
            bold = "Bold" in str(font.get("/BaseFont"))
            found.append((round(tm[4], 2), size, text.strip(), bold))

    for page in pypdf.PdfReader(io.BytesIO(data)).pages:
        page.extract_text(visitor_text=visit)
    return found


def _filled(rows: int, full: int) -> list[int]:
    """The rows on each page of a desa: full pages, then the rest."""
    return [full] * (rows // full) + ([rows % full] if rows % full else [])

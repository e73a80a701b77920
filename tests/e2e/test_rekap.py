"""End to end: /rekap counts per group and the outreach list as a CSV document."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pypdf
import pytest

from bot.db import transaction
from bot.services.importer import import_residents
from bot.storage import chats, links
from tests.conftest import ADMIN_ID, HEADER, NOW, OFFICIAL_ID, PEOPLE
from tests.village import EVERYONE, _resident, link_chats, plant


@pytest.fixture
async def village(running_bot, tmp_path):
    db = running_bot.bot_data["db"]
    await plant(db, tmp_path)
    return db


def document_bytes(botapi, message) -> bytes:
    return botapi.sim.files[message.message["document"]["file_id"]].data


def csv_rows(botapi, message):
    return list(csv.reader(io.StringIO(document_bytes(botapi, message).decode("utf-8"))))


async def rekap(botapi, user_id):
    user = botapi.user(user_id)
    user.send_text("/rekap")
    return user, await user.next_message()


async def test_the_official_gets_counts_and_the_outreach_list_of_their_area(botapi, village):
    official, summary = await rekap(botapi, OFFICIAL_ID)
    assert "Rekap Kanigoro" in summary.text
    assert "Penduduk: 10" in summary.text
    assert "Wajib KTP belum rekam: 3 (tertaut ke bot: 1)" in summary.text
    assert "• belum rekam: 2 (tertaut ke bot: 1)" in summary.text  # Dewi linked, Lia not
    assert "• sudah rekam: 1 (tertaut ke bot: 0)" in summary.text  # Tono's chat blocked the bot
    assert "NIK nonaktif: 2 (tertaut ke bot: 1)" in summary.text
    document = await official.next_message()
    assert document.method == "sendDocument"
    assert document.message["document"]["file_name"] == "outreach-350510-2026-11-24.csv"
    assert "3 warga yang belum bisa dihubungi bot" in document.text
    rows = csv_rows(botapi, document)
    assert rows[0] == [
        "nama", "tanggal_lahir", "status", "desa", "rw", "rt", "alamat", "keluarga",
        "anggota_keluarga",
    ]  # fmt: skip
    by_name = {row[0]: row for row in rows[1:]}
    assert set(by_name) == {"Siti Aminah", "Lia", "'=Bayu"}  # a formula stays text
    siti = by_name["Siti Aminah"]
    assert siti == [
        "Siti Aminah",
        "1999-05-05",
        "wajib KTP belum rekam",
        "Jatinom",
        "",
        "",
        "",
        "1",
        "'=Bayu; Lia",
    ]  # fmt: skip  (a nine-column import: no RT, RW nor address)
    assert by_name["Lia"][2] == "berusia 17 tahun pada tahun ini, belum rekam"
    assert by_name["'=Bayu"][2] == "NIK nonaktif"
    raw = "\n".join(",".join(row) for row in rows)
    for person in EVERYONE.values():
        assert person.nik not in raw
    assert "Orang Talun" not in raw  # outside the area
    assert PEOPLE["turning17"].nama not in raw  # reachable through her family's chat


def nik_candidates(row: list[str]) -> set[str]:
    """The review's reconstruction: the kecamatan of the desa, the birth date (day + 40 for a
    woman, either is tried) and the digits a masked NIK shows at its end."""
    born = next((c for c in row if re.fullmatch(r"\d{4}-\d{2}-\d{2}", c)), None)
    shown = [m.group(1) for c in row if (m := re.fullmatch(r"\d{4}\*+(\d{4})", c))]
    if born is None or not shown:
        return set()
    year, month, day = born.split("-")
    return {f"350510{d:02d}{month}{year[2:]}{shown[0]}" for d in (int(day), int(day) + 40)}


async def test_no_nik_can_be_read_back_from_the_list(botapi, village):
    _, rows = await _official_rows(botapi)
    recovered = set().union(*(nik_candidates(row) for row in rows[1:]))
    assert not recovered & {person.nik for person in EVERYONE.values()}
    assert not any("nik" in column for column in rows[0])
    for row in rows[1:]:
        assert not any(re.search(r"\d{4}\*", cell) for cell in row)  # no NIK, even masked


async def test_the_list_has_no_one_the_bot_can_reach(botapi, village):
    _, rows = await _official_rows(botapi)
    reachable = {"Wati Rahayu", "Joko Widodo", PEOPLE["turning17"].nama}
    assert not reachable & {row[0] for row in rows[1:]}


async def _official_rows(botapi):
    official, _ = await rekap(botapi, OFFICIAL_ID)
    document = await official.next_message()
    return document, csv_rows(botapi, document)


async def test_the_export_is_audited_without_niks(botapi, village):
    await _official_rows(botapi)
    async with village.execute(
        "SELECT actor_id, detail FROM audit_log WHERE action = 'rekap:outreach-csv'"
    ) as cursor:
        assert [tuple(row) async for row in cursor] == [(OFFICIAL_ID, "area=350510 rows=3")]


async def test_an_english_official_gets_english_statuses(botapi, village):
    async with transaction(village):
        await chats.set_locale(village, OFFICIAL_ID, "en", now=NOW)
    document, rows = await _official_rows(botapi)
    assert "Outreach list for Kanigoro" in document.text
    assert {row[2] for row in rows[1:]} == {
        "wajib KTP, not recorded",
        "turning 17 this year, not recorded",
        "deactivated NIK",
    }


async def test_the_admin_summary_covers_the_regency(botapi, village):
    admin, summary = await rekap(botapi, ADMIN_ID)
    assert "Rekap Kabupaten Blitar" in summary.text
    assert f"Penduduk: {len(EVERYONE)}" in summary.text
    document = await admin.next_message()
    families = {row[0]: row[7] for row in csv_rows(botapi, document)[1:]}
    assert set(families) == {"Siti Aminah", "Lia", "'=Bayu", "Orang Talun"}
    assert families["Siti Aminah"] == families["Lia"] == families["'=Bayu"]  # one KK
    assert families["Orang Talun"] != families["Lia"]


async def test_no_list_when_the_bot_reaches_everyone(botapi, running_bot, tmp_path):
    db = running_bot.bot_data["db"]  # only the conftest people, with every household linked
    async with transaction(db):
        for chat_id, kk in ((201, PEOPLE["recorded"].kk), (202, PEOPLE["unrecorded"].kk)):
            await chats.set_locale(db, chat_id, "id", now=NOW)
            await links.insert_link(db, chat_id, "household", kk, now=NOW)
    official, summary = await rekap(botapi, OFFICIAL_ID)
    assert "tidak ada daftar kunjungan" in summary.text
    assert "berusia 17 pada 2026" in (await official.next_message(timeout=30)).text  # chart
    await official.no_message(within=0.3)  # no outreach list


async def test_in_a_group_the_official_is_asked_for_a_private_chat(botapi, village):
    group = botapi.group(-5001)
    official = botapi.user(OFFICIAL_ID)
    official.send_text("/rekap", chat=group)
    assert "hanya bisa dipakai di chat pribadi" in (await group.next_message()).text
    await group.no_message(within=0.3)  # no list of residents in a group
    official.send_text("/siaran", chat=group)
    assert "hanya bisa dipakai di chat pribadi" in (await group.next_message()).text


def _figure_lines(text: str) -> list[str]:
    """The lines from `Penduduk:` to the tickets line: every figure of the area."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("Penduduk: "))
    end = next(i for i, line in enumerate(lines) if line.startswith("Tiket KTP rusak/hilang"))
    return lines[start : end + 1]


async def test_statistik_and_rekap_give_the_same_figures_for_the_regency(botapi, village):
    """Issue 19: /statistik counted teens turning 17 only when their birthday was still ahead
    (1: Dewi), /rekap everyone born in 2009 not recorded (2: Dewi and Lia)."""
    admin, summary = await rekap(botapi, ADMIN_ID)
    await admin.next_message()  # the outreach list
    for _chart in ("per kecamatan", "teens"):  # tests/e2e/test_charts.py
        assert (await admin.next_message(timeout=30)).method == "sendPhoto"
    admin.send_text("/statistik")
    statistics = await admin.next_message()
    assert _figure_lines(statistics.text) == _figure_lines(summary.text)
    assert "Berusia 17 tahun pada 2026:\n• belum rekam: 2" in statistics.text


async def test_an_area_without_residents_is_not_everyone_reachable(botapi, running_bot, tmp_path):
    """Issue 19: all zeros, and still 'the bot can reach everyone in these groups'."""
    db = running_bot.bot_data["db"]
    await db.execute("DELETE FROM residents WHERE kode_desa LIKE '350510%'")
    official, summary = await rekap(botapi, OFFICIAL_ID)
    assert "Penduduk: 0" in summary.text
    assert "sudah bisa dihubungi bot" not in summary.text
    assert "Belum ada data penduduk untuk wilayah ini" in summary.text
    await official.no_message(within=0.3)


async def test_an_area_with_no_one_to_visit_says_so(botapi, running_bot, tmp_path):
    db = running_bot.bot_data["db"]
    await db.execute("UPDATE residents SET tanggal_rekam = '2020-01-01'")
    official, summary = await rekap(botapi, OFFICIAL_ID)
    assert "Penduduk: 4" in summary.text
    assert "sudah bisa dihubungi bot" not in summary.text
    assert "Tidak ada warga yang belum rekam atau NIK-nya nonaktif" in summary.text
    assert "berusia 17 pada 2026" in (await official.next_message(timeout=30)).text  # chart
    await official.no_message(within=0.3)  # no outreach list, no chart with nothing in it


# --- the outreach list with addresses (issue 19) ---

WITH_ADDRESS = {
    **EVERYONE,
    "ayu": _resident("Ayu Lestari", date(1996, 8, 8), "P", "3505100606960006", 21,
                     desa="35.05.10.2001"),
    "eko": _resident("Eko", date(1994, 9, 9), "L", "3505100707940007", 22),
}  # fmt: skip
ADDRESSES = {  # alamat, rt, rw as the export writes them
    "ayu": ("Jl. Kenanga 5", "004", "002"),
    "bayu": ("Jl. Anggrek 1", "3", "1"),
    "siti": ("Jl. Mawar 2", "3", "1"),
    "teen2": ("Jl. Anggrek 9", "12", "1"),  # Lia: RT 12 after RT 3
}
# desa (Minggirsari 2001 before Jatinom 2002), RW, RT, address; Eko has none: last of his desa
WALK = [
    ("Ayu Lestari", "Minggirsari", "2", "4", "Jl. Kenanga 5"),
    ("'=Bayu", "Jatinom", "1", "3", "Jl. Anggrek 1"),
    ("Siti Aminah", "Jatinom", "1", "3", "Jl. Mawar 2"),
    ("Lia", "Jatinom", "1", "12", "Jl. Anggrek 9"),
    ("Eko", "Jatinom", "", "", ""),
]


@pytest.fixture
async def addressed_village(running_bot, tmp_path):
    db = running_bot.bot_data["db"]
    path = tmp_path / "siak-alamat.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow([*HEADER.split(","), "alamat", "rt", "rw"])
        for key, person in WITH_ADDRESS.items():
            out.writerow([*person.row(), *ADDRESSES.get(key, ("", "", ""))])
    report = await import_residents(db, path, now=NOW)
    assert report.rejected == []
    await link_chats(db)
    return db


async def test_the_outreach_list_follows_a_walk_through_the_area(botapi, addressed_village):
    document, rows = await _official_rows(botapi)
    walk = [(r[0], r[3], r[4], r[5], r[6]) for r in rows[1:]]
    assert walk == WALK
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["Lia"][8] == "'=Bayu; Siti Aminah"  # the household's other members
    assert by_name["Ayu Lestari"][8] == ""  # alone on her KK
    raw = document_bytes(botapi, document).decode("utf-8")
    for person in WITH_ADDRESS.values():
        assert person.nik not in raw
        assert person.kk not in raw
    assert not re.search(r"\d{10,}|\d{4}\*", raw)  # no NIK or KK, whole or masked


async def _official_pdf(botapi, *, with_csv=False):
    """/rekap, then the PDF button under the CSV; the PDF's pages as text (and the CSV's
    rows)."""
    official, _ = await rekap(botapi, OFFICIAL_ID)
    listing = await official.next_message()
    rows = csv_rows(botapi, listing)
    official.press(listing, "rekap:pdf")
    while not (message := await official.next_message()).message.get("document"):
        pass  # the area's charts, sent after the list
    assert message.message["document"]["file_name"] == "outreach-350510-2026-11-24.pdf"
    data = document_bytes(botapi, message)
    pages = [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]
    return (pages, data, rows) if with_csv else (pages, data)


async def test_the_printable_outreach_list_walks_one_desa_per_page(botapi, addressed_village):
    pages, data = await _official_pdf(botapi)
    assert pages
    assert all(page.startswith("Daftar kunjungan Kanigoro, 24") for page in pages)
    text = "\n".join(pages)
    lines = text.splitlines()
    at = [_line_of(lines, nama.removeprefix("'"), alamat) for nama, _, _, _, alamat in WALK]
    assert at == sorted(at)  # in walking order, each with their address
    for desa in ("Minggirsari", "Jatinom"):
        first = next(page for page in pages if desa in page.splitlines()[1])
        walkers = [w[0].removeprefix("'") for w in WALK if w[1] == desa]
        assert walkers[0] in first  # each desa starts its own page
    assert "Ayu Lestari" not in pages[-1]
    for person in WITH_ADDRESS.values():
        assert person.nik not in text
        assert person.kk not in text
        assert person.nik.encode() not in data
        assert person.kk.encode() not in data
    assert not re.search(r"\d{10,}|\d{4}\*", text)  # no NIK or KK, whole or masked
    async with addressed_village.execute(
        "SELECT actor_id, detail FROM audit_log WHERE action = 'rekap:outreach-pdf'"
    ) as cursor:
        assert [tuple(row) async for row in cursor] == [(OFFICIAL_ID, "area=350510 rows=5")]


def _line_of(lines: list[str], nama: str, alamat: str) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith(f"{nama} ") and alamat in line)


async def test_the_printable_list_of_a_nine_column_import_has_no_address(botapi, village):
    """No alamat, RT nor RW imported: every resident of the CSV is in the PDF, in the same
    walking order, each line their name, birth date, status, desa and household only."""
    pages, data, rows = await _official_pdf(botapi, with_csv=True)
    text = "\n".join(pages)
    lines = text.splitlines()
    assert [row[4:7] for row in rows[1:]] == [["", "", ""]] * 3  # nothing to fill them with
    at = [_line_of(lines, row[0].removeprefix("'"), "") for row in rows[1:]]
    assert at == sorted(at)  # the CSV's walk
    for row, line in zip(rows[1:], at, strict=True):
        nama, born, _, desa, _, _, _, family, members = (cell.removeprefix("'") for cell in row)
        assert lines[line].startswith(f"{nama} {born} "), lines[line]
        rest = "\n".join(lines[line : line + 3])
        # the columns in order, nothing between the desa and the household's number
        assert f"{desa} {family} {members.split(';')[0]}" in rest, rest
    assert {row[0].removeprefix("'") for row in rows[1:]} == {"Siti Aminah", "Lia", "=Bayu"}
    for person in EVERYONE.values():
        assert person.nik not in text
        assert person.kk not in text
        assert person.nik.encode() not in data
        assert person.kk.encode() not in data
    assert not re.search(r"\d{10,}|\d{4}\*", text)  # no NIK or KK, whole or masked

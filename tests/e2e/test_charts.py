"""End to end: /rekap and /statistik send their charts as PNG photos (decoded here: size, and
the colours of the bars drawn) with captions giving the same numbers as the texts."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, time

import pytest
from PIL import Image

from bot.charts import COLOURS, WIDTH_PX
from bot.db import transaction, vault_of
from bot.services import outbox
from bot.storage import bookings, chats
from bot.storage import outbox as outbox_store
from bot.storage.areas import WILAYAH_CSV
from bot.storage.service_points import list_service_points
from tests.conftest import ADMIN_ID, NOW, OFFICIAL_ID
from tests.village import EXTRA, plant

SLOW = 30.0  # drawing a chart takes a moment on a busy machine: a generous wait, not a timing
PART_LINE = re.compile(r"^• (.+): ([\d.]+) / ([\d.]+)$", re.MULTILINE)
KANIGORO_DESA = {
    line.split(",")[2]
    for line in WILAYAH_CSV.read_text(encoding="utf-8").splitlines()
    if line.startswith("35.05.10.")
}


@pytest.fixture
async def village(running_bot, tmp_path):
    db = running_bot.bot_data["db"]
    await plant(db, tmp_path)
    return db


async def replies(botapi, user_id, command, count):
    """The first `count` messages the bot sends in answer to `command`."""
    user = botapi.user(user_id)
    user.send_text(command)
    return [await user.next_message(timeout=SLOW) for _ in range(count)]


def png_of(botapi, message):
    """The photo the bot uploaded, decoded."""
    assert message.method == "sendPhoto"
    data = botapi.sim.files[message.message["photo"][0]["file_id"]].data
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return Image.open(io.BytesIO(data)).convert("RGB")


def has_colour(image, colour):
    wanted = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return any(rgb == wanted for _, rgb in image.getcolors(maxcolors=1 << 20))


def figure(text, label):
    """A figure of the summary text: `Wajib KTP belum rekam: 3 (...)` -> 3."""
    return int(re.search(rf"^{label}: ([\d.]+)", text, re.MULTILINE)[1].replace(".", ""))


def parts_of(caption):
    """{area name: (unrecorded, deactivated)} in the caption's order."""
    return {
        name: (int(a.replace(".", "")), int(b.replace(".", "")))
        for name, a, b in PART_LINE.findall(caption)
    }


async def test_rekap_charts_the_officials_desa_worst_first(botapi, village):
    summary, document, chart = await replies(botapi, OFFICIAL_ID, "/rekap", 3)
    assert document.method == "sendDocument"  # the outreach list comes first, as before
    image = png_of(botapi, chart)
    assert image.width == WIDTH_PX
    assert image.height >= 600  # twelve desa, each a row a thumb can point at
    assert has_colour(image, COLOURS[0])  # unrecorded bars drawn
    assert has_colour(image, COLOURS[1])  # deactivated bars drawn
    assert "Kanigoro: belum rekam dan NIK nonaktif per desa" in chart.text
    parts = parts_of(chart.text)
    assert set(parts) == KANIGORO_DESA  # every desa of the area, none outside it
    assert next(iter(parts.items())) == ("Jatinom", (3, 2))  # Wati, Siti, Lia; Joko, Bayu
    assert sum(u for u, _ in parts.values()) == figure(summary.text, "Wajib KTP belum rekam")
    assert sum(d for _, d in parts.values()) == figure(summary.text, "NIK nonaktif")
    teens = await botapi.user(OFFICIAL_ID).next_message(timeout=SLOW)
    assert "berusia 17 pada 2026 yang sudah rekam" in teens.text  # no funnel: nothing in it


async def test_statistik_charts_the_regency_per_kecamatan(botapi, village):
    summary, chart = await replies(botapi, ADMIN_ID, "/statistik", 2)
    image = png_of(botapi, chart)
    assert (image.width, has_colour(image, COLOURS[0])) == (WIDTH_PX, True)
    assert "Kabupaten Blitar: belum rekam dan NIK nonaktif per kecamatan" in chart.text
    parts = parts_of(chart.text)
    assert len(parts) == 22  # every kecamatan of the regency
    assert list(parts)[:2] == ["Kanigoro", "Srengat"]  # worst first: 3 + 2, then 2 + 1
    assert parts["Kanigoro"] == (3, 2)
    assert sum(u for u, _ in parts.values()) == figure(summary.text, "Wajib KTP belum rekam")
    assert sum(d for _, d in parts.values()) == figure(summary.text, "NIK nonaktif")


async def test_statistik_offers_each_kecamatan_with_the_numbers_of_its_rekap(botapi, village):
    """The kecamatan buttons under the regency's figures: Kanigoro's gives the figures its
    official's /rekap gives, then its chart per desa; an official pressing the admin's
    button (forged in their own chat: they cannot see the admin's) is refused."""
    summary, _ = await replies(botapi, ADMIN_ID, "/statistik", 2)
    buttons = {data: label for label, data in summary.buttons}
    assert len(buttons) == 22
    assert buttons["stat:kec:350510"] == "Kanigoro"
    admin = botapi.user(ADMIN_ID)
    admin.press(summary, "stat:kec:350510")
    while (chosen := await admin.next_message(timeout=SLOW)).method != "sendMessage":
        pass  # the regency's other charts
    assert "Statistik Kecamatan Kanigoro" in chosen.text
    chart = await admin.next_message(timeout=SLOW)
    assert "Kanigoro: belum rekam dan NIK nonaktif per desa" in chart.text
    assert set(parts_of(chart.text)) == KANIGORO_DESA
    assert png_of(botapi, chart).width == WIDTH_PX
    admin.press(summary, "stat:kec:3505102002", raw=True)  # a desa's code: no such button
    while (stale := await admin.next_message(timeout=SLOW)).method != "sendMessage":
        pass  # Kanigoro's teens
    assert "tidak berlaku" in stale.text
    rekap = (await replies(botapi, OFFICIAL_ID, "/rekap", 1))[0]
    assert figure_lines(chosen.text) == figure_lines(rekap.text)
    assert figure(chosen.text, "Wajib KTP belum rekam") == 3
    official = botapi.user(OFFICIAL_ID)
    official.press(rekap, "stat:kec:350510", raw=True)
    for _ in range(5):  # after the rest of /rekap: the list and the charts
        if "hanya untuk petugas" in (
            (answer := await official.next_message(timeout=SLOW)).text or ""
        ):
            break
    assert "hanya untuk petugas" in answer.text
    assert answer.method == "sendMessage"


def figure_lines(text):
    """The lines from `Penduduk:` to the tickets line: every figure of the area."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("Penduduk: "))
    end = next(i for i, line in enumerate(lines) if line.startswith("Tiket KTP rusak/hilang"))
    return lines[start : end + 1]


async def test_the_funnel_gives_the_figures_of_the_text(botapi, village):
    """One reminder, two bookings (one came and recorded, one did not come), two recordings in
    the last 30 days in Kanigoro: the funnel chart says so, as the summary does."""
    await _plant_activity(village)
    summary, _, _, funnel = await replies(botapi, OFFICIAL_ID, "/rekap", 4)
    image = png_of(botapi, funnel)
    assert (image.width, has_colour(image, COLOURS[2])) == (WIDTH_PX, True)
    assert "Diingatkan bot: 1 → antre: 2 → datang: 1 → rekam e-KTP: 2" in funnel.text
    assert "Diingatkan bot: 1 · antrean: 2 · datang: 1 · tidak datang: 1" in summary.text
    assert "Perekaman e-KTP: 2" in summary.text


async def test_statistik_charts_the_bookings_per_service_point(botapi, village):
    """The two bookings at one point (one did not come): the point's chart, after the funnel
    and the teens, gives the numbers the regency's text gives."""
    await _plant_activity(village)
    point = (await list_service_points(village))[0]
    summary, _, _, _, chart = await replies(botapi, ADMIN_ID, "/statistik", 5)
    image = png_of(botapi, chart)
    assert (image.width, has_colour(image, COLOURS[0])) == (WIDTH_PX, True)
    assert "Antrean per tempat layanan" in chart.text
    assert parts_of(chart.text) == {point.name: (2, 1)}  # points without bookings left out
    assert "antrean: 2 · datang: 1 · tidak datang: 1" in summary.text
    assert has_colour(image, COLOURS[2])  # the bookings' bars drawn, week by week


async def test_the_service_points_chart_gives_the_share_of_places_used_by_week(botapi, village):
    """One place a slot at the point: the week to Tuesday 24 November opened Wed 18, Thu 19
    (13 slots each), Fri 20 (6), Mon 23 and Tue 24 (13 each), 58 places; the recorded
    booking used one of them, the missed one none: 2%."""
    await _plant_activity(village)
    point = (await list_service_points(village))[0]
    async with transaction(village):
        await village.execute(
            "UPDATE service_points SET slot_capacity = 1 WHERE code = ?", (point.code,)
        )
    *_, chart = await replies(botapi, ADMIN_ID, "/statistik", 5)
    weeks = f"{point.name}: 3/11 0 / 0, 0% · 10/11 0 / 0, 0% · 17/11 0 / 0, 0% · 24/11 2 / 1, 2%"
    assert weeks in chart.text
    image = png_of(botapi, chart)
    assert image.height >= 500  # a panel for the point under the title and legend
    assert has_colour(image, COLOURS[0])  # the no-show's bar


async def test_the_teens_share_recorded_week_by_week(botapi, village):
    """Kanigoro's teens of 2026: Dewi, Tono (recorded in April, before the cycle) and Lia,
    recorded on Friday 20 November: a third recorded until the week to 19 November, two
    thirds since; the caption gives every week and the days to the deadline."""
    await _plant_activity(village)  # Lia recorded on 20 November
    summary, _, _, _, teens = await replies(botapi, OFFICIAL_ID, "/rekap", 5)
    image = png_of(botapi, teens)
    assert (image.width, has_colour(image, COLOURS[2])) == (WIDTH_PX, True)
    assert "• sudah rekam: 2" in summary.text
    assert "• belum rekam: 1" in summary.text
    assert "Sekarang 2 dari 3; batas perekaman 30 April 2027, 157 hari lagi." in teens.text
    assert "7/5: 33% (-) · 14/5: 33% (-)" in teens.text  # the cycle began on 1 May
    assert "12/11: 33% (-) · 19/11: 33% (-) · 24/11: 67% (-)" in teens.text


async def test_an_english_admin_gets_english_charts(botapi, village):
    async with transaction(village):
        await chats.set_locale(village, ADMIN_ID, "en", now=NOW)
    _, chart = await replies(botapi, ADMIN_ID, "/statistik", 2)
    assert "not recorded and deactivated per kecamatan" in chart.text
    assert "Kanigoro: 3 / 2" in chart.text


async def _plant_activity(db):
    point = (await list_service_points(db))[0].code
    day = date(2026, 11, 20)
    async with transaction(db):
        for number, (who, state) in enumerate((("siti", "recorded"), ("wati", "no_show")), 1):
            await bookings.insert_booking(
                db,
                code=f"F{number:05d}",
                chat_id=108,
                nik=EXTRA[who].nik,
                service="rekam",
                service_point=point,
                start_at=datetime.combine(day, time(1, 0), tzinfo=UTC),
                day=day,
                queue_number=number,
                state=state,
                now=NOW,
            )
        for who in ("siti", "teen2"):
            await db.execute(
                "UPDATE residents SET tanggal_rekam = ? WHERE nik_ref = ?",
                (day.isoformat(), vault_of(db).ref(EXTRA[who].nik)),
            )
    vault = vault_of(db)
    ref = vault.ref(EXTRA["wati"].nik)
    key = outbox.reminder_key(vault, "teen", ref, 108, day)
    plan = outbox.reminder_plan("teen", ref, 108, day)
    await outbox.enqueue(db, key=key, chat_id=108, kind="reminder", text="x", plan=plan, now=NOW)
    async with transaction(db):
        message = await outbox_store.get_message_by_key(db, key)
        await outbox_store.set_sent(db, [(message.id, 1)], now=NOW)

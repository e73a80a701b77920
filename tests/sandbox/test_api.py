"""The sandbox without a browser: its world, its HTTP API, live events, the clock and the jobs."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from bot.clock import FixedClock
from bot.config import TIMEZONE
from bot.jobs.registry import JobSpec
from bot.sample import generate_residents
from bot.services.booking_options import shortlisted_points
from bot.services.directory import get_resident, get_user
from bot.services.links import chat_links
from bot.services.summaries import regency, rekap
from sandbox import timetravel
from sandbox.clock import ClockError, SandboxClock, parse_moment
from sandbox.core import Sandbox
from sandbox.history import neighbours, teens
from sandbox.identities import identities, residents
from sandbox.tghtml import to_nodes
from sandbox.web import serving
from tests.conftest import NOW

ACT = {"X-Sandbox": "1"}
TEEN, DEACTIVATED, PARENT, DAMAGED, OFFICIAL, STAFF, OFFICE, ADMIN = (
    1001,
    1002,
    1003,
    1004,
    9002,
    9001,
    9004,
    9003,
)


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[tuple[Sandbox, str]]:
    """A running sandbox of 2,000 sample residents, its clock standing at NOW until moved."""
    world = Sandbox(tmp_path, count=2000, start=NOW, base_clock=FixedClock(NOW))
    async with serving(world) as url:
        yield world, url


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def text_of(nodes: list[Any]) -> str:
    return "".join(n if isinstance(n, str) else text_of(n["c"]) for n in nodes)


def from_bot(chat_id: int, *words: str) -> Callable[[dict[str, Any]], bool]:
    def matches(event: dict[str, Any]) -> bool:
        if event["type"] != "message" or event["chat_id"] != chat_id or event["from"] != "bot":
            return False
        return all(word in text_of(event["nodes"]) for word in words)

    return matches


class Stream:
    """The page's event stream, read like the browser's EventSource does."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def until(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        async with asyncio.timeout(10):
            async for line in self.response.content:
                if line.startswith(b"data: ") and wanted(event := json.loads(line[6:])):
                    return event
        raise AssertionError("the event stream ended")


@pytest.fixture
async def stream(sandbox, http) -> AsyncIterator[Stream]:
    """Live events from now on (the replay of what happened before is skipped)."""
    _world, url = sandbox
    state = await (await http.get(f"{url}/api/state")).json()
    async with http.get(f"{url}/api/events", params={"after": str(state["seq"])}) as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        yield Stream(response)


async def post(http, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(url, json=body, headers=ACT)
    assert response.status == 200, await response.text()
    return await response.json()


# --- the world ---


async def test_identities_are_listed_with_nik_kk_and_roles(sandbox, http):
    world, url = sandbox
    state = await (await http.get(f"{url}/api/state")).json()
    cards = {card["key"]: card for card in state["identities"]}
    assert list(cards) == [
        "teen",
        "deactivated",
        "parent",
        "damaged",
        "official",
        "staff",
        "office",
        "admin",
    ]
    assert state["clock"]["day"]["id"] == "Selasa, 24 November 2026"
    db = world.app.bot_data["db"]
    teen = await get_resident(db, cards["teen"]["nik"])
    assert teen is not None
    assert teen.no_kk == cards["teen"]["kk"]
    assert teen.tanggal_lahir == date(2009, 12, 25)  # turns 17 next month
    assert teen.tanggal_rekam is None
    deactivated = await get_resident(db, cards["deactivated"]["nik"])
    assert deactivated is not None
    assert deactivated.status_nik == "NONAKTIF"
    staff, official = await get_user(db, STAFF), await get_user(db, OFFICIAL)
    assert (staff.role, staff.service_point) == ("staff", "kec-kanigoro")
    assert (await get_user(db, OFFICE)).service_point == "kanigoro"
    assert (official.role, official.area_code) == ("official", "3505102001")
    assert (await get_user(db, ADMIN)).role == "admin"
    household = await chat_links(db, PARENT)
    assert [view.link.kind for view in household] == ["household"]
    assert {person.nik for person in household[0].people} >= {cards["teen"]["nik"]}


async def test_the_sample_population_is_there_too(sandbox):
    world, _url = sandbox
    async with world.app.bot_data["db"].execute("SELECT COUNT(*) FROM residents") as cursor:
        (count,) = await cursor.fetchone()
    assert count == 2000 + 6 + 12 + 4  # the sample, the planted, the history's teens, neighbours


def test_planted_numbers_never_collide_with_the_sample():
    today = NOW.astimezone(TIMEZONE).date()
    identities_people = residents(today)
    history_people = [t.resident for t in teens(today)] + [n.resident for n in neighbours(today)]
    planted = identities_people + history_people
    sample = list(generate_residents(50_000, seed=1, today=today))
    assert len({p.nik for p in planted}) == 6 + 12 + 4
    assert not {p.no_kk for p in history_people} & {p.no_kk for p in identities_people}
    assert not {p.nik for p in planted} & {row["nik"] for row in sample}
    assert not {p.no_kk for p in planted} & {row["no_kk"] for row in sample}
    cards = [card for card in identities(NOW) if card.resident]
    assert {card.resident for card in cards} <= set(identities_people)


# --- acting and seeing ---


async def test_text_reaches_the_bot_and_the_answer_arrives_over_sse(sandbox, http, stream):
    world, url = sandbox
    teen = world.by_id[TEEN].resident
    sent = await post(
        http, f"{url}/api/chats/{TEEN}/messages", {"text": f"/cek {teen.nik} {teen.no_kk}"}
    )
    assert sent["from"] == "user"
    assert text_of(sent["nodes"]).startswith("/cek")
    answer = await stream.until(from_bot(TEEN, "NIK Anda AKTIF"))
    assert teen.nik not in text_of(answer["nodes"])  # masked, as in Telegram
    masked = f"{teen.nik[:4]}********{teen.nik[-4:]}"
    assert answer["nodes"][0] == {"t": "b", "c": [f"Status NIK {masked}"]}
    assert {"t": "b", "c": ["AKTIF"]} in answer["nodes"]
    buttons = [b["data"] for row in answer["inline"] for b in row]
    assert "menu:antre" in buttons


async def test_pressing_a_button_sends_the_callback_through_the_server(sandbox, http, stream):
    _world, url = sandbox
    await post(http, f"{url}/api/chats/{DAMAGED}/messages", {"text": "/antre"})
    services = await stream.until(from_bot(DAMAGED, "pilih layanan"))
    body = {"message_id": services["message_id"], "data": "bk:svc:rusak"}
    await post(http, f"{url}/api/chats/{DAMAGED}/press", body)
    assert (await stream.until(from_bot(DAMAGED, "Untuk siapa")))["from"] == "bot"
    gone = await http.post(
        f"{url}/api/chats/{DAMAGED}/press",
        json={"message_id": services["message_id"], "data": "no-such-button"},
        headers=ACT,
    )
    assert gone.status == 400


async def test_role_menu_and_default_menu(sandbox, http, stream):
    _world, url = sandbox
    await post(http, f"{url}/api/chats/{STAFF}/messages", {"text": "/start"})
    await stream.until(lambda event: event["type"] == "commands" and event["chat_id"] == STAFF)
    staff = await (await http.get(f"{url}/api/chats/{STAFF}/commands")).json()
    citizen = await (await http.get(f"{url}/api/chats/{TEEN}/commands")).json()
    assert [c["command"] for c in staff][:2] == ["hari_ini", "masuk"]
    assert "hari_ini" not in [c["command"] for c in citizen]
    assert "cek" in [c["command"] for c in citizen]


async def test_uploads_are_stored_and_never_served_as_a_page(sandbox, http, stream):
    _world, url = sandbox
    form = aiohttp.FormData()
    form.add_field(
        "file", b"<script>alert(1)</script>", filename="x.html", content_type="text/html"
    )
    response = await http.post(f"{url}/api/chats/{DAMAGED}/files", data=form, headers=ACT)
    sent = await response.json()
    assert sent["media"]["kind"] == "document"
    download = await http.get(f"{url}{sent['media']['url']}")
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["Content-Disposition"] == 'attachment; filename="x.html"'
    assert download.headers["X-Content-Type-Options"] == "nosniff"


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def sent_by(world: Sandbox, chat_id: int) -> list[Any]:
    """What the person of `chat_id` has sent the bot so far."""
    messages = world.server.sim.messages.items()
    return [m for (chat, _), m in messages if chat == chat_id and not m.from_bot]


async def upload(http, url: str, data: bytes, *, filename: str, declared: str):
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename, content_type=declared)
    return await http.post(f"{url}/api/chats/{DAMAGED}/files", data=form, headers=ACT)


async def test_an_upload_is_typed_by_its_content_not_by_the_type_the_client_declares(sandbox, http):
    _world, url = sandbox
    photo = await upload(http, url, PNG, filename="ktp.bin", declared="application/octet-stream")
    assert (await photo.json())["media"]["kind"] == "photo"
    pdf = await upload(http, url, PDF, filename="surat.pdf", declared="text/plain")
    assert (await pdf.json())["media"]["mime"] == "application/pdf"
    page = await upload(
        http, url, b"<html><script>x</script>", filename="a.pdf", declared="application/pdf"
    )
    assert (await page.json())["media"] | {"url": ""} == {
        "kind": "document",
        "url": "",
        "name": "a.pdf",
        "mime": "application/octet-stream",
        "size": len(b"<html><script>x</script>"),
    }


@pytest.mark.parametrize("declared", ["image/png", "image/svg+xml", "application/pdf"])
async def test_an_svg_is_refused_whatever_type_it_claims(sandbox, http, declared):
    world, url = sandbox
    before = sent_by(world, DAMAGED)
    refused = await upload(http, url, SVG, filename="ktp.png", declared=declared)
    assert refused.status == 400
    assert "SVG" in (await refused.json())["error"]
    assert sent_by(world, DAMAGED) == before  # the bot was sent nothing


@pytest.mark.parametrize(
    "host", ["rebound.example.com:{port}", "127.0.0.1.nip.io:{port}", "127.0.0.1:1", ""]
)
async def test_a_request_under_another_host_name_is_refused(sandbox, http, host):
    """DNS rebinding: a web page whose name now points at 127.0.0.1 sends its own name."""
    world, url = sandbox
    port = int(url.rsplit(":", 1)[1])
    before = sent_by(world, TEEN)
    headers = {"Host": host.format(port=port)}
    page = await http.get(url, headers=headers)
    state = await http.get(f"{url}/api/state", headers=headers)
    sent = await http.post(
        f"{url}/api/chats/{TEEN}/messages", json={"text": "/start"}, headers=ACT | headers
    )
    assert (page.status, state.status, sent.status) == (421, 421, 421)
    assert sent_by(world, TEEN) == before


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])
async def test_the_loopback_names_with_the_port_are_answered(sandbox, http, name):
    _world, url = sandbox
    port = int(url.rsplit(":", 1)[1])
    page = await http.get(url, headers={"Host": f"{name}:{port}"})
    assert page.status == 200


async def test_actions_need_the_sandbox_header_and_a_known_identity(sandbox, http):
    _world, url = sandbox
    cross_site = await http.post(f"{url}/api/chats/{TEEN}/messages", json={"text": "/start"})
    assert cross_site.status == 403
    stranger = await http.post(f"{url}/api/chats/4242/messages", json={"text": "hi"}, headers=ACT)
    assert stranger.status == 400
    empty = await http.post(f"{url}/api/chats/{TEEN}/messages", json={"text": " "}, headers=ACT)
    assert empty.status == 400


async def test_the_page_and_its_security_headers(sandbox, http):
    _world, url = sandbox
    page = await http.get(url)
    assert "Dispendukcapil" in await page.text()
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    script = await http.get(f"{url}/static/app.js")
    assert "innerHTML" not in await script.text()  # the page never parses HTML it is sent


# --- time ---


async def test_a_day_ahead_runs_the_jobs_and_the_parent_gets_the_teen_reminder(
    sandbox, http, stream
):
    _world, url = sandbox
    moved = await post(http, f"{url}/api/clock", {"days": 1})
    assert moved["clock"]["day"]["id"] == "Rabu, 25 November 2026"
    ran = [(run["day"], run["slot"]) for run in moved["runs"]]
    assert ran[0] == ("2026-11-24", "booking-reminders@16:00")  # in time order from 10:00 Tue
    assert ("2026-11-25", "teen-reminders") in ran
    teen_run = next(run for run in moved["runs"] if run["slot"] == "teen-reminders")
    assert (teen_run["planned"], teen_run["error"]) == (1, None)
    reminder = await stream.until(from_bot(PARENT, "DEWI SANTOSO"))
    assert [b["data"] for row in reminder["inline"] for b in row] == ["bk:start:rekam"]
    assert reminder["day"]["id"] == "Rabu, 25 November 2026"


async def test_jump_to_a_date_and_never_back(sandbox, http):
    _world, url = sandbox
    moved = await post(http, f"{url}/api/clock", {"to": "2026-11-27T07:30"})
    assert moved["clock"]["local"] == "2026-11-27T07:30"
    assert {run["day"] for run in moved["runs"]} == {
        "2026-11-24",
        "2026-11-25",
        "2026-11-26",
        "2026-11-27",
    }
    back = await http.post(f"{url}/api/clock", json={"to": "2026-11-26T10:00"}, headers=ACT)
    assert back.status == 400
    assert "forward" in (await back.json())["error"]


async def test_a_failing_planner_is_reported_and_the_others_still_run(sandbox, monkeypatch):
    world, _url = sandbox

    async def unfinished(run):
        raise NotImplementedError("being written")

    broken = JobSpec("broken", (time(8, 0),), unfinished)
    real = timetravel.all_jobs()
    monkeypatch.setattr(timetravel, "all_jobs", lambda: [broken, *real])
    runs = await world.jump(NOW + timedelta(days=1))
    failed = [run for run in runs if run.error]
    assert [(r.slot, r.day, r.error) for r in failed] == [
        ("broken", "2026-11-25", "NotImplementedError: being written")
    ]
    assert any(run.slot == "teen-reminders" and run.planned == 1 for run in runs)
    assert world.events.events[-1]["type"] == "clock"


# --- pure parts ---


def test_slots_between_are_in_time_order_and_exclusive_of_the_start():
    start = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 08:00 WIB: the teen slot itself is past
    found = timetravel.slots_between(start, start + timedelta(days=1))
    moments = [moment for moment, _spec, _at in found]
    assert moments == sorted(moments)
    assert all(start < moment <= start + timedelta(days=1) for moment in moments)
    names = [spec.slot(at) for _moment, spec, at in found]
    assert (names[0], names[-1]) == ("deadline-reminders", "teen-reminders")
    assert names.count("booking-reminders@06:30") == 1
    assert "backup" not in names  # a jump copies no demo database


def test_sandbox_clock_ticks_with_its_base_and_only_jumps_forward():
    base = FixedClock(NOW)
    clock = SandboxClock(NOW + timedelta(days=3), base=base)
    base.advance(timedelta(minutes=5))
    assert clock.now() == NOW + timedelta(days=3, minutes=5)
    assert clock.jump_to(NOW + timedelta(days=4)) == NOW + timedelta(days=3, minutes=5)
    assert clock.now() == NOW + timedelta(days=4)
    with pytest.raises(ClockError):
        clock.jump_to(NOW)
    with pytest.raises(ClockError):
        clock.jump_to(datetime(2030, 1, 1))  # noqa: DTZ001


def test_telegram_html_becomes_safe_nodes():
    source = (
        '<b>Status</b> &lt;script&gt;alert(1)&lt;/script&gt; <a href="javascript:alert(1)">x</a> '
        '<a href="https://dukcapil.blitarkab.go.id">web</a> <span class="tg-spoiler">s</span> '
        '<pre><code class="language-text">a &amp; b</code></pre> '
        "<blockquote expandable>q</blockquote>"
    )
    nodes = to_nodes(source, "HTML")
    assert nodes[0] == {"t": "b", "c": ["Status"]}
    assert nodes[1] == " <script>alert(1)</script> "  # text, never markup
    assert nodes[2] == {"t": "a", "c": ["x"]}  # no javascript: link
    assert nodes[4] == {"t": "a", "href": "https://dukcapil.blitarkab.go.id", "c": ["web"]}
    assert {"t": "spoiler", "c": ["s"]} in nodes
    assert {"t": "pre", "c": [{"t": "code", "c": ["a & b"]}]} in nodes
    assert {"t": "blockquote", "c": ["q"]} in nodes
    assert to_nodes("<b>plain</b>", None) == ["<b>plain</b>"]
    assert to_nodes('<tg-emoji emoji-id="1">👍</tg-emoji>', "HTML") == ["👍"]


# --- charts and documents the bot sends ---


def media_of(chat_id: int, kind: str, *words: str) -> Callable[[dict[str, Any]], bool]:
    """The bot's next message to the chat with a photo or document (and these words)."""
    sent = from_bot(chat_id, *words)
    return lambda event: sent(event) and (event["media"] or {}).get("kind") == kind


async def download(http, url: str, media: dict[str, Any]) -> tuple[aiohttp.ClientResponse, bytes]:
    response = await http.get(f"{url}{media['url']}")
    assert response.status == 200
    return response, await response.read()


async def assert_a_chart(http, url: str, event: dict[str, Any]) -> None:
    """The photo's link gives the bot's PNG, shown in the page (no attachment), phone-sized."""
    response, data = await download(http, url, event["media"])
    assert response.headers["Content-Type"] == "image/png"
    assert "Content-Disposition" not in response.headers
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        assert image.width == 1080


async def test_an_officials_rekap_shows_charts_and_downloads_the_outreach_csv_and_pdf(
    sandbox, http, stream
):
    _world, url = sandbox
    await post(http, f"{url}/api/chats/{OFFICIAL}/messages", {"text": "/rekap"})
    listing = await stream.until(media_of(OFFICIAL, "document", "Daftar kunjungan Minggirsari"))
    funnel = await stream.until(media_of(OFFICIAL, "photo", "dari diingatkan sampai rekam"))
    assert "Diingatkan bot: 0 " not in text_of(funnel["nodes"])  # the history's reminders
    await assert_a_chart(http, url, funnel)

    name = "outreach-3505102001-2026-11-24.csv"
    assert listing["media"] | {"url": ""} == {
        "kind": "document", "url": "", "name": name, "mime": "text/csv",
        "size": listing["media"]["size"],
    }  # fmt: skip
    response, data = await download(http, url, listing["media"])
    assert response.headers["Content-Type"] == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    assert len(data) == listing["media"]["size"]
    assert "KASMINI" in data.decode("utf-8-sig")  # the neighbour nobody can reach

    body = {"message_id": listing["message_id"], "data": "rekap:pdf"}
    await post(http, f"{url}/api/chats/{OFFICIAL}/press", body)
    pdf = (await stream.until(media_of(OFFICIAL, "document")))["media"]
    assert (pdf["name"], pdf["mime"]) == (name.replace(".csv", ".pdf"), "application/pdf")
    response, data = await download(http, url, pdf)
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{pdf["name"]}"'
    assert data.startswith(b"%PDF-")
    assert len(data) == pdf["size"]


async def test_the_admins_statistik_shows_the_regency_funnel_and_the_service_points(
    sandbox, http, stream
):
    _world, url = sandbox
    await post(http, f"{url}/api/chats/{ADMIN}/messages", {"text": "/statistik"})
    funnel = await stream.until(media_of(ADMIN, "photo", "dari diingatkan sampai rekam"))
    await assert_a_chart(http, url, funnel)
    points = await stream.until(media_of(ADMIN, "photo", "Kantor Kecamatan Kanigoro"))
    await assert_a_chart(http, url, points)


async def test_the_last_month_gives_the_funnel_every_step(sandbox):
    """The history's teens were reminded; most booked; some came and were recorded, some did
    not come; in Minggirsari too, where a household nobody can reach waits for a visit."""
    world, _url = sandbox
    db = world.app.bot_data["db"]
    today = NOW.astimezone(TIMEZONE).date()
    official = await get_user(db, OFFICIAL)
    for found in (await regency(db, today=today), await rekap(db, official, today=today)):
        assert found.reminded > found.booked > found.came > 0, found.scope
        assert found.no_show > 0
        assert found.recorded >= found.came
    village = await rekap(db, official, today=today)
    assert village.outreach == 3  # the mother, the son turning 17, the deactivated neighbour


# --- the story agrees with its hints ---


def card_of(world: Sandbox, user_id: int) -> dict[str, Any]:
    return world.identity(user_id).card()


async def test_the_first_point_offered_to_each_citizen_has_a_demo_staff_member(sandbox):
    """Dewi's walk-through books at the first point offered: its staff must be someone to be."""
    world, _url = sandbox
    db = world.app.bot_data["db"]
    staffed = {p.service_point for p in world.people if p.role == "staff"}
    for person in world.people:
        if (resident := person.resident) is None:
            continue
        service = "rusak" if resident.recorded else "rekam"  # what the person's hint leads to
        home = (await get_resident(db, resident.nik)).kode_desa[:6]
        first = (await shortlisted_points(db, service, home_kecamatan=home))[0]
        assert first.code in staffed, (person.key, service, first.code)


async def test_the_first_day_sends_no_deactivation_preview_and_the_hinted_moment_does(
    sandbox, http, stream
):
    world, url = sandbox
    assert "lompat ke 1 Mei 2027 09.00 " in card_of(world, ADMIN)["hint"]["id"]
    day = await post(http, f"{url}/api/clock", {"days": 1})
    preview = [run for run in day["runs"] if run["slot"] == "deactivation-preview"]
    assert [(run["day"], run["planned"]) for run in preview] == [("2026-11-25", 0)]
    hinted = await post(http, f"{url}/api/clock", {"to": "1 Mei 2027 09.00"})
    assert hinted["clock"]["day"]["id"] == "Sabtu, 1 Mei 2027"
    preview = [run for run in hinted["runs"] if run["slot"] == "deactivation-preview"]
    assert [run["planned"] for run in preview if run["day"] != "2027-05-01"] == [0] * 156
    assert (preview[-1]["day"], preview[-1]["planned"]) == ("2027-05-01", 1)
    sent = await stream.until(from_bot(ADMIN, "Pratinjau penonaktifan NIK tahunan"))
    assert "batas perekaman Jumat, 30 April 2027" in text_of(sent["nodes"])


async def test_ani_was_deactivated_in_the_last_annual_deactivation_not_on_the_first_day(
    sandbox, http, stream
):
    world, url = sandbox
    assert "dinonaktifkan pada 7 Mei 2026 " in card_of(world, DEACTIVATED)["story"]["id"]
    moved = await post(http, f"{url}/api/clock", {"days": 30})  # a 30-day reminder falls in it
    ran = [
        (run["day"], run["planned"])
        for run in moved["runs"]
        if run["slot"] == "deactivated-reminders"
    ]
    assert [day for day, planned in ran if planned] == ["2026-12-03"]  # 7 May + 7 * 30 days
    reminder = await stream.until(from_bot(DEACTIVATED, "NONAKTIF"))
    assert "NONAKTIF sejak Kamis, 7 Mei 2026." in text_of(reminder["nodes"])


def test_no_hint_repeats_the_label_the_page_puts_before_it():
    labels = {"id": "Coba", "en": "Try"}  # app.js: T.id.try, T.en.try, shown as "Coba: <hint>"
    script = (Path(__file__).parents[2] / "sandbox" / "static" / "app.js").read_text()
    assert all(f'try: "{label}"' in script for label in labels.values())
    for person in identities(NOW):
        for locale, label in labels.items():
            assert person.hint[locale].split()[0] != label, (person.key, person.hint[locale])


async def test_the_clock_shown_runs_on_between_jumps(sandbox, stream):
    world, _url = sandbox
    world.clock.base.advance(timedelta(minutes=5))
    tick = await stream.until(lambda event: event["type"] == "tick")
    assert (tick["clock"]["time"], tick["clock"]["field"]) == ("10.05", "24/11/2026 10.05")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1/5/2027 09.00", (2027, 5, 1, 9, 0)),
        ("01-05-2027 9:00", (2027, 5, 1, 9, 0)),
        (" 1 Mei 2027  pukul 09.00 ", (2027, 5, 1, 9, 0)),
        ("Sabtu, 1 Mei 2027", (2027, 5, 1, 10, 0)),  # the time of day stays
        ("17 agu 2027 07.30", (2027, 8, 17, 7, 30)),
        ("1 May 2027 09:00", (2027, 5, 1, 9, 0)),
        ("2026-11-27T07:30", (2026, 11, 27, 7, 30)),
    ],
)
def test_the_jump_field_takes_indonesian_dates(typed, expected):
    assert parse_moment(typed, now=NOW) == datetime(*expected, tzinfo=TIMEZONE)


@pytest.mark.parametrize(
    "typed", ["05/01/2027 25.00", "31/2/2027", "1 Mai 2027", "2027-13-01", "besok", "1/5/27"]
)
def test_the_jump_field_refuses_what_is_no_date(typed):
    with pytest.raises(ClockError):
        parse_moment(typed, now=NOW)

"""Buttons carry no authority: callback data forged by hand (another citizen's booking, another
chat's link, another point's booking or ticket, an edited role or area, random bytes, over-long
or malformed data, an expired or replayed consent token) is refused and changes nothing.

Callback data holds only opaque ids (re-checked on the server against the presser's chat,
point or role) or tokens kept in the presser's own server-side session; these tests press
such data on a message of the attacker's own (`raw=True`), as a modified client could.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from bot.services import booking as booking_service
from bot.services import links
from bot.services.schedule import slot_starts
from bot.services.waitlist import join_waitlist
from bot.storage.residents import get_resident
from tests.conftest import NOW, PEOPLE, STAFF_ID
from tests.security.test_authorization_matrix import (  # noqa: F401  (the module's own `world`)
    EXTRA,
    HOME_POINT,
    OTHER_POINT,
    REFUSED,
    STALE,
    TEENS,
    WRONG_POINT,
    World,
    world_fixture,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOT_FOUND = "tidak ditemukan"
GENERIC_ERROR = "terjadi gangguan"
# What a refused press may be answered with: stale button, not found / not yours, refused role.
REFUSALS = (STALE, NOT_FOUND, REFUSED, WRONG_POINT, "tidak sesuai")


async def snapshot(w: World) -> list[tuple]:
    """Everything a forged press could change: bookings, tickets, links, offers, broadcasts,
    the deactivation run and the residents' status."""
    queries = [
        "SELECT id, state, start_at, chat_id FROM bookings ORDER BY id",
        "SELECT id, state FROM tickets ORDER BY id",
        "SELECT id, chat_id, kind, reminders_on FROM links ORDER BY id",
        "SELECT count(*) FROM broadcasts",
        "SELECT state FROM deactivation_runs",
        "SELECT count(*) FROM residents WHERE status_nik = 'NONAKTIF'",
        "SELECT count(*) FROM closures",
        "SELECT count(*) FROM waitlist",
    ]
    found = []
    for sql in queries:
        async with w.db.execute(sql) as cursor:
            found.append(tuple(tuple(row) for row in await cursor.fetchall()))
    return found


async def forge(w: World, user, data: str) -> str:
    """Press `data` on a message of the user's own; the text of the answer."""
    user.press(await w.own_message(user), data, raw=True)
    return (await user.next_message()).text or ""


def refused(text: str) -> bool:
    return any(phrase in text for phrase in REFUSALS) and GENERIC_ERROR not in text


async def link_of(w: World, chat_id: int) -> int:
    resident = await get_resident(w.db, next(w.residents).nik)
    assert resident is not None
    await links.link_chat(w.db, chat_id, resident, household=False, now=w.clock.now())
    return await w.value("SELECT max(id) FROM links WHERE chat_id = ?", chat_id)


# --- another citizen's things ---


@pytest.mark.parametrize(
    "template",
    ["jd:cancel:{id}", "jd:drop:{id}", "jd:move:{id}", "bk:coming:{id}", "bk:release:{id}"],
)
async def test_another_citizens_booking(world: World, template: str):
    booking = await world.booking()
    attacker = await world.actor("citizen")
    before = await snapshot(world)
    text = await forge(world, attacker, template.format(id=booking.id))
    assert refused(text), text
    assert await snapshot(world) == before


async def test_another_chats_waitlist_offer(world: World):
    """A place held for one chat cannot be taken by another pressing its offer id."""
    start = slot_starts(date(2026, 11, 26))[0]
    held = [await world.booking(start, point=OTHER_POINT) for _ in range(6)]  # the slot is full
    waiting = await world.actor("citizen")
    await join_waitlist(
        world.db,
        chat_id=waiting.id,
        nik=next(world.teens).nik,
        service="rekam",
        point_code=OTHER_POINT,
        first_day=start.date(),
        last_day=start.date(),
        now=NOW,
    )
    _, offer = await booking_service.cancel(world.db, held[0].id, chat_id=held[0].chat_id, now=NOW)
    assert offer is not None
    assert offer.chat_id == waiting.id
    attacker = await world.actor("citizen")
    before = await snapshot(world)
    for data in (f"wl:take:{offer.id}", "wl:take:0"):
        assert refused(await forge(world, attacker, data))
    assert await snapshot(world) == before
    assert await forge(world, waiting, f"wl:take:{offer.id}")  # the chat it is held for may
    assert await world.value("SELECT state FROM waitlist_offers WHERE id = ?", offer.id) == "taken"


@pytest.mark.parametrize("action", ["t", "d"])
async def test_another_chats_link_in_pengingat(world: World, action: str):
    victim = await world.actor("citizen")
    link_id = await link_of(world, victim.id)
    attacker = await world.actor("citizen")
    before = await snapshot(world)
    assert STALE in await forge(world, attacker, f"rem:{action}:{link_id}")
    assert await snapshot(world) == before


async def test_a_malformed_pengingat_button_does_not_unlink(world: World):
    user = await world.actor("citizen")
    link_id = await link_of(world, user.id)
    before = await snapshot(world)
    assert STALE in await forge(world, user, f"rem:x:{link_id}")
    assert await snapshot(world) == before


# --- staff buttons naming another point's booking or ticket ---


@pytest.mark.parametrize(
    ("template", "audited"),
    [
        ("st:ok:{id}", "staffdesk:confirm:refused"),
        ("st:no:{id}", "staffdesk:reject:refused"),
        ("st:out:no_show:{id}", "staffdesk:outcome:refused"),
    ],
)
async def test_staff_button_with_another_points_booking(world: World, template, audited):
    booking = await world.booking(point=OTHER_POINT)
    staff = await world.actor("staff")  # staff of the home point
    before = await snapshot(world)
    mark = await world.value("SELECT max(id) FROM audit_log")
    assert WRONG_POINT in await forge(world, staff, template.format(id=booking.id))
    assert await snapshot(world) == before
    assert [a for a in await world.audit_after(mark) if a[:2] == (staff.id, audited)] != []


@pytest.mark.parametrize("step", ["v", "x", "f"])
async def test_ticket_button_with_another_points_ticket(world: World, step: str):
    ticket = await world.ticket(point=OTHER_POINT)
    staff = await world.actor("staff")
    before = await snapshot(world)
    mark = await world.value("SELECT max(id) FROM audit_log")
    assert WRONG_POINT in await forge(world, staff, f"tks:{step}:{ticket.id}")
    assert await snapshot(world) == before
    refusals = [a for a in await world.audit_after(mark) if a[0] == staff.id]
    assert any(
        action.endswith(":refused") and f"ticket={ticket.id}" in detail
        for _, action, detail in refusals
    ), refusals


# --- an edited role, point or area inside the data ---


@pytest.mark.parametrize(
    "template",
    [
        "st:ok:{b}:kanigoro",
        "st:ok:{b}:admin",
        "st:out:recorded:{b}:admin",
        "st:out:no_show:{b}:" + OTHER_POINT,
        "tks:v:{t}:admin",
        "tks:v:{t}:kanigoro",
        "dz:ok:{r}:admin",
        "dz:ask:{r}:admin",
        "sr:a:admin",
        "sr:a:35.05.10",
        "sr:a:3505",
        "sr:t:invitation:35.05.10",
    ],
)
async def test_an_edited_role_or_area_is_no_authority(world: World, template: str):
    """Staff of another point (and a citizen) append a role, a point or an area: the server
    never reads one from the data, so the press names no row or is refused."""
    booking, ticket = await world.booking(), await world.ticket()
    data = template.format(b=booking.id, t=ticket.id, r=world.run_id)
    before = await snapshot(world)
    for kind in ("staff_other_point", "citizen", "official_other_area"):
        user = await world.actor(kind)
        text = await forge(world, user, data)
        assert refused(text), (kind, text)
    assert await snapshot(world) == before


async def test_an_official_of_another_area_broadcasts_only_to_their_own(world: World):
    """/siaran's area comes from the account, never from a button: the other area's official
    who walks the flow reaches their own linked chats, not the home area's."""
    srengat = await world.actor("citizen")
    rudi = await get_resident(world.db, PEOPLE["unrecorded"].nik)
    assert rudi is not None
    await links.link_chat(world.db, srengat.id, rudi, household=False, now=world.clock.now())
    official = await world.actor("official_other_area")
    official.send_text("/siaran")
    start = await official.next_message()
    assert "Srengat" in start.text
    official.press(start, "sr:t:invitation")
    audience = await official.next_message()
    official.press(audience, "sr:a:linked")
    await official.next_message()  # the preview
    confirm = await official.next_message()
    assert "Penerima: 1 chat" in confirm.text
    assert "Srengat" in confirm.text
    official.press(confirm, "sr:ok")
    assert "masuk antrean pengiriman untuk 1 chat" in (await official.next_message()).text
    areas = await world.value(
        "SELECT group_concat(area_code) FROM broadcasts WHERE author_id = ?", official.id
    )
    assert areas == "350503"


# --- random bytes, over-long and malformed data ---

_rng = random.Random(6)
RANDOM = [
    "".join(chr(_rng.randrange(1, 0x2FF)) for _ in range(_rng.randrange(1, 40))) for _ in range(12)
]
MALFORMED = [
    " ", "\x00", "\x00\xff\xfe", ":", "::::", "st", "st:", "st:ok:", "st:ok:-1", "st:ok:+5",
    "st:ok:1.0", "st:ok:²", "st:ok:١٢", "st:ok:" + "9" * 40, "st:no:²", "st:out::",
    "st:out:recorded:", "st:out:exploded:1", "st:out:recorded:²", "tks:v:" + "9" * 30,
    "tks:z:1", "tks:f:abc", "tks:x:²", "dz:ok:", "dz:ok:-1", "dz:ok:" + "9" * 50, "dz:csv:²",
    "jd:drop:" + "9" * 40, "jd:drop:²", "jd:move:²", "jd:cancel:", "bk:coming:²",
    "bk:release:" + "9" * 40, "wl:take:²", "wl:take:" + "9" * 40, "rem:t:²", "rem:d:" + "9" * 40,
    "rem::", "link:nik:", "link::", "link:kk:../../", "consent:nik:", "consent:nik:deadbeef",
    "consent:zz:deadbeef", "bk:slot:²", "bk:slot:" + "9" * 40, "bk:day:2026-13-45", "bk:who:²",
    "tk:who:²", "tk:cause:../", "sr:a:" + "x" * 60, "lang:xx", "loc:../../etc", "menu:",
    "menu:" + "m" * 60, "x" * 64, "é" * 32, "💥" * 16, "<b>st:ok:1</b>", "st:ok:1\nst:ok:2",
    *RANDOM,
]  # fmt: skip


@pytest.mark.parametrize("kind", ["citizen", "staff", "admin"])
async def test_random_and_malformed_data(world: World, kind: str):
    """Every malformed press is answered as a stale or refused button, never with an error,
    and changes nothing."""
    await world.booking()  # something a lax parser could hit
    user = await world.actor(kind)
    before = await snapshot(world)
    for data in MALFORMED:
        text = await forge(world, user, data)
        assert refused(text), (data, text)
    assert await snapshot(world) == before


async def test_malformed_data_inside_the_booking_flow(world: World):
    """Inside /antre the steps read ids and timestamps from the data: '²', huge numbers and
    an out-of-range person index are stale buttons, not crashes."""
    person = TEENS[-1]
    user = await world.actor("citizen")
    user.send_text(f"/cek {person.nik} {person.kk}")
    await user.next_message()
    for n, data in enumerate(("bk:who:²", "bk:who:99", "bk:slot:²", "bk:slot:" + "9" * 40)):
        user.send_text("/antre")
        if n:  # the refused press left the step open: starting again takes its buttons away
            assert (await user.next_message()).method == "editMessageReplyMarkup"
        services = await user.next_message()
        user.press(services, "bk:svc:rekam")
        people = await user.next_message()
        if data.startswith("bk:slot:"):
            user.press(people, "bk:who:0")
            points = await user.next_message()
            user.press(points, "bk:pt:kanigoro")
            days = await user.next_message()
            user.press(days, next(d for _, d in days.buttons if d.startswith("bk:day:")))
            people = await user.next_message()
        before = await snapshot(world)
        user.press(people, data, raw=True)
        text = (await user.next_message()).text or ""
        assert refused(text), (data, text)
        assert await snapshot(world) == before


# --- tokens: the link consent ---


async def _status_with_token(world: World, user, person) -> str:
    user.send_text(f"/cek {person.nik} {person.kk}")
    status = await user.next_message()
    return next(d for _, d in status.buttons if d and d.startswith("link:nik:"))


async def test_consent_token_of_another_user(world: World):
    owner, attacker = await world.actor("citizen"), await world.actor("citizen")
    token = (await _status_with_token(world, owner, EXTRA[-2])).rpartition(":")[2]
    before = await snapshot(world)
    for data in (f"link:nik:{token}", f"consent:nik:{token}", f"consent:kk:{token}"):
        assert STALE in await forge(world, attacker, data)
    assert await snapshot(world) == before


async def test_expired_consent_token(world: World):
    user = await world.actor("citizen")
    link = await _status_with_token(world, user, EXTRA[-3])
    user.press(user.inbox[-1], link)
    consent = await user.next_message()
    before = await snapshot(world)
    world.clock.advance(timedelta(minutes=16))
    try:
        user.press(consent, consent.buttons[0][1])
        assert STALE in (await user.next_message()).text
    finally:
        world.clock.advance(-timedelta(minutes=16))
    assert await snapshot(world) == before


async def test_replayed_consent_links_once(world: World):
    user = await world.actor("citizen")
    link = await _status_with_token(world, user, EXTRA[-4])
    user.press(user.inbox[-1], link)
    consent = await user.next_message()
    yes = consent.buttons[0][1]
    user.press(consent, yes)
    await user.next_message()
    linked = await snapshot(world)
    for _ in range(2):  # the same press again, and forged on another message
        user.press(await world.own_message(user), yes, raw=True)
        await user.next_message()
    assert await snapshot(world) == linked
    assert await world.value("SELECT count(*) FROM links WHERE chat_id = ?", user.id) == 1


async def test_staff_id_is_not_a_role(world: World):
    """The fixture's staff account id in the data is no authority for a citizen."""
    booking = await world.booking()
    user = await world.actor("citizen")
    before = await snapshot(world)
    assert REFUSED in await forge(world, user, f"st:ok:{booking.id}:{STAFF_ID}")
    assert await snapshot(world) == before


async def test_a_staff_group_member_without_the_role(world: World):
    """Staff buttons posted in a staff group are pressed by whoever is in the group: the
    presser's own role decides, not the chat the button is in."""
    booking = await world.booking()
    group = world.botapi.group(-next(world.ids), "Petugas Kanigoro")
    admin = await world.actor("admin")
    admin.send_text(f"/grup_petugas {HOME_POINT}", chat=group)  # a staff group: never limited
    assert "dikirim ke grup ini" in (await group.next_message()).text
    member = await world.actor("citizen")
    member.send_text("/hari_ini", chat=group)
    message = await group.next_message()
    before = await snapshot(world)
    for data in (f"st:ok:{booking.id}", f"st:no:{booking.id}", "st:all"):
        member.press(message, data, raw=True)
        assert REFUSED in (await group.next_message()).text
    assert await snapshot(world) == before

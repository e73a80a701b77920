"""Reports that a linked resident lives elsewhere: validation, change, withdrawal, what the
reminders, /rekap and the deactivation preview make of them, and that an unlink or an erase
leaves no report behind."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.db import transaction, vault_of
from bot.domain import RoleUser
from bot.nik import make_nik
from bot.places import Place, find_countries, find_regencies
from bot.rendering import Renderer
from bot.services import elsewhere, reminders
from bot.services.deactivation import Notifier, approve, cohort_elsewhere, prepare_preview
from bot.services.elsewhere import MonthRefused, NotLinked, PlaceRefused, ReportNotFound
from bot.services.key_rotation import rotate_key
from bot.services.links import chat_links, erase_chat, link_chat, unlink
from bot.storage.residents import get_resident, upsert_residents
from bot.views.deactivation import deactivated
from bot.views.reminders import reminder_markup, reminder_text

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
TODAY = date(2026, 11, 24)
KK_A, KK_B = "3505030202100002", "3505100101080001"
DESA_A, DESA_B = "3505032001", "3505102001"  # Srengat, Kanigoro
CHAT, OTHER_CHAT = 7701, 7702
MALAYSIA, SURABAYA = Place("abroad", "MY"), Place("regency", "35.78")


def _row(name, born, sex, serial, *, kk, desa, kawin="BELUM KAWIN", status="AKTIF"):
    nik = make_nik(desa[:6], born, sex, serial)
    return (nik, kk, name, born.isoformat(), sex, kawin, desa, None, status)


ROWS = {
    # Wajib KTP on 31 Dec 2025 and never recorded: counted down to 30 April 2027's deadline.
    "rudi": _row("Rudi Lestari", date(2000, 2, 10), "L", 5, kk=KK_A, desa=DESA_A),
    "ani": _row("Ani Lestari", date(2006, 3, 3), "P", 6, kk=KK_A, desa=DESA_A),
    "dewi": _row("Dewi Santoso", date(2009, 12, 15), "P", 3, kk=KK_B, desa=DESA_B),
}
NIK = {key: row[0] for key, row in ROWS.items()}


@pytest.fixture
async def world(db):
    """Three unrecorded residents; CHAT linked to the Lestari household, OTHER_CHAT to Dewi."""
    async with transaction(db):
        await upsert_residents(db, list(ROWS.values()), now=NOW)
    rudi = await get_resident(db, NIK["rudi"])
    await link_chat(db, CHAT, rudi, household=True, now=NOW)
    await link_chat(db, OTHER_CHAT, await get_resident(db, NIK["dewi"]), household=False, now=NOW)
    return db


async def report(db, who="rudi", place=MALAYSIA, *, chat=CHAT, since=date(2025, 6, 1), **kw):
    return await elsewhere.report(
        db,
        chat,
        NIK[who],
        place,
        since=since,
        reason=kw.get("reason", "work"),
        today=TODAY,
        now=NOW,
    )


async def due_about(db, who, day):
    """The deadline reminders due on `day` about one resident."""
    due = await reminders.deadline_reminders(db, since=day, today=day)
    return [r for r in due if r.nik == NIK[who]]


async def count(db, sql="SELECT count(*) FROM living_elsewhere", *args):
    [(n,)] = await db.execute_fetchall(sql, args)
    return n


# --- the places and the month ---


def test_places_are_matched_loosely_and_home_is_refused():
    assert find_regencies("surabaya") == [SURABAYA]
    assert [p.code for p in find_regencies("Malang")] == ["35.07", "35.73"]
    assert [p.code for p in find_regencies("Kota Malang")] == ["35.73"]
    assert find_countries("Arab Saudi") == find_countries("saudi") == [Place("abroad", "SA")]
    assert find_countries("Netherlands") == find_countries("Belanda") == [Place("abroad", "NL")]
    assert elsewhere.places_named("blitar", "regency") == [Place("regency", "35.72")]  # the city
    with pytest.raises(PlaceRefused) as home:
        elsewhere.places_named("Kabupaten Blitar", "regency")
    assert home.value.context["kind"] == "home"
    with pytest.raises(PlaceRefused) as indonesia:
        elsewhere.places_named("Indonesia", "abroad")
    assert indonesia.value.context["kind"] == "indonesia"


@pytest.mark.parametrize(
    ("typed", "kind", "why"),
    [
        ("Narnia", "abroad", "unknown_country"),
        ("Uni Eropa", "abroad", "unknown_country"),  # a territory of CLDR, not a country
        ("Gotham", "regency", "unknown_regency"),
        ("12345", "abroad", "unreadable"),
        ("<b>Malaysia</b>", "abroad", "unreadable"),
        ("ab", "regency", "unreadable"),
    ],
)
def test_a_place_that_is_not_one_is_refused(typed, kind, why):
    with pytest.raises(PlaceRefused) as refused:
        elsewhere.places_named(typed, kind)
    assert refused.value.context["kind"] == why


@pytest.mark.parametrize(
    ("typed", "month"),
    [("03-2025", date(2025, 3, 1)), ("3/2025", date(2025, 3, 1)), ("2025-03", date(2025, 3, 1)),
     ("Maret 2025", date(2025, 3, 1)), ("mar 2025", date(2025, 3, 1)),
     ("March 2025", date(2025, 3, 1)), ("11-2026", date(2026, 11, 1))],
)  # fmt: skip
def test_months_are_read_the_ways_people_type_them(typed, month):
    assert elsewhere.parse_month(typed, born=date(2000, 2, 10), today=TODAY) == month


@pytest.mark.parametrize(
    ("typed", "why"),
    [("12-2026", "month_future"), ("13-2025", "month_format"), ("kemarin", "month_format"),
     ("01-2000", "month_before"), ("Maret", "month_format")],
)  # fmt: skip
def test_a_future_or_impossible_month_is_refused(typed, why):
    with pytest.raises(MonthRefused) as refused:
        elsewhere.parse_month(typed, born=date(2000, 2, 10), today=TODAY)
    assert refused.value.context["kind"] == why


# --- reporting, changing, withdrawing ---


async def test_a_report_is_stored_by_hash_and_audited_without_chat_or_resident(world):
    saved = await report(world)
    assert (saved.nama, saved.place, saved.since) == ("Rudi Lestari", MALAYSIA, date(2025, 6, 1))
    ref = vault_of(world).ref(NIK["rudi"])
    assert await count(world, "SELECT count(*) FROM living_elsewhere WHERE nik_ref = ?", ref) == 1
    [(action, detail)] = await world.execute_fetchall(
        "SELECT action, detail FROM audit_log WHERE action LIKE 'elsewhere:%'"
    )
    assert action == "elsewhere:reported"
    assert detail == f"report={saved.id} place=abroad:MY since=2025-06 reason=work"


async def test_a_person_not_linked_to_the_chat_cannot_be_reported(world):
    with pytest.raises(NotLinked):
        await report(world, "dewi")  # linked to OTHER_CHAT only
    with pytest.raises(NotLinked):
        await elsewhere.linked_person(world, CHAT, 3)  # the household has two
    assert await count(world) == 0


async def test_a_future_month_or_an_unknown_country_changes_nothing(world):
    with pytest.raises(MonthRefused):
        await report(world, since=date(2026, 12, 1))
    with pytest.raises(PlaceRefused):
        await report(world, place=Place("abroad", "XX"))
    with pytest.raises(PlaceRefused):
        await report(world, place=Place("regency", "35.05"))  # home
    assert await count(world) == 0


async def test_reporting_again_changes_the_report_and_withdrawing_removes_it(world):
    first = await report(world)
    second = await report(world, place=SURABAYA, reason=None)
    assert second.id == first.id
    [person, _] = await elsewhere.linked_people(world, CHAT)
    assert person.report is not None
    assert person.report.place == SURABAYA
    with pytest.raises(ReportNotFound):
        await elsewhere.withdraw(world, OTHER_CHAT, first.id, now=NOW)  # not its report
    await elsewhere.withdraw(world, CHAT, first.id, now=NOW)
    assert await count(world) == 0
    actions = [a for (a,) in await world.execute_fetchall("SELECT action FROM audit_log")]
    assert actions == ["elsewhere:reported", "elsewhere:changed", "elsewhere:withdrawn"]


async def test_unlinking_drops_the_reports_about_people_no_longer_linked(world):
    await report(world)
    [view] = await chat_links(world, CHAT)
    await unlink(world, CHAT, view.link.id, now=NOW)
    assert await count(world) == 0


async def test_an_erase_leaves_no_report_of_the_chat(world):
    await report(world)
    await report(world, "dewi", chat=OTHER_CHAT, place=SURABAYA)
    await erase_chat(world, CHAT, CHAT, now=NOW)
    assert await count(world, "SELECT count(*) FROM living_elsewhere WHERE chat_id = ?", CHAT) == 0
    ref = vault_of(world).ref(NIK["rudi"])
    assert await count(world, "SELECT count(*) FROM living_elsewhere WHERE nik_ref = ?", ref) == 0
    assert await count(world) == 1  # the other chat's report stays


# --- what the reminders, /rekap and the preview make of a report ---


async def test_abroad_gets_the_offices_advice_once_and_no_countdown(world):
    await report(world)  # Rudi, abroad
    first = date(2027, 3, 31)  # 30 days before 30 April 2027
    [notice] = await due_about(world, "rudi", first)
    assert notice.abroad
    text = reminder_text(Renderer(), "id", notice)
    assert "hubungi Dispendukcapil Kabupaten Blitar" in text
    assert "Malaysia" in text
    assert "hari lagi" not in text
    assert "Kanigoro" not in text
    assert reminder_markup(Renderer(), "id", notice) is None  # no booking button
    later = date(2027, 4, 16)  # 14 days before: a countdown
    assert await due_about(world, "rudi", later) == []
    assert len(await due_about(world, "ani", later)) == 1  # her household's other member


async def test_another_regency_is_told_to_record_there_with_the_countdown(world):
    await report(world, place=SURABAYA)
    day = date(2027, 4, 16)
    [due] = await due_about(world, "rudi", day)
    text = reminder_text(Renderer(), "en", due)
    assert "Dispendukcapil of Kota Surabaya" in text
    assert "14 days left" in text
    assert "Kanigoro" not in text


async def test_a_withdrawn_report_gives_the_usual_reminder_again(world):
    saved = await report(world)
    await elsewhere.withdraw(world, CHAT, saved.id, now=NOW)
    day = date(2027, 4, 16)
    [due] = await due_about(world, "rudi", day)
    assert due.elsewhere is None
    assert "Kanigoro" in reminder_text(Renderer(), "id", due)


async def test_only_the_reporting_chats_reminders_change(world):
    await link_chat(
        world, OTHER_CHAT, await get_resident(world, NIK["rudi"]), household=False, now=NOW
    )
    await report(world, place=SURABAYA)
    day = date(2027, 4, 16)
    due = await due_about(world, "rudi", day)
    assert {(r.chat_id, r.elsewhere) for r in due} == {(CHAT, SURABAYA), (OTHER_CHAT, None)}


async def test_the_area_counts_its_unrecorded_residents_per_place(world):
    await report(world)
    await report(world, "ani", place=SURABAYA)
    await report(world, "dewi", chat=OTHER_CHAT, place=SURABAYA)
    srengat = await elsewhere.area_places(world, "350503", today=TODAY)
    assert [(p.place, p.count) for p in srengat] == [(MALAYSIA, 1), (SURABAYA, 1)]
    kanigoro = await elsewhere.area_places(world, "350510", today=TODAY)
    assert [(p.place, p.count) for p in kanigoro] == [(SURABAYA, 1)]
    regency = await elsewhere.area_places(world, "3505", today=TODAY)
    assert [(p.place, p.count) for p in regency] == [(SURABAYA, 2), (MALAYSIA, 1)]


async def test_the_deactivation_preview_lists_them_as_their_own_group(world):
    await report(world)
    run = await prepare_preview(world, day=TODAY, now=NOW)  # the cycle of 30 April 2026
    assert run.total == 2  # Rudi and Ani: nobody is exempted
    assert [(p.place, p.count) for p in await cohort_elsewhere(world, run)] == [(MALAYSIA, 1)]


async def test_a_key_rotation_keeps_the_reports_with_their_resident(world):
    await report(world)
    await rotate_key(world, "another-secret-of-the-suite-0123456789abcdef", now=NOW)
    [person, _] = await elsewhere.linked_people(world, CHAT)
    assert person.report is not None
    assert person.report.place == MALAYSIA


async def test_the_deactivation_notice_follows_the_report(world):
    await report(world)  # Rudi, abroad; Ani has no report
    run = await prepare_preview(world, day=TODAY, now=NOW)
    told: dict[str, tuple[str, str | None]] = {}

    def compose(locale, notice):
        text, markup = deactivated(Renderer(), locale, notice)
        told[notice.nama] = (text, markup.to_json() if markup else None)
        return told[notice.nama]

    admin = RoleUser(9003, "admin", None, None)
    await approve(
        world, run.id, admin=admin, today=TODAY, now=NOW, notifier=Notifier(compose, "id", None)
    )
    rudi_text, rudi_button = told["Rudi Lestari"]
    assert "hubungi Dispendukcapil Kabupaten Blitar" in rudi_text
    assert "Kanigoro" not in rudi_text
    assert rudi_button is None
    ani_text, ani_button = told["Ani Lestari"]
    assert "Kanigoro" in ani_text
    assert ani_button is not None


async def test_the_reports_storage_on_both_engines(engine_areas):
    """bot/storage/elsewhere.py itself (the service needs the links, ported separately)."""
    from bot.storage import elsewhere as store
    from bot.storage.chats import ensure_chat

    db = engine_areas
    async with transaction(db):
        await upsert_residents(db, list(ROWS.values()), now=NOW)
    for chat in (CHAT, OTHER_CHAT):
        await ensure_chat(db, chat, locale="id", now=NOW)
    since = date(2025, 6, 1)
    saved = {}
    for chat, who, place in ((CHAT, "rudi", MALAYSIA), (CHAT, "ani", SURABAYA),
                             (OTHER_CHAT, "rudi", SURABAYA)):  # fmt: skip
        saved[chat, who] = await store.save_report(
            db, chat, NIK[who], place_kind=place.kind, place_code=place.code, since=since,
            reason="work", now=NOW,
        )  # fmt: skip
    assert all(new for _, new in saved.values())
    rudi_id = saved[CHAT, "rudi"][0]
    changed = await store.save_report(
        db, CHAT, NIK["rudi"], place_kind="regency", place_code="35.78",
        since=date(2025, 7, 1), reason=None, now=NOW,
    )  # fmt: skip
    assert changed == (rudi_id, False)
    reports = await store.list_reports(db, CHAT)
    assert [(r.nik, r.nama, r.place, r.since) for r in reports] == [
        (NIK["rudi"], "Rudi Lestari", SURABAYA, date(2025, 7, 1)),
        (NIK["ani"], "Ani Lestari", SURABAYA, since),
    ]
    assert await store.get_report(db, rudi_id, CHAT) == reports[0]
    assert await store.get_report(db, rudi_id, OTHER_CHAT) is None
    await store.delete_report(db, rudi_id)
    assert [r.nik for r in await store.list_reports(db, CHAT)] == [NIK["ani"]]
    await db.execute(
        "INSERT INTO links (chat_id, kind, subject_ref, reminders_on, consent_at)"
        " VALUES (?, 'nik', ?, 1, ?)",
        (OTHER_CHAT, vault_of(db).ref(NIK["rudi"]), NOW.isoformat()),
    )
    assert await store.drop_unlinked(db, CHAT) == 1  # CHAT has no link to Ani
    assert await store.drop_unlinked(db, OTHER_CHAT) == 0
    assert [r.nik for r in await store.list_reports(db, OTHER_CHAT)] == [NIK["rudi"]]

"""The annual deactivation against a planted population: preview, approval, notices, the job, on
both engines."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.config import Settings
from bot.db import vault_of
from bot.engine import IntegrityError
from bot.errors import NotAuthorized
from bot.handlers.deactivation import notifier
from bot.jobs.registry import job_spec, run_planner
from bot.rendering import Renderer
from bot.services import deactivation
from bot.services.deactivation import Run, RunNotFound, cycle_ended_before
from bot.services.importer import import_residents
from bot.services.outbox import reminder_key
from bot.services.roles import add_user
from bot.storage import chats, links, recordings
from bot.storage.areas import sync_areas
from bot.storage.deactivation import DesaRow
from bot.storage.users import RoleUser
from bot.views.deactivation import preview
from tests.conftest import NOW, SECRET_KEY, Person, write_population

# Tuesday 24 November 2026: the last deadline was 30 April 2026 (cohort: 31 December 2025).
TODAY = date(2026, 11, 24)
ADMIN = RoleUser(9003, "admin", None, None)
OTHER_ADMIN = RoleUser(9004, "admin", None, None)
MINGGIRSARI, JATINOM = "35.05.10.2001", "35.05.10.2002"  # kecamatan Kanigoro
KARANGGAYAM, PASIRAMAN = "35.05.03.2001", "35.05.08.2001"  # Srengat, Wonotirto
KK_A, KK_B, KK_C = "3505100101080011", "3505030202100012", "3505080303110013"


def _p(key, born, desa, *, kk=KK_A, kawin="BELUM KAWIN", rekam="", status="AKTIF", serial):
    from bot.nik import make_nik

    kec = desa.replace(".", "")[:6]
    nik = make_nik(kec, born, "L", serial)
    return key, Person(nik, kk, f"Warga {key}", born, "L", kawin, desa, rekam, status)


PLANTED = dict(
    [
        # in the cohort: 17 by 31 Dec 2025 (born by 31 Dec 2008) or married; AKTIF; unrecorded
        _p("adult1", date(1990, 1, 5), MINGGIRSARI, serial=11),
        _p("adult2", date(2000, 7, 9), MINGGIRSARI, serial=12),
        _p("edge", date(2008, 12, 31), MINGGIRSARI, serial=13),
        _p("married_teen", date(2010, 2, 2), JATINOM, kawin="KAWIN", serial=14),
        _p("srengat1", date(1995, 3, 3), KARANGGAYAM, kk=KK_B, serial=15),
        _p("srengat2", date(1999, 4, 4), KARANGGAYAM, kk=KK_B, serial=16),
        _p("wonotirto", date(1985, 5, 5), PASIRAMAN, kk=KK_C, serial=17),
        # not in it
        _p("too_young", date(2009, 1, 1), JATINOM, serial=18),
        _p("recorded", date(1980, 6, 6), KARANGGAYAM, kk=KK_B, rekam="2015-01-01", serial=19),
        _p("already_off", date(1991, 8, 8), KARANGGAYAM, kk=KK_B, status="NONAKTIF", serial=20),
    ]
)
COHORT = ("adult1", "adult2", "edge", "married_teen", "srengat1", "srengat2", "wonotirto")
SETTINGS = Settings.from_env({"BOT_TOKEN": "1:x", "SECRET_KEY": SECRET_KEY})


@pytest.fixture
async def db(engine_db):
    """Each engine in turn, with the Kemendagri areas loaded."""
    await sync_areas(engine_db)
    return engine_db


@pytest.fixture
async def town(db, tmp_path):
    """The planted residents and two admins, a staff member and an official."""
    from bot.storage.service_points import seed_service_points

    await seed_service_points(db)
    path = write_population(tmp_path / "siak.csv", PLANTED.values())
    assert (await import_residents(db, path, now=NOW)).rejected == []
    for user in (ADMIN, OTHER_ADMIN):
        await add_user(db, user.telegram_id, "admin", service_point=None, area=None, now=NOW)
    await add_user(db, 9001, "staff", service_point="kanigoro", area=None, now=NOW)
    await add_user(db, 9002, "official", service_point=None, area="35.05.10", now=NOW)
    return db


async def _status(db, key):
    async with db.execute(
        "SELECT status_nik, deactivated_on FROM residents WHERE nik_ref = ?",
        (vault_of(db).ref(PLANTED[key].nik),),
    ) as cur:
        return tuple(await cur.fetchone())


async def _approve(db, run_id, admin=ADMIN, *, now=NOW, today=TODAY):
    return await deactivation.approve(
        db,
        run_id,
        admin=admin,
        today=today,
        now=now,
        notifier=notifier(Renderer(), SETTINGS),
    )


async def _outbox(db, prefix=""):
    async with db.execute(
        "SELECT idempotency_key, chat_id, kind, text, reply_markup, not_before FROM outbox"
        " WHERE idempotency_key LIKE ? ORDER BY idempotency_key",
        (prefix + "%",),
    ) as cur:
        rows = await cur.fetchall()
    vault = vault_of(db)  # the text is sealed bound to its chat
    return [(k, c, kind, vault.open(t, "outbox.text", c), *rest) for k, c, kind, t, *rest in rows]


async def _run_deadlines(db):
    async with db.execute("SELECT deadline FROM deactivation_runs ORDER BY deadline") as cur:
        return [row[0] for row in await cur.fetchall()]


async def _link(db, chat_id, kind, subject, *, on=True):
    await chats.ensure_chat(db, chat_id, locale="id", now=NOW)
    await links.insert_link(db, chat_id, kind, subject, now=NOW)
    if not on:
        (link,) = await links.list_links(db, chat_id)
        await links.set_reminders(db, link.id, on=False)


@pytest.mark.parametrize(
    ("day", "deadline"),
    [
        (date(2026, 4, 30), date(2025, 4, 30)),  # the deadline day itself is not after it
        (date(2026, 5, 1), date(2026, 4, 30)),
        (date(2026, 11, 24), date(2026, 4, 30)),
        (date(2027, 1, 5), date(2026, 4, 30)),
    ],
)
def test_the_cycle_is_the_one_whose_deadline_passed_last(day, deadline):
    cycle = cycle_ended_before(day)
    assert cycle.deadline == deadline
    assert cycle.cohort_date == date(deadline.year - 1, 12, 31)


async def test_preview_counts_per_kecamatan_and_desa(town):
    run = await deactivation.prepare_preview(town, day=TODAY, now=NOW)
    assert run.cycle.deadline == date(2026, 4, 30)
    assert run.total == len(COHORT) == 7
    assert [(k.name, k.count) for k in run.kecamatan] == [
        ("Kanigoro", 4),
        ("Srengat", 2),
        ("Wonotirto", 1),
    ]
    assert [(d.desa_name, d.kecamatan_name, d.count) for d in run.top_desa()] == [
        ("Minggirsari", "Kanigoro", 3),
        ("Karanggayam", "Srengat", 2),
        ("Jatinom", "Kanigoro", 1),
        ("Pasiraman", "Wonotirto", 1),
    ]
    assert not run.applied
    for key in COHORT:
        assert await _status(town, key) == ("AKTIF", None)  # nothing changes before approval


async def test_preview_is_stored_once_per_cycle(town):
    first = await deactivation.prepare_preview(town, day=TODAY, now=NOW)
    await recordings.mark_recorded(town, PLANTED["adult1"].nik, TODAY, now=NOW)
    later = await deactivation.prepare_preview(
        town, day=TODAY + timedelta(days=1), now=NOW + timedelta(days=1)
    )
    assert later.id == first.id
    assert later.total == 7  # the stored preview; the approval re-counts
    assert await deactivation.count_now(town, later) == 6


async def test_no_preview_of_a_cycle_before_its_deadline(town):
    on_deadline = await deactivation.prepare_preview(town, day=date(2026, 4, 30), now=NOW)
    assert on_deadline.cycle.deadline == date(2025, 4, 30)  # the 2026 cycle is not previewed
    assert await _run_deadlines(town) == ["2025-04-30"]
    after = await deactivation.prepare_preview(town, day=date(2026, 5, 1), now=NOW)
    assert after.cycle.deadline == date(2026, 4, 30)
    assert await _run_deadlines(town) == ["2025-04-30", "2026-04-30"]


async def test_approval_deactivates_the_cohort_and_spares_who_recorded_since(town):
    run = await deactivation.prepare_preview(town, day=TODAY, now=NOW)
    await recordings.mark_recorded(town, PLANTED["srengat1"].nik, TODAY, now=NOW)
    approval = await _approve(town, run.id)
    assert approval.newly is True
    assert approval.run.applied
    assert approval.run.applied_count == 6
    assert approval.run.approved_by == ADMIN.telegram_id
    assert approval.run.applied_at == NOW
    for key in set(COHORT) - {"srengat1"}:
        assert await _status(town, key) == ("NONAKTIF", "2026-11-24")
    for key in ("srengat1", "too_young", "recorded"):
        assert (await _status(town, key))[0] == "AKTIF"
    assert (await _status(town, "already_off"))[0] == "NONAKTIF"


async def test_a_second_approval_does_nothing(town):
    run = await deactivation.prepare_preview(town, day=TODAY, now=NOW)
    await _link(town, 501, "nik", PLANTED["adult1"].nik)
    first = await _approve(town, run.id)
    # someone re-imported as AKTIF and unrecorded meanwhile: a second approval must not touch them
    await town.execute(
        "UPDATE residents SET status_nik = 'AKTIF' WHERE nik_ref = ?",
        (vault_of(town).ref(PLANTED["adult2"].nik),),
    )
    later = NOW + timedelta(hours=2)
    again = await _approve(town, run.id, OTHER_ADMIN, now=later)
    same_admin = await _approve(town, run.id, now=later)
    assert first.newly
    assert not again.newly
    assert not same_admin.newly
    assert again.run == first.run  # who, when and how many: the first approval's
    assert (await _status(town, "adult2"))[0] == "AKTIF"
    assert len(await _outbox(town)) == 1


async def test_the_schema_refuses_to_change_an_applied_run(town):
    run = await deactivation.prepare_preview(town, day=TODAY, now=NOW)
    await _approve(town, run.id)
    for change in ("state = 'previewed'", "applied_count = 0", "approved_by = 1"):
        with pytest.raises(IntegrityError, match="applied once"):  # a trigger, on both engines
            await town.execute(f"UPDATE deactivation_runs SET {change} WHERE id = ?", (run.id,))
    assert (await deactivation.get_run(town, run.id)).applied_count == len(COHORT)


async def test_only_an_admin_may_approve(town):
    run = await deactivation.prepare_preview(town, day=TODAY, now=NOW)
    for user in (
        None,
        RoleUser(9001, "staff", "kanigoro", None),
        RoleUser(9002, "official", None, "3505100000"),
    ):
        with pytest.raises(NotAuthorized):
            await _approve(town, run.id, user)
    assert not (await deactivation.get_run(town, run.id)).applied
    assert (await _status(town, "adult1"))[0] == "AKTIF"


async def test_an_unknown_run_is_refused(town):
    with pytest.raises(RunNotFound):
        await _approve(town, 999)
    with pytest.raises(RunNotFound):
        await deactivation.get_run(town, 999)


async def test_linked_chats_get_one_notice_per_resident(town):
    run = await deactivation.prepare_preview(town, day=TODAY, now=NOW)
    await _link(town, 501, "nik", PLANTED["adult1"].nik)
    await _link(town, 502, "household", KK_B)  # srengat1, srengat2 (+ recorded, already_off)
    await _link(town, 503, "nik", PLANTED["wonotirto"].nik, on=False)  # reminders off
    await _link(town, 504, "nik", PLANTED["too_young"].nik)  # not in the cohort
    await _link(town, 505, "nik", PLANTED["adult1"].nik)
    approval = await _approve(town, run.id)
    assert approval.notices == 4
    expected = sorted(
        reminder_key(
            vault_of(town), "deactivated", vault_of(town).ref(PLANTED[key].nik), chat, TODAY
        )
        for key, chat in (("adult1", 501), ("srengat1", 502), ("srengat2", 502), ("adult1", 505))
    )
    planned = await _outbox(town)
    assert [row[0] for row in planned] == expected
    for key, _chat_id, kind, text, markup, _ in planned:
        assert kind == "reminder"
        assert not any(p.nik in key or p.nik in text for p in PLANTED.values())
        assert "dinonaktifkan" in text
        assert "Cara mengaktifkan kembali" in text
        assert "30 April 2026" in text
        assert json.loads(markup)["inline_keyboard"][0][0]["callback_data"] == "bk:start:rekam"
    assert {row[1] for row in planned} == {501, 502, 505}


async def test_each_notice_is_in_its_chats_language(town):
    run = await deactivation.prepare_preview(town, day=TODAY, now=NOW)
    await _link(town, 501, "nik", PLANTED["adult1"].nik)
    await _link(town, 502, "nik", PLANTED["adult2"].nik)
    await chats.set_locale(town, 502, "en", now=NOW)
    await _approve(town, run.id)
    texts = {chat_id: text for _key, chat_id, _kind, text, *_ in await _outbox(town)}
    assert "dinonaktifkan" in texts[501]
    assert "has been deactivated" in texts[502]


async def test_notices_wait_for_the_morning_in_quiet_hours(town):
    run = await deactivation.prepare_preview(town, day=TODAY, now=NOW)
    await _link(town, 501, "nik", PLANTED["adult1"].nik)
    evening = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # 21:00 WIB
    await _approve(town, run.id, now=evening)
    ((*_, not_before),) = await _outbox(town)
    assert not_before.startswith("2026-11-25T00:00:00")  # 07:00 WIB


async def test_the_approval_is_audited_without_niks(town):
    run = await deactivation.prepare_preview(town, day=TODAY, now=NOW)
    await _approve(town, run.id)
    await _approve(town, run.id, OTHER_ADMIN)
    async with town.execute(
        "SELECT actor_id, action, detail FROM audit_log WHERE action LIKE 'deactivation:%'"
    ) as cur:
        rows = [tuple(r) for r in await cur.fetchall()]
    assert [(actor, action) for actor, action, _ in rows] == [
        (None, "deactivation:preview"),
        (ADMIN.telegram_id, "deactivation:approve"),
        (OTHER_ADMIN.telegram_id, "deactivation:approve"),
    ]
    assert "deactivated=7" in rows[1][2]
    assert "already applied" in rows[2][2]
    assert not any(p.nik in detail for *_, detail in rows for p in PLANTED.values())


async def test_per_desa_csv_lists_every_desa(town):
    run = await deactivation.prepare_preview(town, day=TODAY, now=NOW)
    lines = deactivation.per_desa_csv(run).splitlines()
    assert lines[0] == "kode_kecamatan,kecamatan,kode_desa,desa,jumlah"
    assert lines[1:] == [
        "350503,Srengat,3505032001,Karanggayam,2",
        "350508,Wonotirto,3505082001,Pasiraman,1",
        "350510,Kanigoro,3505102001,Minggirsari,3",
        "350510,Kanigoro,3505102002,Jatinom,1",
    ]


@pytest.mark.parametrize("locale", ["id", "en"])
async def test_a_regency_wide_preview_fits_one_telegram_message(db, locale):
    async with db.execute(
        "SELECT k.code, k.name, d.code, d.name FROM areas d JOIN areas k ON k.code = d.parent_code"
        " WHERE d.level IN ('desa', 'kelurahan') ORDER BY d.code"
    ) as cur:
        villages = await cur.fetchall()
    desa = [DesaRow(*row, count=1000 + i) for i, row in enumerate(villages)]
    run = Run(
        1,
        cycle_ended_before(TODAY),
        "previewed",
        desa,
        sum(d.count for d in desa),
        NOW,
        None,
        None,
        None,
    )
    text, _ = preview(Renderer(), locale, run)
    assert len(run.kecamatan) == 22
    assert len(text) < 4096
    assert all(k.name in text for k in run.kecamatan)
    assert f"{len(desa) - deactivation.TOP_DESA}" in text  # the rest are in the CSV


async def _run_job(db, day, *, job="deactivation-preview", at=time(9, 0)):
    moment = datetime.combine(day, at, tzinfo=SETTINGS.tz).astimezone(UTC)
    return await run_planner(
        job_spec(job),
        at,
        db=db,
        renderer=Renderer(),
        settings=SETTINGS,
        day=day,
        now=moment,
    )


async def test_the_job_sends_the_preview_to_every_admin_once(town):
    assert await _run_job(town, TODAY) == 2
    assert await _run_job(town, TODAY) == 0
    assert await _run_job(town, TODAY + timedelta(days=1)) == 0
    planned = await _outbox(town)
    assert [(key, chat, kind) for key, chat, kind, *_ in planned] == [
        ("deactivation-preview:2026-04-30:9003", 9003, "staff"),
        ("deactivation-preview:2026-04-30:9004", 9004, "staff"),
    ]
    (run_id,) = [row[0] async for row in await town.execute("SELECT id FROM deactivation_runs")]
    buttons = [
        b["callback_data"] for row in json.loads(planned[0][4])["inline_keyboard"] for b in row
    ]
    assert buttons == [f"dz:ask:{run_id}", f"dz:csv:{run_id}"]
    assert "Minggirsari" in planned[0][3]
    assert "<b>7</b>" in planned[0][3]


async def test_the_job_sends_nothing_once_applied(town):
    run = await deactivation.prepare_preview(town, day=TODAY, now=NOW)
    await _approve(town, run.id)
    assert await _run_job(town, TODAY + timedelta(days=1)) == 0
    assert await _outbox(town, "deactivation-preview") == []


async def test_the_deactivated_reminders_job_does_not_repeat_the_notice(town):
    run = await deactivation.prepare_preview(town, day=TODAY, now=NOW)
    await _link(town, 501, "nik", PLANTED["adult1"].nik)
    await _link(town, 506, "nik", PLANTED["already_off"].nik)  # imported NONAKTIF today
    await _approve(town, run.id)
    planned = await _run_job(town, TODAY, job="deactivated-reminders", at=time(8, 30))
    assert planned == 1  # only 506's day-0 reminder: 501 had the approval's notice
    assert sorted(row[1] for row in await _outbox(town)) == [501, 506]

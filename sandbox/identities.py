"""The people a sandbox visitor can be: planted residents with their NIK and KK, and role users.

Dates are relative to the sandbox's first moment, so the teen always turns 17 next month, Ani
was deactivated in the last annual deactivation and the admin's hint names the next preview
(sandbox/story.py). Every planted citizen lives in Kecamatan Kanigoro, and the two staff work
at the first points their bookings and reports are offered: the Kanigoro kecamatan office
(recording) and the Dispendukcapil office (replacement cards).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from babel.dates import format_date

from bot.config import TIMEZONE
from bot.domain import Resident, Sex
from bot.nik import make_nik
from bot.services.cycle import birthday_at
from sandbox.story import last_deactivation, next_preview

KANIGORO = "350510"  # Kecamatan Kanigoro, where the office is
MINGGIRSARI = "35.05.10.2001"  # a desa of Kanigoro: the Santoso family and the official's area
PAPUNGAN = "35.05.10.2005"  # another desa of Kanigoro: Ani
RECORDING_POINT = "kec-kanigoro"  # the first point offered to Kanigoro residents for recording
OFFICE = "kanigoro"  # the first point offered to them for a replacement card
SERIAL = 9001  # far above the sample generator's serials, so planted numbers never collide
TEEN_LEAD = timedelta(days=31)  # the teen's 17th birthday, from the sandbox's first day


@dataclass(frozen=True)
class Identity:
    """Someone the visitor can switch to: a Telegram user, maybe a resident, maybe a role."""

    key: str
    user_id: int
    first_name: str
    last_name: str | None
    role: str  # citizen / official / staff / admin
    story: dict[str, str]  # locale -> who this is
    hint: dict[str, str]  # locale -> what to try
    resident: Resident | None = None
    service_point: str | None = None
    area: str | None = None
    links: tuple[tuple[str, bool], ...] = field(default=())  # (NIK, household?) linked at start

    def card(self) -> dict[str, object]:
        """What the page shows about this identity."""
        person = self.resident
        return {
            "key": self.key,
            "user_id": self.user_id,
            "role": self.role,
            "name": " ".join(filter(None, (self.first_name, self.last_name))),
            "nik": person.nik if person else None,
            "kk": person.no_kk if person else None,
            "born": person.tanggal_lahir.isoformat() if person else None,
            "service_point": self.service_point,
            "area": self.area,
            "story": self.story,
            "hint": self.hint,
        }


def _kk(kecamatan: str, issued: date, number: int) -> str:
    return f"{kecamatan}{issued:%d%m%y}{SERIAL + number:04d}"


def _resident(
    nama: str,
    born: date,
    sex: Sex,
    number: int,
    kk: str,
    *,
    kawin: str = "BELUM KAWIN",
    recorded: date | None = None,
    status: str = "AKTIF",
    kecamatan: str = KANIGORO,
    desa: str = MINGGIRSARI,
) -> Resident:
    nik = make_nik(kecamatan, born, sex, SERIAL + number)
    return Resident(nik, kk, nama, born, sex, kawin, desa, recorded, status)


def household(today: date) -> dict[str, Resident]:
    """The Santoso family of Minggirsari: a parent, the teen turning 17 next month, two more."""
    kk = _kk(KANIGORO, date(2010, 1, 4), 0)
    teen_born = birthday_at(today + TEEN_LEAD, -17)
    return {
        "father": _resident(
            "BUDI SANTOSO", date(1980, 5, 12), "L", 0, kk, kawin="KAWIN", recorded=date(2013, 3, 1)
        ),
        "parent": _resident(
            "SRI WAHYUNI", date(1983, 8, 20), "P", 0, kk, kawin="KAWIN", recorded=date(2014, 1, 10)
        ),
        "teen": _resident("DEWI SANTOSO", teen_born, "P", 1, kk),
        "child": _resident("ADI SANTOSO", date(today.year - 11, 6, 1), "L", 1, kk),
    }


def others() -> dict[str, Resident]:
    """A deactivated NIK and a damaged card, both in Kanigoro."""
    return {
        "deactivated": _resident(
            "ANI LESTARI",
            date(2001, 3, 3),
            "P",
            0,
            _kk(KANIGORO, date(2012, 2, 2), 1),
            status="NONAKTIF",
            desa=PAPUNGAN,
        ),
        "damaged": _resident(
            "AGUS PRASETYO",
            date(1975, 9, 9),
            "L",
            0,
            _kk(KANIGORO, date(2005, 7, 1), 2),
            kawin="KAWIN",
            recorded=date(2012, 11, 5),
        ),
    }


def residents(today: date) -> list[Resident]:
    """Every planted resident, to import after the sample population."""
    return [*household(today).values(), *others().values()]


def _day(day: date) -> dict[str, str]:
    return {loc: format_date(day, "d MMMM y", locale=loc) for loc in ("id", "en")}


def _moment(at: datetime) -> dict[str, str]:
    """`at` as the jump field takes it: "1 Mei 2027 09.00" / "1 May 2027 09:00"."""
    local = at.astimezone(TIMEZONE)
    day = _day(local.date())
    return {"id": f"{day['id']} {local:%H.%M}", "en": f"{day['en']} {local:%H:%M}"}


def identities(now: datetime) -> list[Identity]:
    """The prepared identities, in the order the page lists them."""
    family, rest = household(now.astimezone(TIMEZONE).date()), others()
    teen = family["teen"]
    turns = _day(birthday_at(teen.tanggal_lahir, 17))
    deactivated = _day(last_deactivation(now).applied_on)
    preview = _moment(next_preview(now))
    return [
        Identity(
            "teen", 1001, "Dewi", "Santoso", "citizen", resident=teen,
            story={"id": f"Remaja, genap 17 tahun pada {turns['id']}, belum rekam e-KTP.",
                   "en": f"A teen turning 17 on {turns['en']}, not yet recorded."},
            hint={"id": "Cek NIK dengan /cek, lalu pesan antrean perekaman dengan /antre.",
                  "en": "Check the NIK with /cek, then book a recording visit with /antre."},
        ),
        Identity(
            "deactivated", 1002, "Ani", "Lestari", "citizen", resident=rest["deactivated"],
            links=((rest["deactivated"].nik, False),),
            story={"id": f"NIK-nya dinonaktifkan pada {deactivated['id']} karena belum rekam;"
                         " pengingat datang setiap 30 hari.",
                   "en": f"Her NIK was deactivated on {deactivated['en']} for not recording;"
                         " a reminder comes every 30 days."},
            hint={"id": "Cek status dengan /cek, lalu /antre untuk rekam dan aktif kembali.",
                  "en": "Check with /cek, then /antre to record and re-activate."},
        ),
        Identity(
            "parent", 1003, "Sri", "Wahyuni", "citizen", resident=family["parent"],
            links=((family["parent"].nik, True),),
            story={"id": "Ibu Dewi; sudah menautkan seluruh KK untuk pengingat.",
                   "en": "Dewi's mother; linked the whole household for reminders."},
            hint={"id": "Lihat /pengingat, lalu majukan waktu satu hari: pengingat Dewi datang.",
                  "en": "See /pengingat, then move time a day ahead: Dewi's reminder arrives."},
        ),
        Identity(
            "damaged", 1004, "Agus", "Prasetyo", "citizen", resident=rest["damaged"],
            story={"id": "e-KTP miliknya rusak (chip tidak terbaca).",
                   "en": "His e-KTP card is damaged (chip unreadable)."},
            hint={"id": "Cek NIK dengan /cek, lalu laporkan dengan /lapor; ikuti di /laporan.",
                  "en": "Check the NIK with /cek, then report with /lapor; follow it in /laporan."},
        ),
        Identity(
            "official", 9002, "Pak Lurah", "Minggirsari", "official", area=MINGGIRSARI,
            story={"id": "Perangkat Desa Minggirsari, Kecamatan Kanigoro.",
                   "en": "Village official of Minggirsari, Kecamatan Kanigoro."},
            hint={"id": "Lihat /rekap desa: angka, grafik dan daftar kunjungan (CSV, tombol PDF);"
                        " kirim /siaran ke warga yang tertaut.",
                  "en": "See the village /rekap: figures, charts and the outreach list (CSV, a PDF"
                        " button); send a /siaran to linked residents."},
        ),
        Identity(
            "staff", 9001, "Petugas", "Kec. Kanigoro", "staff", service_point=RECORDING_POINT,
            story={"id": "Petugas perekaman di Kantor Kecamatan Kanigoro, tempat pertama yang"
                         " ditawarkan kepada warga Kanigoro untuk rekam e-KTP.",
                   "en": "Recording staff at the Kanigoro kecamatan office, the first place"
                         " offered to Kanigoro's residents for e-KTP recording."},
            hint={"id": "Konfirmasi antrean baru, /hari_ini, lalu /masuk KODE pada hari kunjungan.",
                  "en": "Confirm new bookings, /hari_ini, then /masuk CODE on the visit's day."},
        ),
        Identity(
            "office", 9004, "Petugas", "Dinas", "staff", service_point=OFFICE,
            story={"id": "Petugas di Kantor Dispendukcapil di Kanigoro: penggantian e-KTP rusak"
                         " atau hilang, dan pengambilan kartu.",
                   "en": "Staff at the Dispendukcapil office in Kanigoro: replacing damaged or"
                         " lost cards, and card pick-up."},
            hint={"id": "Laporan e-KTP rusak dan antrean penggantian: /tiket, /hari_ini.",
                  "en": "Damaged-card reports and replacement bookings: /tiket, /hari_ini."},
        ),
        Identity(
            "admin", 9003, "Kepala", "Bidang", "admin",
            story={"id": "Kepala bidang: petugas, layanan, deaktivasi tahunan, statistik.",
                   "en": "Head of section: staff, services, annual deactivation, statistics."},
            hint={"id": f"/statistik (grafik kabupaten dan per tempat layanan), lalu lompat ke"
                        f" {preview['id']} untuk pratinjau deaktivasi tahunan.",
                  "en": f"/statistik (the regency's charts and per service point), then jump to"
                        f" {preview['en']} for the annual deactivation preview."},
        ),
    ]  # fmt: skip

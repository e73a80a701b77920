"""The people a sandbox visitor can be: planted residents with their NIK and KK, and role users.

Dates are relative to the sandbox's first day, so the teen always turns 17 next month.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from babel.dates import format_date

from bot.domain import Resident, Sex
from bot.nik import make_nik
from bot.services.cycle import birthday_at

KANIGORO = "350510"  # Kecamatan Kanigoro, where the office is
SRENGAT = "350503"
MINGGIRSARI = "35.05.10.2001"  # a desa of Kanigoro: the Santoso family and the official's area
SRENGAT_DESA = "35.05.03.2001"
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
    """A deactivated NIK in Srengat and a damaged card in Kanigoro."""
    return {
        "deactivated": _resident(
            "ANI LESTARI",
            date(2001, 3, 3),
            "P",
            0,
            _kk(SRENGAT, date(2012, 2, 2), 1),
            status="NONAKTIF",
            kecamatan=SRENGAT,
            desa=SRENGAT_DESA,
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


def identities(today: date) -> list[Identity]:
    """The prepared identities, in the order the page lists them."""
    family, rest = household(today), others()
    teen = family["teen"]
    turns = {
        loc: format_date(birthday_at(teen.tanggal_lahir, 17), "d MMMM y", locale=loc)
        for loc in ("id", "en")
    }
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
            story={"id": "NIK-nya dinonaktifkan karena belum rekam; pengingat sudah aktif.",
                   "en": "Her NIK was deactivated for not recording; reminders are on."},
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
            story={"id": "KTP-el miliknya rusak (chip tidak terbaca).",
                   "en": "His e-KTP card is damaged (chip unreadable)."},
            hint={"id": "Cek NIK dengan /cek, lalu laporkan dengan /lapor; ikuti di /laporan.",
                  "en": "Check the NIK with /cek, then report with /lapor; follow it in /laporan."},
        ),
        Identity(
            "official", 9002, "Pak Lurah", "Minggirsari", "official", area=MINGGIRSARI,
            story={"id": "Perangkat Desa Minggirsari, Kecamatan Kanigoro.",
                   "en": "Village official of Minggirsari, Kecamatan Kanigoro."},
            hint={"id": "Lihat /rekap desa dan kirim /siaran ke warga yang tertaut.",
                  "en": "See the village /rekap and send a /siaran to linked residents."},
        ),
        Identity(
            "staff", 9001, "Petugas", "Kanigoro", "staff", service_point="kanigoro",
            story={"id": "Petugas di Kantor Dispendukcapil Kanigoro.",
                   "en": "Staff at the Dispendukcapil office in Kanigoro."},
            hint={"id": "Konfirmasi antrean baru, /hari_ini, lalu /masuk KODE pada hari kunjungan.",
                  "en": "Confirm new bookings, /hari_ini, then /masuk CODE on the visit's day."},
        ),
        Identity(
            "admin", 9003, "Kepala", "Bidang", "admin",
            story={"id": "Kepala bidang: petugas, layanan, deaktivasi tahunan, statistik.",
                   "en": "Head of section: staff, services, annual deactivation, statistics."},
            hint={"id": "Coba /statistik; majukan waktu ke 1 Mei untuk pratinjau deaktivasi.",
                  "en": "Try /statistik; move time to 1 May for the deactivation preview."},
        ),
    ]  # fmt: skip

"""Frozen value objects passed between storage, services and handlers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

Sex = Literal["L", "P"]
MARITAL_STATUSES = ("BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI")
NIK_STATUSES = ("AKTIF", "NONAKTIF")


@dataclass(frozen=True)
class Area:
    """A Kemendagri region: the regency, a kecamatan or a desa/kelurahan."""

    code: str  # plain digits: 3505, 350510, 3505102001
    dotted_code: str
    level: str
    name: str
    parent_code: str


@dataclass(frozen=True)
class Resident:
    """One row of the population copy imported from SIAK."""

    nik: str
    no_kk: str
    nama: str
    tanggal_lahir: date
    jenis_kelamin: Sex
    status_kawin: str
    kode_desa: str  # plain 10-digit code
    tanggal_rekam: date | None
    status_nik: str  # AKTIF / NONAKTIF

    @property
    def recorded(self) -> bool:
        """Whether the biometric recording (perekaman e-KTP) has happened."""
        return self.tanggal_rekam is not None

    @property
    def active(self) -> bool:
        """Whether the NIK is active."""
        return self.status_nik == "AKTIF"


SERVICES = ("rekam", "rusak", "hilang", "ambil")  # recording, damaged, lost, pick-up
ACTIVE_BOOKING_STATES = ("pending", "confirmed", "checked_in")


@dataclass(frozen=True)
class Booking:
    """One booked visit. `start_at` is UTC; `day` is the visit's date in WIB."""

    id: int
    code: str
    chat_id: int
    nik: str
    service: str
    service_point: str
    start_at: datetime
    day: date
    queue_number: int
    state: str
    reason: str | None

    @property
    def active(self) -> bool:
        """Whether the booking still holds its place."""
        return self.state in ACTIVE_BOOKING_STATES

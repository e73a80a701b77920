"""Synthetic SIAK exports: realistic residents of Kabupaten Blitar for demos, tests, benchmarks.

Residents live in households (one KK each) spread over the 248 desa/kelurahan. Ages follow a
pyramid that is flat (~1.27 % of residents per birth year, ≈16,000 at Blitar's 1.26 M) up to
middle age and thins out towards 99; each village steers its households towards that pyramid
with per-age quotas. Recording and deactivation follow the shares the office reports.
"""

from __future__ import annotations

import csv
import random
from calendar import isleap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate
from pathlib import Path

from bot.domain import Resident, Sex
from bot.nik import make_nik
from bot.services.importer import CSV_HEADER
from bot.storage.areas import WILAYAH_CSV, plain_code

MAX_AGE = 99  # a NIK's two-digit year cannot tell a 100-year-old from a newborn
FLAT_UNTIL = 57  # birth-year cohorts are equally large up to this age
MAX_HOUSEHOLD = 6
E_KTP_START = date(2011, 8, 1)  # biometric recording began
CORRECTED_BIRTH_SHARE = 0.01  # NIK encodes a birth date later corrected on record
MOVER_SHARE = 0.03  # adults whose NIK was issued outside Kabupaten Blitar
DEACTIVATED_SHARE = 0.09  # of the unrecorded who missed a past deadline
# `generate_part`: NIK serials (1..9999) of movers, per part (a kecamatan; Blitar has 22).
MOVER_SERIALS_PER_PART = 400

BELUM, KAWIN, CERAI_HIDUP, CERAI_MATI = "BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI"

# Kecamatan of neighbouring regencies and cities (Kota Blitar, Tulungagung, Kediri, Malang,
# Surabaya) where people who moved to Kabupaten Blitar were first issued their NIK.
OTHER_KECAMATAN = ("357201", "357202", "357203", "350401", "350412", "350601", "350701", "357801")


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


MALE_OLD = _words(
    "SLAMET SUPARNO SUKIRNO SUTRISNO MULYONO SUGIYANTO SUWANDI PAIMIN KASIMAN SARNO TUKIMAN"
    " NGATIMAN KARSONO MARSUDI SUMARNO SUYITNO DARMAJI KUSNADI JUMADI WAGIMAN"
)
FEMALE_OLD = _words(
    "SUMIATI SUWARNI SULASTRI SUPARMI SUMARNI PAINEM TUKINEM SARINAH KATINI SUYATMI NGATINI"
    " WAGIYEM SUTINI PARNI JUMIATUN KASIYATI MURTINI SAINEM RUKMINI TUMINI"
)
MALE_FIRST = _words(
    "AGUS BUDI EKO DWI JOKO BAMBANG WAHYU HERI RUDI TEGUH ANDI FAJAR RIZKY DIMAS ARIF AHMAD"
    " MUHAMMAD BAGUS GALIH HENDRA YOGA BAYU ADITYA RENDY ILHAM FARHAN ALIF DANU GILANG REZA"
)
FEMALE_FIRST = _words(
    "SITI SRI ENDANG DEWI RATNA WAHYUNI AYU PUTRI NUR ANISA DIAN FITRI INDAH LILIS NANIK TRI"
    " WULAN YULI NABILA AISYAH ZAHRA ALYA CITRA INTAN NOVI RINA EKA DESI ANGGUN SALSABILA"
)
MALE_SECOND = _words(
    "SANTOSO WIBOWO SUSANTO PRASETYO SETIAWAN HIDAYAT SAPUTRA KURNIAWAN NUGROHO PURNOMO"
    " WIJAYA HARTONO PRATAMA FIRMANSYAH RAMADHAN HAKIM"
)
FEMALE_SECOND = _words(
    "RAHAYU LESTARI WULANDARI HANDAYANI PUSPITASARI ANGGRAINI SAFITRI NINGSIH RAHMAWATI"
    " SUSANTI KUSUMAWATI FITRIANI MAHARANI OKTAVIANI PERMATASARI NOVITASARI"
)


@dataclass(frozen=True)
class _Village:
    code: str  # plain 10 digits
    kecamatan: str  # plain 6 digits
    weight: float


@dataclass(frozen=True)
class _Person:
    sex: Sex
    age: int  # this year minus birth year
    status_kawin: str


def generate_residents(count: int, *, seed: int, today: date) -> Iterator[dict[str, str]]:
    """Stream `count` synthetic residents (one dict per CSV row), the same for the same seed."""
    rng = random.Random(seed)
    villages = _villages(rng)
    generator = _Generator(rng, today)
    for village, size in zip(villages, _split(count, [v.weight for v in villages]), strict=True):
        yield from generator.village(village, size)


@dataclass(frozen=True)
class SamplePart:
    """One kecamatan's villages and their sizes: a part of a population that can be generated
    on its own (in another process), with a random stream of its own."""

    index: int
    villages: tuple[tuple[_Village, int], ...]


def sample_parts(count: int, *, seed: int) -> list[SamplePart]:
    """`count` residents split by kecamatan, in kecamatan order, for `generate_part`.

    The villages' sizes are drawn as `generate_residents` draws them; the people in them come
    from each part's own stream, so the population is another one than `generate_residents`
    makes for the same seed (as large, with the same shares).
    """
    rng = random.Random(seed)
    villages = _villages(rng)
    sizes = _split(count, [v.weight for v in villages])
    parts: dict[str, list[tuple[_Village, int]]] = {}
    for village, size in zip(villages, sizes, strict=True):
        parts.setdefault(village.kecamatan, []).append((village, size))
    return [SamplePart(n, tuple(part)) for n, part in enumerate(parts.values())]


def generate_part(part: SamplePart, *, seed: int, today: date) -> Iterator[dict[str, str]]:
    """The residents of one part of `sample_parts`, the same for the same seed. NIK and KK
    serials are unique within a kecamatan; those of people who moved in (their NIK issued
    elsewhere) start at the part's own offset, so parts generated apart never collide."""
    generator = _Generator(random.Random(f"{seed}/{part.index}"), today)
    generator.mover_offset = part.index * MOVER_SERIALS_PER_PART
    generator.mover_limit = MOVER_SERIALS_PER_PART
    for village, size in part.villages:
        yield from generator.village(village, size)


def write_sample(path: Path, count: int, *, seed: int, today: date) -> None:
    """Write a synthetic SIAK export of `count` residents to `path`."""
    rows = generate_residents(count, seed=seed, today=today)
    write_export(path, (row.values() for row in rows))


def write_export(path: Path, rows: Iterable[Iterable[str]]) -> None:
    """Write a SIAK export to `path`: the importer's header line, then `rows`."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        writer.writerows(rows)


def export_row(resident: Resident) -> list[str]:
    """One resident as a row of the SIAK export, in the importer's column order."""
    recorded = resident.tanggal_rekam.isoformat() if resident.tanggal_rekam else ""
    return [
        resident.nik,
        resident.no_kk,
        resident.nama,
        resident.tanggal_lahir.isoformat(),
        resident.jenis_kelamin,
        resident.status_kawin,
        resident.kode_desa,
        recorded,
        resident.status_nik,
    ]


def age_pyramid(today: date) -> list[float]:
    """Share of residents by age (this year minus birth year), 0..MAX_AGE, summing to 1."""
    weights = [1.0] * (FLAT_UNTIL + 1)
    thinning = range(FLAT_UNTIL + 1, MAX_AGE + 1)
    weights += [1 - (age - FLAT_UNTIL) / (MAX_AGE + 1 - FLAT_UNTIL) for age in thinning]
    weights[0] = today.timetuple().tm_yday / (366 if isleap(today.year) else 365)
    total = sum(weights)
    return [w / total for w in weights]


def _villages(rng: random.Random) -> list[_Village]:
    """Every desa/kelurahan by code, with a random size (kelurahan are towns, so larger)."""
    with WILAYAH_CSV.open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["level"] in ("desa", "kelurahan")]
    rows.sort(key=lambda r: plain_code(r["code"]))
    return [
        _Village(
            code=plain_code(r["code"]),
            kecamatan=plain_code(r["parent_code"]),
            weight=rng.lognormvariate(0, 0.35) * (1.5 if r["level"] == "kelurahan" else 1.0),
        )
        for r in rows
    ]


def _split(count: int, weights: list[float]) -> Iterator[int]:
    """`count` split in proportion to `weights` (cumulative rounding, so the parts add up)."""
    total, running, done = sum(weights), 0.0, 0
    for weight in weights:
        running += weight
        upto = min(count, round(count * running / total))
        yield upto - done
        done = upto


def _add_years(day: date, years: int) -> date:
    """The same day `years` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


class _Generator:
    """Builds households village by village; NIK and KK serials are unique per prefix."""

    def __init__(self, rng: random.Random, today: date) -> None:
        self.rng, self.today = rng, today
        self.pyramid = age_pyramid(today)
        self.jan1 = [date(today.year - age, 1, 1).toordinal() for age in range(MAX_AGE + 1)]
        self.kecamatan = ""
        self.nik_serials: dict[tuple[str, date, str], int] = {}
        self.kk_serials: dict[tuple[str, date], int] = {}
        self.mover_serials: dict[tuple[str, date, str], int] = {}
        self.mover_offset, self.mover_limit = 0, 9999  # `generate_part`: a range of serials
        last_deadline = date(today.year, 4, 30)
        self.deactivated_cohort = today.year - (1 if today > last_deadline else 2)

    def village(self, village: _Village, size: int) -> Iterator[dict[str, str]]:
        """`size` residents of one village, household by household."""
        if village.kecamatan != self.kecamatan:  # serials only need to be unique per kecamatan
            self.kecamatan, self.nik_serials, self.kk_serials = village.kecamatan, {}, {}
        quota = [float(self._round(share * size)) for share in self.pyramid]
        made = 0
        while made < size:
            members = self._household(quota)[: size - made]
            yield from self._rows(village, members)
            made += len(members)

    def _round(self, value: float) -> int:
        """`value` rounded up or down at random, so that on average it stays `value`."""
        whole = int(value)
        return whole + (self.rng.random() < value - whole)

    # --- who lives together ---------------------------------------------------------------

    def _household(self, quota: list[float]) -> list[_Person]:
        roll = self.rng.random()
        if roll < 0.14:
            return [self._single(quota)]
        if roll < 0.30:
            return self._couple(quota, 60, MAX_AGE)
        if roll < 0.38:
            return self._single_parent(quota)
        return self._family(quota)

    def _single(self, quota: list[float]) -> _Person:
        if self.rng.random() < 0.4:
            age = self._age(quota, 19, 45)
            status = CERAI_HIDUP if age >= 30 and self.rng.random() < 0.15 else BELUM
            return _Person(self.rng.choice(("L", "P")), age, status)
        sex: Sex = "P" if self.rng.random() < 0.7 else "L"
        status = CERAI_MATI if self.rng.random() < 0.85 else CERAI_HIDUP
        return _Person(sex, self._age(quota, 60, MAX_AGE), status)

    def _couple(self, quota: list[float], low: int, high: int) -> list[_Person]:
        husband = self._age(quota, low, high)
        wife = self._age(quota, max(16, husband - 10), min(MAX_AGE, husband + 2))
        return [_Person("L", husband, KAWIN), _Person("P", wife, KAWIN)]

    def _single_parent(self, quota: list[float]) -> list[_Person]:
        sex: Sex = "P" if self.rng.random() < 0.75 else "L"
        age = self._age(quota, 28, 75)
        widowed = self.rng.random() < (0.8 if age >= 50 else 0.4)
        head = _Person(sex, age, CERAI_MATI if widowed else CERAI_HIDUP)
        return [head, *self._children(quota, age, MAX_HOUSEHOLD - 1)]

    def _family(self, quota: list[float]) -> list[_Person]:
        members = self._couple(quota, 22, 70)
        members += self._children(quota, members[1].age, MAX_HOUSEHOLD - 2)
        if len(members) < MAX_HOUSEHOLD and self.rng.random() < 0.25:
            age = self._quota_age(quota, members[1].age + 20, MAX_AGE)
            if age is not None:
                members.append(_Person(self.rng.choice(("L", "P", "P")), age, CERAI_MATI))
        return members

    def _children(self, quota: list[float], parent: int, limit: int) -> list[_Person]:
        wanted = self.rng.choices(range(5), weights=(10, 22, 36, 22, 10))[0]
        children = []
        for _ in range(min(wanted, limit)):
            age = self._quota_age(quota, parent - 42, min(parent - 18, 30))
            if age is None:
                break
            children.append(_Person(self.rng.choice(("L", "P")), age, BELUM))
        return children

    def _age(self, quota: list[float], low: int, high: int) -> int:
        """An age in [low, high]: by the village's remaining quota, else by the pyramid."""
        age = self._quota_age(quota, low, high)
        if age is None:
            low, high = max(low, 0), max(min(high, MAX_AGE), low)
            weights = self.pyramid[low : high + 1]
            age = self.rng.choices(range(low, high + 1), weights=weights)[0]
        return age

    def _quota_age(self, quota: list[float], low: int, high: int) -> int | None:
        """An age in [low, high] drawn by the remaining quota, or None when none is left."""
        low, high = max(low, 0), min(high, MAX_AGE)
        cumulative = list(accumulate(quota[low : high + 1])) if low <= high else []
        if not cumulative or cumulative[-1] <= 1e-9:
            return None
        age = self.rng.choices(range(low, high + 1), cum_weights=cumulative)[0]
        quota[age] = max(0.0, quota[age] - 1)
        return age

    # --- one resident's row ---------------------------------------------------------------

    def _rows(self, village: _Village, members: list[_Person]) -> Iterator[dict[str, str]]:
        births = [self._birth(person.age) for person in members]
        no_kk = self._kk_number(village.kecamatan, max(births, default=self.today))
        for person, birth in zip(members, births, strict=True):
            recorded, status = self._recording(birth, married=person.status_kawin != BELUM)
            yield {
                "nik": self._nik(village.kecamatan, birth, person),
                "no_kk": no_kk,
                "nama": self._name(person),
                "tanggal_lahir": birth.isoformat(),
                "jenis_kelamin": person.sex,
                "status_kawin": person.status_kawin,
                "kode_desa": village.code,
                "tanggal_rekam": recorded,
                "status_nik": status,
            }

    def _birth(self, age: int) -> date:
        if age == 0:
            days = self.today.timetuple().tm_yday
        else:
            days = 366 if isleap(self.today.year - age) else 365
        return date.fromordinal(self.jan1[age] + self.rng.randrange(days))

    def _kk_number(self, kecamatan: str, newest_birth: date) -> str:
        """A KK issued in this kecamatan after its youngest member was born."""
        first = max(newest_birth, date(2004, 1, 1)).toordinal()
        issued = date.fromordinal(
            self.rng.randint(min(first, self.today.toordinal()), self.today.toordinal())
        )
        serial = self.kk_serials[kecamatan, issued] = (
            self.kk_serials.get((kecamatan, issued), 0) + 1
        )
        return f"{kecamatan}{issued:%d%m%y}{serial:04d}"

    def _nik(self, kecamatan: str, birth: date, person: _Person) -> str:
        encoded = self._encoded_birth(birth)
        serials = self.nik_serials
        if person.age >= 20 and self.rng.random() < MOVER_SHARE:
            kecamatan, serials = self.rng.choice(OTHER_KECAMATAN), self.mover_serials
        key = (kecamatan, encoded, person.sex)
        serial = serials[key] = serials.get(key, 0) + 1
        if serials is self.mover_serials:
            if serial > self.mover_limit:
                raise ValueError("more movers with one birth date than serials for them")
            serial += self.mover_offset
        return make_nik(kecamatan, encoded, person.sex, serial)

    def _encoded_birth(self, birth: date) -> date:
        """Usually the birth date; sometimes the date before a later correction."""
        if self.rng.random() >= CORRECTED_BIRTH_SHARE:
            return birth
        encoded = birth + timedelta(days=self.rng.choice((-1, 1)) * self.rng.randint(1, 90))
        too_old = encoded.year <= self.today.year - (MAX_AGE + 1)
        return birth if encoded > self.today or too_old else encoded

    def _recording(self, birth: date, *, married: bool) -> tuple[str, str]:
        """(tanggal_rekam or "", status_nik) for one resident."""
        turns_17 = _add_years(birth, 17)
        if turns_17 > self.today and not married:
            return "", "AKTIF"
        if self.rng.random() < self._unrecorded_share(birth.year):
            return "", "NONAKTIF" if self._deactivated(birth.year) else "AKTIF"
        wajib_since = turns_17 if turns_17 <= self.today else _add_years(birth, 16)  # married
        start = max(E_KTP_START, min(wajib_since, self.today))
        if start > self.today:
            return "", "AKTIF"
        mean_wait = 400 if start == E_KTP_START else 200
        wait = min((self.today - start).days, int(self.rng.expovariate(1 / mean_wait)))
        return (start + timedelta(days=wait)).isoformat(), "AKTIF"

    def _unrecorded_share(self, birth_year: int) -> float:
        cohort = self.today.year - birth_year
        if cohort < 17:
            return 0.5  # married before 17
        return {17: 0.9, 18: 0.1}.get(cohort, 0.02)

    def _deactivated(self, birth_year: int) -> bool:
        """Wajib KTP on 31 December of a cycle whose deadline passed, and unlucky."""
        missed = birth_year <= self.deactivated_cohort - 17
        return missed and self.rng.random() < DEACTIVATED_SHARE

    def _name(self, person: _Person) -> str:
        male = person.sex == "L"
        if person.age >= 55 and self.rng.random() < 0.6:
            return self.rng.choice(MALE_OLD if male else FEMALE_OLD)
        first = self.rng.choice(MALE_FIRST if male else FEMALE_FIRST)
        second = self.rng.choice(MALE_SECOND if male else FEMALE_SECOND)
        roll = self.rng.random()
        if roll < 0.1:
            return first
        if roll < 0.2:
            return f"{first} {self.rng.choice(MALE_FIRST if male else FEMALE_FIRST)} {second}"
        return f"{first} {second}"

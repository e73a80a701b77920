"""Import a SIAK CSV export of residents: the CSV rules check each row; the rows are upserted in
one transaction, with the storage's bulk-load tuning (`residents.bulk_load`, `db.large_cache`)."""

from __future__ import annotations

import asyncio
import csv
import gc
import re
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import aiosqlite

from bot.config import TIMEZONE
from bot.db import large_cache, transaction
from bot.domain import MARITAL_STATUSES, NIK_STATUSES, Sex
from bot.engine import Connection
from bot.errors import FileRefused, InvalidNik
from bot.nik import decode_nik, describe_invalid, mask_number, parse_nik, sex_and_birth_warning
from bot.nik import validate_kk as _validate_kk
from bot.storage import residents as store
from bot.storage.addresses import AddressRow, replace_addresses
from bot.storage.areas import plain_code, village_codes
from bot.storage.residents import ResidentRow

if TYPE_CHECKING:
    from _csv import Reader

CSV_HEADER = (
    "nik",
    "no_kk",
    "nama",
    "tanggal_lahir",
    "jenis_kelamin",
    "status_kawin",
    "kode_desa",
    "tanggal_rekam",
    "status_nik",
)
# Optional, after status_nik (the header then names all twelve): the household's address.
ADDRESS_HEADER = ("alamat", "rt", "rw")
BATCH_SIZE = 5000
MAX_NAME_LENGTH = 100
MAX_ADDRESS_LENGTH = 200
_REMEMBERED = 1 << 16  # dates remembered by an import's checker (a lifetime's are ~36,000)
_RT_RW = re.compile(r"\d{1,4}")

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Eleven or more digits, possibly typed in groups: could be (part of) a NIK or KK number.
_LONG_DIGITS = re.compile(r"\d(?:[\s.\-]*\d){10,}")
_SIGNATURES = (
    (b"PK\x03\x04", "looks like an Excel workbook or ZIP archive; save it as CSV UTF-8"),
    (b"\xd0\xcf\x11\xe0", "looks like an old Excel (.xls) file; save it as CSV UTF-8"),
    (b"\xff\xfe", "is UTF-16 text; save it as CSV UTF-8"),
    (b"\xfe\xff", "is UTF-16 text; save it as CSV UTF-8"),
)


@dataclass
class ImportReport:
    """What an import did: counts, and each rejected or suspicious line with its reason."""

    inserted: int = 0
    updated: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        """`inserted 99,990 · updated 0 · rejected 10 · warnings 3`."""
        return (
            f"inserted {self.inserted:,} \u00b7 updated {self.updated:,}"
            f" \u00b7 rejected {len(self.rejected):,} \u00b7 warnings {len(self.warnings):,}"
        )


async def import_residents(db: Connection, path: Path, *, now: datetime) -> ImportReport:
    """Import a SIAK export in one transaction; bad rows are reported and skipped."""
    handle, rows, columns = _open_rows(path)
    try:
        villages = await village_codes(db)
        checker = _RowChecker(today=_local_date(now), villages=villages, columns=columns)
        report = ImportReport()
        async with (
            _page_cache(db),
            transaction(db),
            store.bulk_load(db) as fresh,
        ):
            with _collector_paused():
                await _import_batches(db, rows, checker, report, now, fresh=fresh)
    finally:
        handle.close()
    return report


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while the rows go through: they are millions of short-lived
    lists and tuples, with no cycles among them (reference counting frees them), and the
    collector's passes over them took a tenth of the import's CPU time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _page_cache(db: Connection) -> AbstractAsyncContextManager[None]:
    """SQLite's page cache enlarged for the bulk write; PostgreSQL's is the server's."""
    if isinstance(db, aiosqlite.Connection):
        return large_cache(db, kib=store.BULK_LOAD_CACHE_KIB)
    return nullcontext()


async def _import_batches(
    db: Connection,
    rows: Iterator[tuple[int, list[str]]],
    checker: _RowChecker,
    report: ImportReport,
    now: datetime,
    *,
    fresh: bool,
) -> None:
    """Read and check each batch in a worker thread (the event loop stays free) while the
    previous one is written: SQLite releases the GIL while it writes, so the checking of the
    next batch runs meanwhile. One batch is read at a time, in file order."""
    reading = asyncio.create_task(asyncio.to_thread(_next_batch, rows, checker, report))
    while (batch := await reading) is not None:
        reading = asyncio.create_task(asyncio.to_thread(_next_batch, rows, checker, report))
        try:
            await _write_batch(db, batch, report, now, fresh=fresh)
        except BaseException:
            await asyncio.wait([reading])  # the reader finishes its batch before the file closes
            raise


async def _write_batch(
    db: Connection,
    batch: _Batch,
    report: ImportReport,
    now: datetime,
    *,
    fresh: bool,
) -> None:
    inserted = await store.upsert_residents(db, batch.residents, now=now, fresh=fresh)
    if batch.addresses:
        await replace_addresses(db, batch.addresses)
    report.inserted += inserted
    report.updated += len(batch.residents) - inserted


@dataclass
class _Batch:
    """Checked rows, and their addresses when the file has the twelve columns."""

    residents: list[ResidentRow] = field(default_factory=list)
    addresses: list[AddressRow] = field(default_factory=list)


def _next_batch(
    rows: Iterator[tuple[int, list[str]]], checker: _RowChecker, report: ImportReport
) -> _Batch | None:
    """The valid rows among the next BATCH_SIZE lines (rejections noted), or None at the end."""
    lines = list(islice(rows, BATCH_SIZE))
    if not lines:
        return None
    batch = _Batch()
    for line, fields in lines:
        try:
            row, address, warning = checker.check(line, fields)
        except _Rejected as error:
            report.rejected.append((line, str(error)))
            continue
        batch.residents.append(row)
        if address:
            batch.addresses.append(address)
        if warning:
            report.warnings.append((line, warning))
    return batch


# --- reading the file -------------------------------------------------------------------------


def _open_rows(path: Path) -> tuple[BinaryIO, Iterator[tuple[int, list[str]]], int]:
    """Open the file, check it is CSV text with the right header, return the data rows and
    how many columns the header names (nine, or twelve with the address)."""
    try:
        handle = path.open("rb")
    except OSError as error:
        raise FileRefused(f"cannot read {path}: {error.strerror}") from None
    try:
        _check_signature(handle.read(8192))
        handle.seek(0)
        reader = csv.reader(_decoded_lines(handle))
        columns = _check_header(_first_row(reader))
    except BaseException:
        handle.close()
        raise
    return handle, _numbered_rows(reader), columns


def _check_signature(head: bytes) -> None:
    for signature, problem in _SIGNATURES:
        if head.startswith(signature):
            raise FileRefused(f"the file {problem}")
    if b"\x00" in head:
        raise FileRefused("the file is binary, not CSV text")


def _decoded_lines(handle: BinaryIO) -> Iterator[str]:
    """The file's lines as text; a byte sequence that is not UTF-8 refuses the whole file."""
    for number, raw in enumerate(handle, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise FileRefused(
                f"line {number} is not UTF-8 text; save the file as CSV UTF-8"
            ) from None


def _first_row(reader: Reader) -> list[str]:
    for row in _guard_csv(reader):
        if any(value.strip() for value in row):
            return row
    raise FileRefused("the file is empty; expected a header line " + ",".join(CSV_HEADER))


def _check_header(row: list[str]) -> int:
    """How many columns the header names; FileRefused unless it is one of the two forms."""
    got = [name.strip() for name in row]
    if tuple(got) in (CSV_HEADER, CSV_HEADER + ADDRESS_HEADER):
        return len(got)
    expected = ",".join(CSV_HEADER) + "[," + ",".join(ADDRESS_HEADER) + "]"
    if got and _LONG_DIGITS.fullmatch(got[0]):
        raise FileRefused(f"line 1 looks like data, not the header; expected header {expected}")
    if len(got) == 1 and tuple(n.strip() for n in got[0].split(";"))[:9] == CSV_HEADER:
        raise FileRefused(f"the file is separated by ';'; expected commas: {expected}")
    raise FileRefused(f"expected header {expected}, got {_quote(','.join(got), limit=200)}")


def _numbered_rows(reader: Reader) -> Iterator[tuple[int, list[str]]]:
    """Each non-blank row with the line number (as an editor counts) where it starts."""
    start = reader.line_num + 1
    for row in _guard_csv(reader):
        if any(map(str.strip, row)):
            yield start, row
        start = reader.line_num + 1


def _guard_csv(reader: Reader) -> Iterator[list[str]]:
    """The reader's rows; a malformed file (e.g. NUL bytes) refuses the whole import."""
    try:
        yield from reader
    except csv.Error as error:
        problem = str(error)
        if "new-line character" in problem:
            problem = "a carriage return (CR) inside an unquoted field; use LF or CRLF line ends"
        raise FileRefused(f"line {reader.line_num} is not valid CSV: {problem}") from None


# --- checking one row -------------------------------------------------------------------------


class _Rejected(Exception):
    """The row is skipped; the message says why."""


@dataclass
class _RowChecker:
    """Validates data rows; remembers each accepted NIK's line to spot duplicates."""

    today: date
    villages: set[str]
    columns: int = len(CSV_HEADER)
    seen: dict[int, int] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)  # kode_desa as written -> a village's
    dates: dict[str, date] = field(default_factory=dict)  # the texts of dates not after today

    def check(
        self, line: int, fields: list[str]
    ) -> tuple[ResidentRow, AddressRow | None, str | None]:
        """The row ready for storage, its address (twelve columns), an optional warning; or
        _Rejected."""
        if len(fields) != self.columns:
            raise _Rejected(f"expected {self.columns} columns, got {len(fields)}")
        nik, kk, nama, lahir, jk, kawin, desa, rekam, status = map(str.strip, fields[:9])
        (nik, nik_born, nik_sex), no_kk, name = _nik(nik, self.today), _kk(kk), _name(nama)
        born = self._known_date("tanggal_lahir", lahir)
        sex = _choice("jenis_kelamin", jk, ("L", "P"))
        marital = _choice("status_kawin", " ".join(kawin.split()), MARITAL_STATUSES)
        village, recorded = self._village(desa), self._recorded(rekam, born)
        active = _choice("status_nik", status, NIK_STATUSES)
        self._first_time(nik, line)
        address = _address(nik, fields[9:]) if self.columns > len(CSV_HEADER) else None
        row = (nik, no_kk, name, lahir, sex, marital, village, recorded, active)
        agrees = nik_sex == sex and nik_born == born
        return row, address, None if agrees else self._disagreement(nik, born, sex)

    def _village(self, text: str) -> str:
        code = self.codes.get(text)
        if code is None:
            code = plain_code(text)
            if code not in self.villages:
                raise _Rejected(
                    f"kode_desa {_quote(text)} is not a desa/kelurahan of Kabupaten Blitar"
                )
            self.codes[text] = code
        return code

    def _known_date(self, column: str, text: str) -> date:
        """`_date` not after today, remembered for the texts seen (dates repeat a lot)."""
        value = self.dates.get(text)
        if value is None:
            value = _date(column, text, not_after=self.today)
            if len(self.dates) < _REMEMBERED:
                self.dates[text] = value
        return value

    def _recorded(self, text: str, born: date) -> str | None:
        if not text:
            return None
        value = self._known_date("tanggal_rekam", text)
        if value < born:
            raise _Rejected(f"tanggal_rekam {value} is before tanggal_lahir {born}")
        return text

    def _disagreement(self, nik: str, born: date, sex: str) -> str | None:
        """The warning for a NIK whose birth date or sex is not the record's."""
        parsed = parse_nik(nik, today=self.today)
        return sex_and_birth_warning(parsed, birth_date=born, sex=sex)

    def _first_time(self, nik: str, line: int) -> None:
        first = self.seen.setdefault(int(nik), line)
        if first != line:
            raise _Rejected(f"duplicate NIK, first seen on line {first}")


def _nik(text: str, today: date) -> tuple[str, date, Sex]:
    """The NIK, its birth date and sex (`bot.nik.decode_nik`), or _Rejected."""
    try:
        return decode_nik(text, today=today)
    except InvalidNik as error:
        raise _Rejected(describe_invalid(error)) from None


def _kk(text: str) -> str:
    try:
        return _validate_kk(text)
    except InvalidNik as error:
        raise _Rejected(describe_invalid(error)) from None


def _name(text: str) -> str:
    name = " ".join(text.split())
    if not name:
        raise _Rejected("nama is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise _Rejected(f"nama is longer than {MAX_NAME_LENGTH} characters ({len(name)})")
    return name


def _address(nik: str, fields: list[str]) -> AddressRow:
    alamat, rt, rw = (" ".join(f.split()) for f in fields)
    if len(alamat) > MAX_ADDRESS_LENGTH:
        raise _Rejected(f"alamat is longer than {MAX_ADDRESS_LENGTH} characters ({len(alamat)})")
    if _LONG_DIGITS.search(alamat):
        raise _Rejected("alamat holds a long number (a NIK or KK number?)")
    return nik, alamat or None, _rt_rw("rt", rt), _rt_rw("rw", rw)


def _rt_rw(column: str, text: str) -> str | None:
    """`003` -> `3`; empty -> None."""
    if not text:
        return None
    if not _RT_RW.fullmatch(text):
        raise _Rejected(f"{column} {_quote(text)} is not a number")
    return str(int(text))


def _date(column: str, text: str, *, not_after: date) -> date:
    value = _iso_date(text)
    if value is None:
        raise _Rejected(f"{column} {_quote(text)} is not a date (YYYY-MM-DD)")
    if value > not_after:
        raise _Rejected(f"{column} {value} is in the future")
    return value


@lru_cache(maxsize=1 << 16)  # birth and recording dates repeat a lot
def _iso_date(text: str) -> date | None:
    """The date written as YYYY-MM-DD, or None."""
    try:
        return date.fromisoformat(text) if _ISO_DATE.fullmatch(text) else None
    except ValueError:
        return None


def _choice(column: str, text: str, allowed: tuple[str, ...]) -> str:
    if text in allowed:  # as it should be written (upper case)
        return text
    value = text.upper()
    if value not in allowed:
        raise _Rejected(f"{column} {_quote(text)} is not one of {', '.join(allowed)}")
    return value


def _quote(text: str, *, limit: int = 40) -> str:
    """The value for a message: shortened, with any NIK- or KK-like digit run masked."""
    masked = _LONG_DIGITS.sub(lambda m: mask_number(m.group()), text)
    shown = masked if len(masked) <= limit else masked[: limit - 1] + "\u2026"
    return repr(shown)


def _local_date(now: datetime) -> date:
    """Today's date in WIB; a naive `now` is taken to be UTC."""
    aware = now.replace(tzinfo=UTC) if now.tzinfo is None else now
    return aware.astimezone(TIMEZONE).date()

"""Import a SIAK CSV export of residents: the CSV rules check each row; the rows are upserted in
one transaction, with the storage's bulk-load tuning (`residents.bulk_load`, `db.large_cache`)."""

from __future__ import annotations

import asyncio
import csv
import multiprocessing
import os
import re
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractAsyncContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import aiosqlite

from bot.config import TIMEZONE
from bot.crypto import Vault
from bot.db import large_cache, transaction, vault_of
from bot.domain import MARITAL_STATUSES, NIK_STATUSES
from bot.engine import Connection
from bot.errors import FileRefused, InvalidNik
from bot.nik import ParsedNik, describe_invalid, mask_number, parse_nik, sex_and_birth_warning
from bot.nik import validate_kk as _validate_kk
from bot.storage import residents as store
from bot.storage.addresses import AddressRow, replace_addresses
from bot.storage.areas import plain_code, village_codes
from bot.storage.residents import ResidentRow, SealedRows

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
# A file this big is checked and sealed in worker processes (one per core): a bit over 100,000
# rows; below it, starting them takes longer than they save.
PARALLEL_FROM_BYTES = 8 * 1024 * 1024
MAX_NAME_LENGTH = 100
MAX_ADDRESS_LENGTH = 200
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


async def import_residents(
    db: Connection, path: Path, *, now: datetime, workers: int | None = None
) -> ImportReport:
    """Import a SIAK export in one transaction; bad rows are reported and skipped.

    `workers`: how many processes check and seal the rows (0: a thread of this one); by
    default one per core for a file of PARALLEL_FROM_BYTES or more, else 0."""
    handle, rows, columns = _open_rows(path)
    try:
        villages = await village_codes(db)
        checker = _RowChecker(today=_local_date(now), villages=villages, columns=columns)
        report = ImportReport()
        workers = _workers(path, workers)
        with _checking(db, checker, now, workers=workers) as check:
            async with (
                _page_cache(db),
                transaction(db),
                store.bulk_load(db) as fresh,
            ):
                await _import_batches(db, rows, check, report, now, fresh=fresh, ahead=workers + 1)
    finally:
        handle.close()
    return report


def _page_cache(db: Connection) -> AbstractAsyncContextManager[None]:
    """SQLite's page cache enlarged for the bulk write; PostgreSQL's is the server's."""
    if isinstance(db, aiosqlite.Connection):
        return large_cache(db, kib=store.BULK_LOAD_CACHE_KIB)
    return nullcontext()


def _workers(path: Path, workers: int | None) -> int:
    if workers is not None:
        return workers
    return (os.cpu_count() or 1) if path.stat().st_size >= PARALLEL_FROM_BYTES else 0


# Checks one batch of numbered lines (and seals its rows, in a worker process).
_Check = Callable[[list[tuple[int, list[str]]]], Awaitable["_Batch"]]


@contextmanager
def _checking(
    db: Connection, checker: _RowChecker, now: datetime, *, workers: int
) -> Iterator[_Check]:
    """How the batches are checked: in a thread of this process (the rows then sealed as they
    are written), or checked and sealed in `workers` processes. Both are Python, under one
    interpreter lock per process: a million rows keep a core busy for most of a minute, which
    worker processes spread over every core, while this process writes (in SQLite, or sending
    to the server: both let the lock go)."""
    if workers <= 0:

        async def in_thread(lines: list[tuple[int, list[str]]]) -> _Batch:
            return await asyncio.to_thread(_check_lines, checker, lines)

        yield in_thread
        return
    vault = vault_of(db)
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),  # never a fork of a threaded process
        initializer=_start_worker,
        initargs=(checker, vault.seal_key, vault.ref_key, now),
    )
    loop = asyncio.get_running_loop()

    def in_worker(lines: list[tuple[int, list[str]]]) -> Awaitable[_Batch]:
        return loop.run_in_executor(pool, _check_and_seal, lines)

    try:
        yield in_worker
    finally:
        pool.shutdown(cancel_futures=True)


async def _import_batches(
    db: Connection,
    rows: Iterator[tuple[int, list[str]]],
    check: _Check,
    report: ImportReport,
    now: datetime,
    *,
    fresh: bool,
    ahead: int,
) -> None:
    """Read the file a batch at a time in a thread (the event loop stays free), and read and
    check the next `ahead` batches while one is written. Batches are written in file order; a
    NIK seen on an earlier line is rejected here, where every batch passes."""
    checking: deque[asyncio.Future[_Batch]] = deque()
    seen: dict[int, int] = {}
    reading = asyncio.ensure_future(asyncio.to_thread(_read_lines, rows))
    try:
        while lines := await reading:
            reading = asyncio.ensure_future(asyncio.to_thread(_read_lines, rows))
            checking.append(asyncio.ensure_future(check(lines)))
            if len(checking) > ahead:
                batch = _first_seen(await checking.popleft(), seen)
                await _write_batch(db, batch, report, now, fresh=fresh)
        while checking:
            batch = _first_seen(await checking.popleft(), seen)
            await _write_batch(db, batch, report, now, fresh=fresh)
    finally:  # every reader and checker done before the transaction ends and the file closes
        await asyncio.gather(reading, *checking, return_exceptions=True)


async def _write_batch(
    db: Connection,
    batch: _Batch,
    report: ImportReport,
    now: datetime,
    *,
    fresh: bool,
) -> None:
    report.rejected.extend(batch.rejected)
    report.warnings.extend(batch.warnings)
    inserted = await store.upsert_residents(db, batch.residents, now=now, fresh=fresh)
    if batch.addresses:
        await replace_addresses(db, batch.addresses)
    report.inserted += inserted
    report.updated += len(batch.lines) - inserted


@dataclass
class _Batch:
    """The checked rows of some lines (sealed when a worker process checked them), the line
    of each, their addresses (one each when the file has the twelve columns, else none), and
    what was rejected or is suspicious, with its line."""

    lines: list[int] = field(default_factory=list)
    residents: list[ResidentRow] | SealedRows = field(default_factory=list)
    addresses: list[AddressRow] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)

    def clear_rows(self) -> list[ResidentRow]:
        residents = self.residents
        return residents.rows if isinstance(residents, SealedRows) else residents

    def only(self, keep: list[int], rejected: list[tuple[int, str]]) -> _Batch:
        """The batch with the rows at `keep` alone, and more rows `rejected`."""
        dropped = {line for line, _ in rejected}
        residents = self.residents
        chosen: list[ResidentRow] | SealedRows
        if isinstance(residents, SealedRows):
            chosen = SealedRows(
                [residents.stored[i] for i in keep], [residents.rows[i] for i in keep]
            )
        else:
            chosen = [residents[i] for i in keep]
        return _Batch(
            lines=[self.lines[i] for i in keep],
            residents=chosen,
            addresses=[self.addresses[i] for i in keep] if self.addresses else [],
            rejected=sorted(self.rejected + rejected),
            warnings=[(line, why) for line, why in self.warnings if line not in dropped],
        )


def _read_lines(rows: Iterator[tuple[int, list[str]]]) -> list[tuple[int, list[str]]]:
    """The next BATCH_SIZE numbered lines (none at the end)."""
    return list(islice(rows, BATCH_SIZE))


def _check_lines(checker: _RowChecker, lines: list[tuple[int, list[str]]]) -> _Batch:
    """The valid rows among these lines, and each rejection with its reason."""
    batch, residents = _Batch(), []
    for line, fields in lines:
        try:
            row, address, warning = checker.check(line, fields)
        except _Rejected as error:
            batch.rejected.append((line, str(error)))
            continue
        batch.lines.append(line)
        residents.append(row)
        if address:
            batch.addresses.append(address)
        if warning:
            batch.warnings.append((line, warning))
    batch.residents = residents
    return batch


def _first_seen(batch: _Batch, seen: dict[int, int]) -> _Batch:
    """The batch without the rows whose NIK an earlier line had: those are rejected, the
    first stays. `seen`: each NIK so far and its line."""
    keep, repeated = [], []
    for at, (line, row) in enumerate(zip(batch.lines, batch.clear_rows(), strict=True)):
        first = seen.setdefault(int(row[0]), line)
        if first == line:
            keep.append(at)
        else:
            repeated.append((line, f"duplicate NIK, first seen on line {first}"))
    return batch.only(keep, repeated) if repeated else batch


# --- checking and sealing in worker processes -------------------------------------------------

_worker: tuple[_RowChecker, Vault, datetime] | None = None


def _start_worker(checker: _RowChecker, seal_key: bytes, ref_key: bytes, now: datetime) -> None:
    """A worker process's set-up: the row rules and the vault (its keys came by a pipe)."""
    global _worker
    _worker = (checker, Vault(seal_key, ref_key), now)


def _check_and_seal(lines: list[tuple[int, list[str]]]) -> _Batch:
    """In a worker process: the lines checked, and the valid rows sealed for storage."""
    assert _worker is not None, "not a worker process"
    checker, vault, now = _worker
    batch = _check_lines(checker, lines)
    batch.residents = store.seal_rows(vault, batch.clear_rows(), now=now)
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
        if any(value.strip() for value in row):
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
    """Validates data rows (a NIK repeated from an earlier line is found later: `_first_seen`)."""

    today: date
    villages: set[str]
    columns: int = len(CSV_HEADER)

    def check(
        self, line: int, fields: list[str]
    ) -> tuple[ResidentRow, AddressRow | None, str | None]:
        """The row ready for storage, its address (twelve columns), an optional warning; or
        _Rejected."""
        if len(fields) != self.columns:
            raise _Rejected(f"expected {self.columns} columns, got {len(fields)}")
        nik, kk, nama, lahir, jk, kawin, desa, rekam, status = [f.strip() for f in fields[:9]]
        parsed, no_kk, name = _parse_nik(nik, self.today), _kk(kk), _name(nama)
        born = _date("tanggal_lahir", lahir, not_after=self.today)
        sex = _choice("jenis_kelamin", jk, ("L", "P"))
        marital = _choice("status_kawin", " ".join(kawin.split()), MARITAL_STATUSES)
        village, recorded = self._village(desa), _recorded(rekam, born, self.today)
        active = _choice("status_nik", status, NIK_STATUSES)
        address = _address(parsed.value, fields[9:]) if self.columns > len(CSV_HEADER) else None
        row = (parsed.value, no_kk, name, lahir, sex, marital, village, recorded, active)
        return row, address, sex_and_birth_warning(parsed, birth_date=born, sex=sex)

    def _village(self, text: str) -> str:
        code = plain_code(text)
        if code not in self.villages:
            raise _Rejected(f"kode_desa {_quote(text)} is not a desa/kelurahan of Kabupaten Blitar")
        return code


def _parse_nik(text: str, today: date) -> ParsedNik:
    try:
        return parse_nik(text, today=today)
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


def _recorded(text: str, born: date, today: date) -> str | None:
    if not text:
        return None
    value = _date("tanggal_rekam", text, not_after=today)
    if value < born:
        raise _Rejected(f"tanggal_rekam {value} is before tanggal_lahir {born}")
    return text


def _choice(column: str, text: str, allowed: tuple[str, ...]) -> str:
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

"""Pick one household or village, with what its rules read, out of data too large to read whole.

``tuopin explain --stream --id X`` over a province's export: the files are scanned in chunks
(:mod:`~tuopin_rules.intake.columnar`), and only the rows that belong to ``X``'s village are kept —
the village's households and their members (for a household: its village's, as a rule may read
``village.x``), every row elsewhere with one of their household codes or person ids (a repeated id
is rejected as in a whole read: the first row wins) — and every village row (villages are few). The kept rows go
through the record reader (:func:`~tuopin_rules.intake.tables.read_table`), so their values, data
issues and sources (``file:row``) are exactly those of a whole read, and are linked as
:func:`~tuopin_rules.intake.tables.read_dataset` links them.

Rows are matched on their identifier as the record reader reads it (NFKC, surrounding spaces
stripped), in every column that names the identifier field.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from tuopin_rules.entities.records import resolve_header
from tuopin_rules.entities.schema import Schema
from tuopin_rules.errors import DataFileError, NotDataError
from tuopin_rules.intake.columnar import ColumnarFile, open_columnar
from tuopin_rules.intake.files import RawRow, RawTable
from tuopin_rules.intake.parquet import stored_cell
from tuopin_rules.intake.tables import Dataset, FileRead, assemble, expand_paths, read_table

__all__ = ["pick_dataset"]


def _key(text: Any) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip()


def _rows(file: ColumnarFile, schema: Schema, wanted: dict[str, set[str]] | None) -> list[RawRow]:
    """The rows of ``file`` where some ``field`` column (any column naming it) holds one of
    ``wanted[field]``; every row when ``wanted`` is ``None``."""
    ent = schema.entities[file.kind]
    columns = [
        (i, f.name)
        for i, h in enumerate(file.headers)
        if (f := resolve_header(ent, h)) is not None and wanted is not None and f.name in wanted
    ]
    out: list[RawRow] = []
    if wanted is not None and not columns:
        return out
    for chunk in file.chunks:
        frame = chunk.frame
        hit = pl.lit(wanted is None)
        for i, name in columns:
            cell = pl.col(f"c{i}").cast(pl.String).str.normalize("NFKC").str.strip_chars()
            hit = hit | cell.is_in(sorted((wanted or {})[name])).fill_null(False)
        for pos in frame.with_columns(hit.alias("__hit"))["__hit"].arg_true().to_list():
            cells = {
                h: chunk.objects.get(i, {}).get(pos, stored_cell(frame[f"c{i}"][pos]))
                for i, h in enumerate(file.headers)
                if f"c{i}" in frame.columns
            }
            out.append(RawRow(int(chunk.rows[pos]), cells))
    return out


def _open(schema: Schema, targets: list[tuple[str | None, Path, bool]], header_row: int | None) -> list[ColumnarFile]:
    """The files that can be scanned; a named file that cannot is an error, one in a folder is passed over."""
    files = []
    for kind, path, named in targets:
        try:
            files.append(open_columnar(schema, path, kind, header_row=header_row))
        except DataFileError as exc:
            if named and not isinstance(exc, NotDataError):
                raise
    return files


def pick_dataset(
    schema: Schema, paths: Iterable[str], entity: str, ident: str, *, header_row: int | None = None
) -> Dataset:
    """The records ``entity`` ``ident`` needs for its verdict, read from files too large to read whole.

    Args:
        schema: the standard's entity schema.
        paths: data files or folders (CSV, JSON Lines, Parquet; ``KIND=PATH``).
        entity: ``household`` or ``village``.
        ident: the identifier, as written in the data.
        header_row: the header's line in every file (default: found below title rows).

    Returns:
        A linked :class:`Dataset` holding the record (if found) and the records around it; its
        accounts count the rows picked from each file (not the rows scanned).

    Raises:
        DataFileError: a named file cannot be read; ``entity`` is not household or village.
    """
    if entity not in ("household", "village"):
        raise DataFileError(f"--stream explains a household or a village, not a {entity} (run without --stream)")
    targets = expand_paths(paths, schema.kinds())
    key = _key(ident)
    # file -> (kind, header, rows by row number); a file scanned with no row picked is kept too: its
    # kind's data were given (a household with no member rows then has none, it is not "unknown")
    picked: dict[Path, tuple[str, list[str], dict[int, RawRow]]] = {}

    def scan(kind: str, wanted: dict[str, set[str]] | None) -> list[RawRow]:
        rows: list[RawRow] = []
        for file in _open(schema, [t for t in targets if t[0] in (None, kind)], header_row):
            if file.kind == kind:
                found = _rows(file, schema, wanted)
                picked.setdefault(file.path, (kind, list(file.headers), {}))[2].update((r.row, r) for r in found)
                rows += found
        return rows

    def values(rows: list[RawRow], kind: str, field: str) -> set[str]:
        ent = schema.entities[kind]
        return {
            _key(v)
            for r in rows
            for h, v in r.cells.items()
            if v not in (None, "") and (f := resolve_header(ent, h)) is not None and f.name == field
        }

    villages = scan("village", None)  # every village row: they are few, and linking needs them all
    if entity == "household":  # and its village's other households: a rule may read village.x
        households = scan("household", {"household_id": {key}})
        codes_of_village = values(households, "household", "village_id")
        names = values(households, "household", "village_name")
    else:
        households = []
        mine = [r for r in villages if key in values([r], "village", "village_id")]
        codes_of_village = {key}
        names = values(mine, "village", "village_name")  # households may name their village, not code it
    wanted = {"village_id": codes_of_village, "village_name": names}
    if codes_of_village or names:
        households += scan("household", {k: v for k, v in wanted.items() if v})
    # the same household codes elsewhere: the first row of a code wins, as in a whole read
    households += scan("household", {"household_id": values(households, "household", "household_id")})
    codes = values(households, "household", "household_id")
    members = scan("member", {"household_id": codes}) if codes else []
    if members:  # the same person ids under other households: the first row of an id wins
        scan("member", {"person_id": values(members, "member", "person_id")})
    reads: list[FileRead] = []
    for _, path, _ in targets:
        if path not in picked:
            continue
        kind, headers, rows = picked.pop(path)
        ordered = [rows[n] for n in sorted(rows)]
        table = RawTable(list(ordered[0].cells) if ordered else headers, iter(ordered), None)
        reads.append((path, [read_table(schema, table, path, kind)], []))
    return assemble(schema, reads)

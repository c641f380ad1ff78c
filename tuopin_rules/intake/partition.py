"""Stream mode, pass 1: data files read in chunks and spooled to hash partitions of households.

Each chunk is checked as :func:`~tuopin_rules.intake.tables.read_table` checks rows (rows that
cannot be records, rows that are not records, unreadable cells, rows without an id), with the same
data issues, and its typed rows go to partition ``hash(household code) % K``: a household by its
``household_id``, a member (or another table of a household's children) by its parent key. So
every row of one household code lands in one partition, and pass 2 can link, deduplicate and
evaluate one partition at a time (:mod:`~tuopin_rules.evaluate.stream`).

A child's id is not its partition key, so child ids are also spooled by their own hash, and
:meth:`Partitioner.child_ids` finds a member id given twice (under two households, too): the first
row in file order wins, as in :func:`~tuopin_rules.intake.tables.read_dataset`; the later rows are
rejected and their households' member lists marked incomplete.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from tuopin_rules.entities.records import resolve_header
from tuopin_rules.entities.schema import Schema
from tuopin_rules.errors import did_you_mean
from tuopin_rules.evaluate.frames import DTYPES, kind_of
from tuopin_rules.intake.column_values import Layout, convert_chunk, not_records, nulls
from tuopin_rules.intake.columnar import ColumnarFile, RawChunk
from tuopin_rules.intake.spool import ROW_LEVEL, IssueSink, Spool, file_of, place, row_of
from tuopin_rules.intake.tables import FileAccount

__all__ = ["Partitioner"]


class Partitioner:
    """Reads the files of a stream run into ``k`` partitions of households under ``folder``.

    Args:
        schema: the standard's entity schema.
        files: the opened files (``None`` for a file that was skipped), by file index.
        keep: per kind, the fields spooled (what pass 2 evaluates; every field is still converted
            and checked).
        folder: where the partition files go.
        k: the number of partitions.
        chunk_rows: rows per chunk (sets how many rows are buffered before a write).
        issues: where data issues go.

    Attributes:
        present / bad / inexact: per kind, the fields that have a value / an unreadable cell / a
            number of more than ten decimals anywhere in the data.
        spools: ``kind`` (typed rows), ``kind-ids`` and ``kind-drops`` (child kinds).
        rows_read / records / rejected: per file index.
    """

    def __init__(
        self,
        schema: Schema,
        files: list[ColumnarFile | None],
        keep: dict[str, set[str]],
        folder: Path,
        k: int,
        chunk_rows: int,
        issues: IssueSink,
    ) -> None:
        self.schema = schema
        self.files = files
        self.k = k
        self.sink = issues
        self.present: dict[str, set[str]] = {}
        self.bad: dict[str, set[str]] = {}
        self.inexact: dict[str, set[str]] = {}
        self.rows_read: Counter[int] = Counter()
        self.records: Counter[int] = Counter()
        self.rejected: Counter[int] = Counter()
        self.numeric_text: dict[tuple[int, int], list[Any]] = {}
        self.spools: dict[str, Spool] = {}
        flush = min(max(4 * chunk_rows, 1000), 500_000)
        for kind in dict.fromkeys(f.kind for f in files if f is not None):
            ent = schema.entities[kind]
            names = keep.get(kind, set()) | {ent.id_field, *([ent.parent_key] if ent.parent_key else [])}
            cols: dict[str, Any] = {"__seq": pl.Int64, "__id": pl.String}
            if kind != "household":
                cols["__drop"] = pl.Boolean
            for n in [f for f in ent.fields if f in names]:
                t = kind_of(ent.fields[n].type)
                cols[n] = DTYPES[t]
                cols[f"__bad__{n}"] = pl.Boolean
                if t == "num":
                    cols[f"__exact__{n}"] = pl.String
            self.spools[kind] = Spool(folder, kind, k, pl.Schema(cols), flush)
            if kind != "household":
                ids = pl.Schema({"__id": pl.String, "__seq": pl.Int64, "__part": pl.Int64})
                self.spools[kind + "-ids"] = Spool(folder, kind + "-ids", k, ids, flush)
                self.spools[kind + "-drops"] = Spool(folder, kind + "-drops", k, pl.Schema({"__seq": pl.Int64}), flush)

    def part(self, keys: pl.Series) -> pl.Series:
        """The partition of each household code (or child id)."""
        return (keys.hash(seed=20) % self.k).cast(pl.Int64)

    def read(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Pass 1 over every file; ``progress(bytes done, rows read)`` after each chunk."""
        done = rows = 0
        for fi, f in enumerate(self.files):
            if f is None:
                continue
            layout = Layout(self.schema.entities[f.kind], f.headers)
            known = len(f.headers)
            for chunk in f.chunks:
                if len(f.headers) != known:  # JSON keys seen for the first time
                    layout.refresh()
                    known = len(f.headers)
                self.chunk(fi, f, layout, chunk)
                rows += chunk.frame.height + len(chunk.bad)
                if progress is not None:
                    progress(done + chunk.done, rows)
            layout.refresh()
            self.file_issues(fi, f, layout)
            done += f.size
        for name, spool in self.spools.items():
            if not name.endswith("-drops"):
                spool.close()
        for kind in self.spools:
            if kind in self.schema.entities and kind != "household":
                self.child_ids(kind)

    def chunk(self, fi: int, file: ColumnarFile, layout: Layout, chunk: RawChunk) -> None:
        """Check, convert and spool one chunk of file ``fi``."""
        kind = file.kind
        ent = self.schema.entities[kind]
        frame, rows = chunk.frame, chunk.rows
        self.rows_read[fi] += frame.height + len(chunk.bad)
        bad = list(chunk.bad)
        if frame.height and not chunk.objects and file.path.suffix.lower() not in (".jsonl", ".ndjson", ".json"):
            problem = not_records(frame, layout)
            keep = problem.is_null()
            if not keep.all():
                bad += [(int(rows[i]), str(problem[i]), None) for i in (~keep).arg_true().to_list()]
                frame, rows = frame.filter(keep), rows.filter(keep)
        if bad:
            self.rejected[fi] += len(bad)
            self.sink.add(
                pl.DataFrame(
                    {
                        "row": [r for r, _, _ in bad],
                        "message": [p for _, p, _ in bad],
                        "raw": pl.Series([r for _, _, r in bad], dtype=pl.String),
                    }
                ).with_columns(file=pl.lit(fi), order=pl.lit(ROW_LEVEL), code=pl.lit("bad-row"), entity=pl.lit(kind))
            )
        if not frame.height:
            return
        cells = convert_chunk(layout, frame, chunk.objects)
        ids = cells.values[ent.id_field].cast(pl.String)
        at = cells.issues["pos"]
        self.sink.add(
            cells.issues.with_columns(
                file=pl.lit(fi), row=rows.gather(at), entity=pl.lit(kind), entity_id=ids.gather(at)
            ).drop("pos")
        )
        missing = ids.is_null()
        if missing.any():
            self.rejected[fi] += int(missing.sum())
            label = ent.fields[ent.id_field].label.zh
            self.sink.add(
                pl.DataFrame({"row": rows.filter(missing)}).with_columns(
                    file=pl.lit(fi),
                    order=pl.lit(ROW_LEVEL),
                    code=pl.lit("missing-id"),
                    message=pl.lit(f"the row has no {label} ({ent.id_field})"),
                    field=pl.lit(ent.id_field),
                    entity=pl.lit(kind),
                )
            )
        n = frame.height
        self.present.setdefault(kind, set()).update(f for f, v in cells.values.items() if v.null_count() < n)
        self.bad.setdefault(kind, set()).update(cells.bad)
        self.inexact.setdefault(kind, set()).update(cells.exact)
        for col, count, pos, shown in cells.numeric_text:
            self.numeric_text.setdefault((fi, col), [0, int(rows[pos]), shown, layout])[0] += count
        spool = self.spools[kind]
        seq = place(fi, rows)
        typed = pl.DataFrame(
            {
                "__seq": seq,
                "__id": ids,
                **{f: v for f, v in cells.values.items() if f in spool.schema},
                **{f"__bad__{f}": v for f, v in cells.bad.items() if f in spool.schema},
                **{f"__exact__{f}": v for f, v in cells.exact.items() if f in spool.schema},
            }
        )
        if kind == "household":
            spool.write(typed.filter(~missing), self.part(ids.filter(~missing)))
            return
        key = cells.values.get(ent.parent_key or "")
        key = key.cast(pl.String) if key is not None else nulls(n, pl.String)
        linked = key.is_not_null()
        # rows without an id stay in their partition as markers: their household's list is incomplete
        spool.write(typed.with_columns(__drop=missing).filter(linked), self.part(key.filter(linked)))
        parts = self.part(key).zip_with(linked, nulls(n, pl.Int64))
        own = pl.DataFrame({"__id": ids, "__seq": seq, "__part": parts}).filter(~missing)
        self.spools[kind + "-ids"].write(own, self.part(own["__id"]))

    def file_issues(self, fi: int, file: ColumnarFile, layout: Layout) -> None:
        """A file's column issues: two columns of one field; codes stored as numbers (Parquet)."""
        ent = self.schema.entities[file.kind]
        by_field: dict[str, str] = {}
        for header in dict.fromkeys(file.headers):
            fdef = resolve_header(ent, header) if header else None
            if fdef is None:
                continue
            if fdef.name not in by_field:
                by_field[fdef.name] = header
                continue
            self.sink.one(
                "duplicate-column",
                f"columns {by_field[fdef.name]!r} and {header!r} both mean {fdef.label.zh} ({fdef.name});"
                " the first non-blank one is used in each row",
                fi,
                column=header,
                field=fdef.name,
                entity=file.kind,
            )
        for (i, col), (count, first, shown, lay) in self.numeric_text.items():
            fdef = resolve_header(ent, lay.headers[col]) if i == fi else None
            if fdef is None:
                continue
            self.sink.one(
                "code-as-number",
                f"{count} cell(s) of column {lay.headers[col]!r} ({fdef.label.zh}, {fdef.name}) are stored as"
                " numbers, not text: they are read as their digits, but leading zeros (0012) are lost if the codes"
                " had any; store the column as text",
                fi,
                first,
                column=lay.headers[col],
                raw=shown,
                field=fdef.name,
                entity=file.kind,
            )

    def duplicates(self, frame: pl.DataFrame, kind: str) -> pl.Series:
        """Rows whose id an earlier row has (file order, then row order), rejected with the record
        reader's issue (``already appears on row N`` in the same file, else ``in file:row``)."""
        f = frame.select("__seq", "__id", file_of(pl.col("__seq")).alias("__file")).with_columns(
            pl.col("__seq").min().over("__id").alias("__first"),
            pl.col("__seq").min().over("__id", "__file").alias("__here"),
        )
        dup = f["__seq"] != f["__first"]
        if not dup.any():
            return dup
        d = f.filter(dup)
        same = pl.col("__seq") != pl.col("__here")
        names = dict(enumerate(self.sink.files))
        self.sink.add(
            d.select(
                file=pl.col("__file"),
                row=row_of(pl.col("__seq")),
                order=pl.lit(ROW_LEVEL),
                code=pl.lit("duplicate-id"),
                message=pl.when(same)
                .then(pl.format(f"{kind} {{}} already appears on row {{}}", "__id", row_of(pl.col("__here"))))
                .otherwise(
                    pl.format(
                        f"{kind} {{}} already appears in {{}}:{{}}",
                        "__id",
                        file_of(pl.col("__first")).replace_strict(names, return_dtype=pl.String),
                        row_of(pl.col("__first")),
                    )
                ),
                raw=pl.col("__id"),
                field=pl.when(same).then(pl.lit(self.schema.entities[kind].id_field)),
                entity=pl.lit(kind),
                entity_id=pl.col("__id"),
            )
        )
        self.rejected.update(dict(d["__file"].value_counts().iter_rows()))
        return dup

    def orphans(self, rows: pl.DataFrame, kind: str, why: list[str]) -> None:
        """Rejected rows whose parent is not in the data (``orphan-link``)."""
        ent = self.schema.entities[kind]
        ids = rows["__id"].to_list()
        self.sink.add(
            rows.select(
                file=file_of(pl.col("__seq")), row=row_of(pl.col("__seq")), entity_id=pl.col("__id")
            ).with_columns(
                order=pl.lit(ROW_LEVEL),
                code=pl.lit("orphan-link"),
                message=pl.Series([f"{kind} {i} {w}" for i, w in zip(ids, why, strict=True)], dtype=pl.String),
                field=pl.lit(ent.parent_key),
                entity=pl.lit(kind),
            )
        )
        self.rejected.update(dict(file_of(rows["__seq"]).value_counts().iter_rows()))

    def child_ids(self, kind: str) -> None:
        """Pass 1b: repeated child ids and children without a parent code, by partition of the child id."""
        ent = self.schema.entities[kind]
        ids, drops = self.spools[kind + "-ids"], self.spools[kind + "-drops"]
        for p in range(self.k):
            f = ids.read(p).sort("__seq")
            dup = self.duplicates(f, kind)
            gone = f.filter(dup & pl.col("__part").is_not_null())
            drops.write(gone.select("__seq"), gone["__part"])
            lost = f.filter(~dup & pl.col("__part").is_null())
            if lost.height:
                why = f"names no {ent.parent} (no {ent.parent_key} column or it is blank)"
                self.orphans(lost, kind, [why] * lost.height)
        drops.close()

    def accounts(self) -> list[FileAccount]:
        """One accounting line per file read."""
        out = []
        for fi, f in enumerate(self.files):
            if f is None:
                continue
            ent = self.schema.entities[f.kind]
            unknown = [
                h for h in dict.fromkeys(f.headers) if h and h not in ent.children and resolve_header(ent, h) is None
            ]
            out.append(
                FileAccount(
                    str(f.path),
                    f.kind,
                    f.encoding,
                    self.rows_read[fi],
                    self.records[fi],
                    self.rejected[fi],
                    unknown_columns=unknown,
                    suggestions={h: hint for h in unknown if (hint := did_you_mean(h, ent.spellings()))},
                    header_row=f.header_row,
                )
            )
        return out

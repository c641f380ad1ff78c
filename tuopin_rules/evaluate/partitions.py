"""Stream mode, pass 2: one hash partition of households at a time, linked, checked and evaluated.

A partition holds every row of its household codes (:mod:`~tuopin_rules.intake.partition`), so
what the record reader checks across a whole data set can be checked here partition by partition:

* a household id given twice (in one file or two) — the first row in file order wins, the others
  are rejected as ``duplicate-id`` (all rows of one code hash to this partition, so the check is
  complete);
* members are linked by their household code; a member whose household is not in the data is
  rejected (``orphan-link``); a household with no member rows (``no-members``), a different number
  of them than it declares (``member-count``) or a rejected member row (``unlinked-children``) is
  UNKNOWN on its members — the record reader's rules, in its order.

Then the partition's tables (only the fields the rules read) go to the vector engine
(:func:`~tuopin_rules.evaluate.batch.evaluate_tables`); rows it leaves to the scalar engine are
rebuilt as records (exact numbers, unreadable cells, the household with its members) and
evaluated by it; the counts of the summary are gathered; the rows are handed to the output.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

import polars as pl

from tuopin_rules.compile import Standard
from tuopin_rules.entities.records import Record
from tuopin_rules.errors import DataIssue
from tuopin_rules.evaluate.batch import evaluate_tables
from tuopin_rules.evaluate.engine import Engine
from tuopin_rules.evaluate.frames import SCALE, EntityTable, from_units, kind_of
from tuopin_rules.intake.column_values import filled
from tuopin_rules.intake.partition import Partitioner
from tuopin_rules.intake.spool import ROW_BITS, ROW_LEVEL, file_of, row_of
from tuopin_rules.render.text import Summary
from tuopin_rules.verdicts import Outcome

__all__ = ["PartitionEvaluator"]


class PartitionEvaluator:
    """Evaluates the partitions a :class:`~tuopin_rules.intake.partition.Partitioner` wrote.

    Args:
        standard: the standard.
        day: the evaluation date.
        kinds: the kinds evaluated (households, member tables).
        parts: the partitions, with what pass 1 learnt about the fields.
        probe: rules that read a parameter value marked unverified: one row each is explained
            to find the values used (the summary's note).

    Attributes:
        outcomes: ``(kind, outcome)`` -> records.
        first: ``"rule\0FAIL"`` / ``"rule\0UNKNOWN"`` -> (first hit: kind, place, rule index; count).
        unverified: parameter values marked unverified that verdicts used.
        scalar_rows: rows evaluated by the scalar engine.
    """

    def __init__(self, standard: Standard, day: dt.date, kinds: list[str], parts: Partitioner, probe: set[str]) -> None:
        self.standard = standard
        self.schema = standard.schema
        self.day = day
        self.kinds = kinds
        self.parts = parts
        self.engine = Engine(standard)
        self.probe = set(probe)
        self.outcomes: Counter[tuple[str, Outcome]] = Counter()
        self.first: dict[str, tuple[tuple[int, int, int], int]] = {}
        self.unverified: set[str] = set()
        self.scalar_rows = 0
        self.files = parts.sink.files

    def evaluate(self, p: int) -> list[pl.DataFrame]:
        """Evaluate partition ``p``: its rows as written (one frame per kind; see :meth:`output`)."""
        hh = self.schema.entities["household"]
        homes = self.read("household", p).sort("__seq")
        homes = homes.filter(~self.parts.duplicates(homes, "household"))
        homes = homes.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("__row"))
        frames: dict[str, pl.DataFrame] = {"household": homes}
        has: dict[str, pl.Series] = {}
        for coll, kind in hh.children.items():
            if kind not in self.parts.spools:
                continue
            frames[kind], has[coll] = self.link(p, coll, kind, homes)
        tables = {k: self.table(k, f, has if k == "household" else {}) for k, f in frames.items()}
        results = evaluate_tables(self.standard, tables, self.day, [k for k in self.kinds if k in tables])
        written = []
        for kind, res in results.items():
            rows = res.filter(pl.col("scalar"))["row"].to_list()
            if rows:
                res = self.patch(kind, res, rows, frames, has)
            res = res.with_columns(frames[kind]["__seq"].alias("__seq"))
            self.count(kind, res, frames, has)
            written.append(self.output(kind, res))
        for f in frames.values():
            self.parts.records.update(dict(file_of(f["__seq"]).value_counts().iter_rows()))
        return written

    def link(self, p: int, coll: str, kind: str, homes: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
        """A child kind's rows of partition ``p`` linked to their household (``__parent``), and
        whether each household has that collection (supplied, complete)."""
        ent = self.schema.entities[kind]
        key = ent.parent_key or ""
        rows = self.read(kind, p)
        dropped = self.parts.spools[kind + "-drops"].read(p)["__seq"]
        removed = rows["__drop"] | rows["__seq"].is_in(dropped.implode())
        gone = (
            rows.filter(removed & pl.col(key).is_not_null())
            .group_by(key)
            .agg(file_of(pl.col("__seq").min()).alias("__file"))
        )
        rows = rows.filter(~removed).sort("__seq")
        rows = rows.join(
            homes.select(pl.col("__id").alias(key), pl.col("__row").alias("__parent")),
            on=key,
            how="left",
            maintain_order="left",
        )
        lost = rows.filter(pl.col("__parent").is_null())
        if lost.height:
            why = [f"points to household {k!r}, which is not in the data" for k in lost[key].to_list()]
            self.parts.orphans(lost, kind, why)
            rows = rows.filter(pl.col("__parent").is_not_null())
        rows = rows.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("__row"))
        counts = rows.group_by("__parent").len()
        h = homes.join(counts, left_on="__row", right_on="__parent", how="left", maintain_order="left").with_columns(
            pl.col("len").fill_null(0).alias("__n"), pl.col("__id").is_in(gone[key].implode()).alias("__gone")
        )
        none = pl.lit(False)
        wrong = pl.lit(False)
        if coll == "members":
            none = pl.col("__n") == 0
            if "household_size" in h.columns:
                wrong = ~none & pl.col("household_size").is_not_null()
                wrong = wrong & (pl.col("household_size") != pl.col("__n").cast(pl.Int128) * (2 * SCALE))
        h = h.with_columns(none.alias("__none"), wrong.alias("__wrong"))
        h = h.with_columns((pl.col("__gone") & ~pl.col("__none") & ~pl.col("__wrong")).alias("__gone"))
        self.household_issues(h, coll, kind, gone)
        flag = h.select(~(pl.col("__none") | pl.col("__wrong") | pl.col("__gone"))).to_series()
        return rows, flag

    def household_issues(self, h: pl.DataFrame, coll: str, kind: str, gone: pl.DataFrame) -> None:
        """``no-members``, ``member-count`` and ``unlinked-children`` issues of a partition's households."""
        base = {
            "file": file_of(pl.col("__seq")),
            "row": row_of(pl.col("__seq")),
            "order": pl.lit(ROW_LEVEL),
            "column": pl.lit(None, dtype=pl.String),
            "entity": pl.lit("household"),
            "entity_id": pl.col("__id"),
        }
        none = h.filter(pl.col("__none")).select(
            **base,
            code=pl.lit("no-members"),
            message=pl.format(
                "household {} has no rows in the member data; rules about its members are UNKNOWN", "__id"
            ),
            raw=pl.lit(None, dtype=pl.String),
            field=pl.lit("members"),
        )
        wrong = h.filter(pl.col("__wrong"))
        if wrong.height:
            sizes = [str(from_units(v)) for v in wrong["household_size"].to_list()]
            wrong = wrong.with_columns(pl.Series("__size", sizes, dtype=pl.String)).select(
                **base,
                code=pl.lit("member-count"),
                message=pl.format(
                    "household {} declares {} members but the member data has {}; rules about its members are UNKNOWN",
                    "__id",
                    "__size",
                    "__n",
                ),
                raw=pl.col("__size"),
                field=pl.lit("household_size"),
            )
        else:
            wrong = none.clear()
        left = h.filter(pl.col("__gone")).join(
            gone.rename({gone.columns[0]: "__id", "__file": "__from"}), on="__id", how="left"
        )
        names = dict(enumerate(self.files))
        left = left.select(
            file=pl.col("__from"),
            row=pl.lit(None, dtype=pl.Int64),
            order=pl.lit(ROW_LEVEL),
            column=pl.lit(None, dtype=pl.String),
            entity=pl.lit("household"),
            entity_id=pl.col("__id"),
            code=pl.lit("unlinked-children"),
            message=pl.format(
                f"household {{}}: a {kind} row of it was rejected in {{}}, so rules over its {coll} are UNKNOWN",
                "__id",
                pl.col("__from").replace_strict(names, return_dtype=pl.String),
            ),
            raw=pl.lit(None, dtype=pl.String),
            field=pl.lit(coll),
        )
        for f in (none, wrong, left):
            self.parts.sink.add(f)

    def read(self, kind: str, p: int) -> pl.DataFrame:
        """Partition ``p`` of a kind: its fields, and the marks of unreadable cells and inexact
        numbers only for fields that have any."""
        spool = self.parts.spools[kind]
        bad, inexact = self.parts.bad.get(kind, set()), self.parts.inexact.get(kind, set())
        wanted = [
            c
            for c in spool.schema
            if not c.startswith(("__bad__", "__exact__"))
            or c.removeprefix("__bad__") in bad
            or c.removeprefix("__exact__") in inexact
        ]
        return spool.read(p, wanted)

    def table(self, kind: str, frame: pl.DataFrame, has: dict[str, pl.Series]) -> EntityTable:
        """The vector engine's table of one kind of a partition."""
        ent = self.schema.entities[kind]
        # a field is in the table if some cell has a value or some cell was unreadable (as in memory)
        have = self.parts.present.get(kind, set()) | self.parts.bad.get(kind, set())
        present = [f for f in ent.fields if f in have and f in frame.columns]
        bad = [f for f in present if f in self.parts.bad.get(kind, set())]
        parent = pl.col("__parent") if "__parent" in frame.columns else pl.lit(None, dtype=pl.Int64)
        flags = [(has[c] if c in has else filled(False, frame.height)).alias(f"__has_{c}") for c in ent.children]
        selected = frame.select(
            "__row", "__id", parent.alias("__parent"), *present, *[f"__bad__{f}" for f in bad]
        ).with_columns(flags)
        selected = selected.with_columns(pl.col([f"__bad__{f}" for f in bad]).fill_null(False))
        kinds = {f: kind_of(ent.fields[f].type) for f in present}
        collections = {c: k in self.parts.spools for c, k in ent.children.items()}
        inexact = self.parts.inexact.get(kind, set()) & set(present)
        return EntityTable(kind, selected, kinds, set(bad), inexact, collections)

    def record(self, kind: str, row: dict[str, Any]) -> Record:
        """A record rebuilt from a partition row (for the scalar engine)."""
        ent = self.schema.entities[kind]
        values: dict[str, Any] = {}
        for name in self.parts.present.get(kind, set()):
            v = row.get(name)
            if v is not None and kind_of(ent.fields[name].type) == "num":
                exact = row.get(f"__exact__{name}")
                v = Decimal(exact) if exact is not None else from_units(v)
            if v is not None:
                values[name] = v
        file, line = self.files[row["__seq"] >> ROW_BITS], row["__seq"] % (1 << ROW_BITS)
        issues = {
            f: DataIssue("bad-value", "unreadable", file, line, field=f, entity=kind)
            for f in self.parts.bad.get(kind, set())
            if row.get(f"__bad__{f}")
        }
        return Record(kind, row["__id"], values, issues, source=f"{file}:{line}")

    def linked(
        self, kind: str, rows: list[int], frames: dict[str, pl.DataFrame], has: dict[str, pl.Series]
    ) -> list[Record]:
        """The records of ``rows`` of ``kind``, with their household and its collections."""
        hh = self.schema.entities["household"]
        homes = (
            rows
            if kind == "household"
            else sorted(set(frames[kind]["__parent"].gather(pl.Series(rows, dtype=pl.Int64)).to_list()))
        )
        built = {r: self.record("household", frames["household"].row(r, named=True)) for r in homes}
        mine: dict[int, Record] = {}
        for coll, ckind in hh.children.items():
            if ckind not in frames:
                continue
            for r, rec in built.items():
                if has[coll][r]:
                    rec.children[coll] = []
            kids = frames[ckind].filter(pl.col("__parent").is_in(homes))
            for row in kids.iter_rows(named=True):
                kid = self.record(ckind, row)
                kid.parent = built[row["__parent"]]
                if coll in kid.parent.children:
                    kid.parent.children[coll].append(kid)
                if ckind == kind:
                    mine[row["__row"]] = kid
        return [built[r] for r in rows] if kind == "household" else [mine[r] for r in rows]

    def patch(
        self, kind: str, res: pl.DataFrame, rows: list[int], frames: dict[str, pl.DataFrame], has: dict[str, pl.Series]
    ) -> pl.DataFrame:
        """Rows the vector scheme cannot decide, evaluated by the scalar engine."""
        from tuopin_rules.evaluate.vector import _scalar_rows, _schema

        records = self.linked(kind, rows, frames, has)
        cols = _scalar_rows(self.engine, records, range(len(rows)), self.day)
        cols["row"] = rows
        self.scalar_rows += len(rows)
        return res.update(pl.DataFrame(cols, schema=_schema(cols)).drop("id"), on="row")

    def count(self, kind: str, res: pl.DataFrame, frames: dict[str, pl.DataFrame], has: dict[str, pl.Series]) -> None:
        """Add a partition's rows to the summary counts (first hits kept in data order)."""
        for value, n in res["outcome"].value_counts().iter_rows():
            self.outcomes[(kind, Outcome(value))] += n
        rules = self.standard.rules_for(kind, self.day)
        if not rules:  # a kind with no rules in force (member rules of cn-national): outcomes only
            return
        order = self.kinds.index(kind)
        stats = res.select(
            *[(pl.col(r.id) == o).sum().alias(f"{r.id}\0{o}") for r in rules for o in ("FAIL", "UNKNOWN")],
            *[
                pl.col("__seq").filter(pl.col(r.id) == o).min().alias(f"{r.id}\0{o}\0first")
                for r in rules
                for o in ("FAIL", "UNKNOWN")
            ],
        ).row(0, named=True)
        for j, r in enumerate(rules):
            for o in ("FAIL", "UNKNOWN"):
                n = stats[f"{r.id}\0{o}"]
                if n:
                    key = (order, stats[f"{r.id}\0{o}\0first"], j)
                    old = self.first.get(f"{r.id}\0{o}")
                    self.first[f"{r.id}\0{o}"] = (min(key, old[0]) if old else key, (old[1] if old else 0) + n)
        for rule_id in [r for r in self.probe if any(x.id == r for x in rules)]:
            hit = res.filter(pl.col(rule_id) != "NOT_APPLICABLE")["row"].head(1).to_list()
            if hit:
                probe = Summary()
                record = self.linked(kind, hit, frames, has)[0]
                probe.add(self.engine.evaluate_record(record, self.day), "zh")
                self.unverified |= probe.unverified
                if probe.unverified:
                    self.probe.discard(rule_id)

    def output(self, kind: str, res: pl.DataFrame) -> pl.DataFrame:
        """A partition's rows as written: kind, id, file, row (in the file), rules, scalar, outcome."""
        names = dict(enumerate(self.files))
        rules = [c for c in res.columns if c not in ("row", "id", "scalar", "outcome", "__seq")]
        return res.select(
            pl.lit(kind).alias("kind"),
            "id",
            file_of(pl.col("__seq")).replace_strict(names, return_dtype=pl.String).alias("file"),
            row_of(pl.col("__seq")).alias("row"),
            *rules,
            "scalar",
            "outcome",
        )

    def rule_counts(self, outcome: str) -> dict[str, int]:
        """Rule id -> records with that rule at ``outcome`` (FAIL, UNKNOWN), in order of the first
        such record (kind, place in the data, rule) — the order a record-by-record summary has."""
        hits = sorted((key, rule.split("\0")[0], n) for rule, (key, n) in self.first.items() if rule.endswith(outcome))
        return {rule_id: n for _, rule_id, n in hits}

    def absent(self) -> dict[str, list[str]]:
        """Per kind, the fields its rules read that no record has (as ``absent_fields`` gives them)."""
        out: dict[str, list[str]] = {}
        for kind in self.kinds:
            if not self.parts.present.get(kind) and not any(k == kind for k, _ in self.outcomes):
                continue
            trees = [t for r in self.standard.rules if r.entity == kind for t in (r.applies_when, r.require) if t]
            needed = dict.fromkeys(n.name for n in self.standard.fields_read(trees, same_record=True))
            have = self.parts.present.get(kind, set()) | self.parts.bad.get(kind, set())
            fields = self.schema.entities[kind].fields
            derived = self.standard.derived
            missing = [f"{fields[n].label.zh}（{n}）" for n in needed if n not in have and (kind, n) not in derived]
            if missing:
                out[kind] = missing
        return out

"""The vector engine: every rule of a standard over whole entity tables, outcome and reason per row.

For each entity kind the rules' trees are lowered (:mod:`~tuopin_rules.evaluate.lower`) after the
aggregates they read are computed from the child table as a ``group_by`` on the parent row and
joined back (member → household → village → county, recursively). Each rule gives two columns,
``<rule id>`` (PASS / FAIL / UNKNOWN / NOT_APPLICABLE) and ``<rule id>:reason`` (the scalar
engine's ``reason_code``), and the entity verdict is ``outcome``. Rows the vector scheme cannot
decide exactly (column ``scalar`` true) are evaluated by the scalar engine and patched in, so the
result equals the scalar engine's on every row by construction there, and by the conformance and
property tests elsewhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import reduce
from typing import Any

import polars as pl

from tuopin_rules.compile import Rule, Standard
from tuopin_rules.evaluate.frames import DTYPES, EntityTable, null_of
from tuopin_rules.evaluate.lower import Lowerer
from tuopin_rules.evaluate.lowered import AggColumns, Low, any_of, first_of
from tuopin_rules.evaluate.scalar import HEAD_RELATIONS
from tuopin_rules.expr import ast

__all__ = ["evaluate_tables"]

#: what Python's ``str.strip()`` strips (polars' default whitespace differs for a few controls)
_PY_SPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())


def _needed(standard: Standard, entity: str, trees: Iterable[ast.Expr]) -> list[ast.Aggregate | ast.Related]:
    """The aggregates and related-record look-ups the trees read at ``entity``, also through derived
    fields and ``by`` fields."""
    out: dict[int, ast.Aggregate | ast.Related] = {}
    seen: set[str] = set()
    stack = list(trees)
    while stack:
        for node in ast.top_level(stack.pop()):
            names: list[str] = []
            if isinstance(node, (ast.Aggregate, ast.Related)):
                out.setdefault(id(node), node)
            elif isinstance(node, ast.FieldRef):
                names.append(node.name)
            elif isinstance(node, ast.ParamRef) and standard.params[node.name].by is not None:
                names.append(standard.params[node.name].by or "")
            for name in names:
                derive = standard.derived.get((entity, name))
                if derive is not None and name not in seen:
                    seen.add(name)
                    stack.append(derive)
    return list(out.values())


class _Planner:
    def __init__(self, standard: Standard, as_of: dt.date, tables: dict[str, EntityTable]) -> None:
        self.standard = standard
        self.as_of = as_of
        self.tables = tables
        self.counter = 0

    def prepare(self, entity: str, trees: list[ast.Expr]) -> tuple[pl.LazyFrame, Lowerer]:
        """The entity's table with the aggregates of ``trees`` joined, and a lowerer over it.

        The aggregates over one collection share one lowering of the child table (a derived child
        field such as ``age`` is computed once), one ``group_by`` and one join.
        """
        table = self.tables[entity]
        frame = table.frame.lazy()
        aggs: dict[int, AggColumns] = {}
        extra_fallback: list[pl.Expr] = []
        groups: dict[str, list[ast.Aggregate]] = {}
        related: list[ast.Related] = []
        for node in _needed(self.standard, entity, trees):
            if isinstance(node, ast.Related):
                related.append(node)
            else:
                groups.setdefault(node.collection, []).append(node)
        for nodes in groups.values():
            frame, cols = self.aggregate(frame, table, nodes)
            for node, (c, fb) in zip(nodes, cols, strict=True):
                aggs[id(node)] = c
                extra_fallback.append(fb)
        for rel in related:
            frame, c, fb = self.related(frame, table, rel)
            aggs[id(rel)] = c
            extra_fallback.append(fb)
        lowerer = Lowerer(self.standard, self.as_of, table, aggs)
        lowerer.fallback.extend(extra_fallback)
        return frame, lowerer

    def related(
        self, frame: pl.LazyFrame, table: EntityTable, node: ast.Related
    ) -> tuple[pl.LazyFrame, AggColumns, pl.Expr]:
        """A related record's field (``household.exit_status``, ``head.age``) joined onto ``frame``.

        The link is followed step by step (the parent row, or the household's one head among its
        members); the target field is lowered on its own table (derived fields, aggregates and all)
        and joined on the linked row. No linked record: null with the whole relation path missing.
        """
        self.counter += 1
        n = self.counter
        v, m, f = f"__r{n}_v", f"__r{n}_m", f"__r{n}_f"
        link = table.frame.lazy().select(pl.col("__row"), pl.col("__row").alias("__to"), pl.lit(False).alias("__lf"))
        kind: str | None = table.entity
        for rel in node.relations:
            step, kind = self.step(kind, rel)
            if step is None:
                link = link.with_columns(pl.lit(None, dtype=pl.Int64).alias("__to"))
                continue
            link = (
                link.join(step, left_on="__to", right_on="__from", how="left", maintain_order="left")
                .with_columns(
                    pl.col("__next").alias("__to"), (pl.col("__lf") | pl.col("__lost").fill_null(False)).alias("__lf")
                )
                .drop("__next", "__lost")
            )
        target = self.tables.get(kind or "")
        assert node.target.entity == kind or target is None
        kind_of_target = "text"
        exact = True
        if target is not None and kind is not None:
            sub, lo = self.prepare(kind, [node.target])
            low = lo.lower(node.target)
            kind_of_target, exact = low.kind, low.exact
            fb = any_of(lo.fallback)
            sub = lo.apply(sub).select(
                pl.col("__row").alias("__to"),
                low.value.alias("__tv"),
                (low.missing if low.missing is not None else pl.lit(None, dtype=pl.String)).alias("__tm"),
                (fb if fb is not None else pl.lit(False)).alias("__tf"),
            )
            link = link.join(sub, on="__to", how="left", maintain_order="left")
        else:
            kind_of_target = self._kind(node.target)
            link = link.with_columns(
                null_of(kind_of_target).alias("__tv"),
                pl.lit(None, dtype=pl.String).alias("__tm"),
                pl.lit(False).alias("__tf"),
            )
        path = ".".join(node.relations)
        inner = pl.col("__tm").str.slice(1)
        full = pl.lit(path + ".") + inner
        # the scalar reason code tags a path through a child ("household.members[02].age") by the
        # record's own cell of the field after "].", any other related path as missing
        own = full.str.extract(r"(?s)^[^\[]*\[.*?\]\.(.*)$", 1)
        bad_own = any_of([pl.col(f"__bad__{b}") & (own == b) for b in sorted(table.bad)])
        tag = pl.lit("M") if bad_own is None else pl.when(bad_own).then(pl.lit("U")).otherwise(pl.lit("M"))
        no_link = pl.col("__to").is_null()
        link_tag = (
            pl.when(pl.col(f"__bad__{path}")).then(pl.lit("U")).otherwise(pl.lit("M"))
            if path in table.bad
            else pl.lit("M")
        )
        link = link.select(
            pl.col("__row"),
            pl.col("__tv").alias(v),
            pl.col("__lf").fill_null(False) | pl.col("__tf").fill_null(False),
            pl.when(no_link).then(link_tag + pl.lit(path)).otherwise(pl.lit(None, dtype=pl.String)).alias("__lm"),
            pl.col("__tm"),
        )
        frame = frame.join(link.rename({"__lf": f}), on="__row", how="left", maintain_order="left")
        missing = pl.when(pl.col(v).is_null()).then(
            pl.when(pl.col("__lm").is_not_null())
            .then(pl.col("__lm"))
            .when(pl.col("__tm").is_not_null())
            .then(pl.when(inner.str.contains("[", literal=True)).then(tag).otherwise(pl.lit("M")) + full)
        )
        frame = frame.with_columns(missing.alias(m)).drop("__lm", "__tm")
        return frame, AggColumns(v, m, kind_of_target, exact), pl.col(f)

    def _kind(self, target: ast.FieldRef) -> str:
        from tuopin_rules.evaluate.frames import kind_of

        return kind_of(self.standard.schema.entities[target.entity].fields[target.name].type)

    def step(self, kind: str | None, rel: str) -> tuple[pl.LazyFrame | None, str | None]:
        """One relation from the rows of ``kind``: a frame of ``__from`` (row), ``__next`` (the row
        reached in the next table, null for none) and ``__lost`` (the tables may not hold the
        record's link: the row goes to the scalar engine), and the kind reached."""
        table = self.tables.get(kind or "")
        if kind is None or table is None:
            return None, None
        ent = self.standard.schema.entities[kind]
        rows = table.frame.lazy()
        lost = pl.col("__lost_parent") if table.lost_parent else pl.lit(False)
        if rel != "head":
            if ent.parent != rel:
                return None, None
            to = pl.col("__parent") if rel in self.tables else pl.lit(None, dtype=pl.Int64)
            return rows.select(pl.col("__row").alias("__from"), to.alias("__next"), lost.alias("__lost")), rel
        child = ent.children.get("members")
        if child is None:
            return None, None
        members = self.tables.get(child)
        none = pl.lit(None, dtype=pl.Int64).alias("__next")
        if members is None:  # no member table: the records may still hold members
            held = table.records is not None and "__has_members" in table.frame.columns
            flag = pl.col("__has_members") if held else pl.lit(False)
            return rows.select(pl.col("__row").alias("__from"), none, flag.alias("__lost")), child
        field = "relation_to_head"
        if members.kinds.get(field, "text") != "text":  # not text cells: leave it to the scalar engine
            return rows.select(pl.col("__row").alias("__from"), none, pl.lit(True).alias("__lost")), child
        if field not in members.kinds:  # no cell at all: no head
            return None, child
        cell = pl.col(field).str.strip_chars(_PY_SPACE)
        heads = (
            members.frame.lazy()
            .filter(pl.col("__parent").is_not_null() & cell.is_in(sorted(HEAD_RELATIONS)).fill_null(False))
            .group_by("__parent")
            .agg(pl.len().alias("__k"), pl.col("__row").first().alias("__next"))
            .filter(pl.col("__k") == 1)
            .select(pl.col("__parent").alias("__from"), pl.col("__next"), pl.lit(False).alias("__lost"))
        )
        return heads, child

    def aggregate(
        self, frame: pl.LazyFrame, table: EntityTable, nodes: list[ast.Aggregate]
    ) -> tuple[pl.LazyFrame, list[tuple[AggColumns, pl.Expr]]]:
        """The aggregates ``nodes`` (all over one collection) joined onto ``frame`` as columns."""
        collection, child_kind = nodes[0].collection, nodes[0].child
        has = pl.col(f"__has_{collection}") if f"__has_{collection}" in table.frame.columns else pl.lit(False)
        child_table = self.tables.get(child_kind)
        default = {"count": pl.lit(0, dtype=pl.Int128), "any": pl.lit(False), "all": pl.lit(True)}
        default["sum"] = pl.lit(0, dtype=pl.Int128)
        names = []
        for _ in nodes:
            n = self.counter = self.counter + 1
            names.append((f"__a{n}_v", f"__a{n}_m", f"__a{n}_f", n))
        if child_table is None:  # no child rows at all: every supplied collection is empty
            out: list[tuple[AggColumns, pl.Expr]] = []
            exprs: list[pl.Expr] = []
            for node, (v, m, f, _) in zip(nodes, names, strict=True):
                kind = "bool" if node.func in ("any", "all") else "num"
                empty = default.get(node.func, null_of(kind))
                exprs += [
                    pl.when(has).then(empty).otherwise(null_of(kind)).cast(DTYPES[kind]).alias(v),
                    pl.when(has).then(pl.lit(None, dtype=pl.String)).otherwise(pl.lit("M" + collection)).alias(m),
                    pl.lit(False).alias(f),
                ]
                out.append((AggColumns(v, m, kind, True), pl.col(f)))
            return frame.with_columns(exprs), out
        sub_trees = [x for node in nodes for x in (node.filter, node.arg) if x is not None]
        child, lo = self.prepare(child_kind, sub_trees)
        cols: dict[str, pl.Expr] = {}
        specs = []
        for node, (_, _, _, n) in zip(nodes, names, strict=True):
            inc: Low = lo.lower(node.filter) if node.filter is not None else Low(pl.lit(True), "bool")
            val: Low | None = lo.lower(node.arg) if node.arg is not None else None
            chosen = inc.value.is_null() | inc.value
            arg_missing = None if val is None or val.missing is None else pl.when(chosen).then(val.missing)
            inner = first_of([inc.missing, arg_missing])
            # the path is prefixed after the group-by, for the one child that decides it (not for every child)
            if node.filter is not None:
                cols[f"__inc{n}"] = inc.value
            if val is not None:
                cols[f"__val{n}"] = val.value
            if inner is not None:
                cols[f"__miss{n}"] = inner
            specs.append((node, n, inc, val, inner is not None))
        child_fb = any_of(lo.fallback)
        if child_fb is not None:
            cols["__fb"] = child_fb
        # one pass over the children (their lowered columns computed once, then grouped)
        child_df = (
            lo.apply(child)
            .filter(pl.col("__parent").is_not_null())
            .select(pl.col("__parent"), pl.col("__id"), **cols)
            .collect()
        )
        fb_any: pl.Expr = pl.col("__fb").any() if child_fb is not None else pl.lit(False)
        group_exprs: list[pl.Expr] = [pl.len().alias("__n")]
        inexact_sums: dict[int, pl.Expr] = {}
        for node, n, _inc, val, _has_miss in specs:
            i = pl.col(f"__inc{n}") if node.filter is not None else pl.lit(True)
            x = pl.col(f"__val{n}") if val is not None else pl.lit(True)
            flags = (i & x) if val is not None else i
            if node.func == "any":
                value = (
                    pl.when(flags.fill_null(False).any())
                    .then(True)
                    .when(flags.is_null().any())
                    .then(None)
                    .otherwise(False)
                )
            elif node.func == "all":
                g = ((~i) | x) if val is not None else i
                value = (
                    pl.when((~g).fill_null(False).any()).then(False).when(g.is_null().any()).then(None).otherwise(True)
                )
            elif node.func == "count" and node.filter is None and val is None:
                value = 2 * pl.len().cast(pl.Int128) * 10**10
            elif node.func == "count":
                value = (
                    pl.when(flags.is_null().any())
                    .then(None)
                    .otherwise(2 * flags.fill_null(False).cast(pl.Int128).sum() * 10**10)
                )
            else:
                pick = i.is_null() | i
                broken = (pick & (i.is_null() | x.is_null())).any()
                picked = x.filter(pick) if node.filter is not None else x
                agg = {"sum": picked.sum(), "min": picked.min(), "max": picked.max()}[node.func]
                value = pl.when(broken).then(None).otherwise(agg)
                if node.func == "sum" and val is not None and not val.exact:
                    inexact_sums[n] = ((picked % 2) != 0).sum() >= 2
            group_exprs.append(value.alias(f"__value{n}"))
        group_exprs.append(fb_any.alias("__fb_any"))
        for n, e in inexact_sums.items():
            group_exprs.append(e.alias(f"__xs{n}"))
        grouped = child_df.lazy().group_by("__parent").agg(group_exprs)
        # the missing paths (and the duplicate-id check, which only matters when a child is named) are
        # computed only for the parents with a child whose path is missing — usually few
        named = [(node, n) for node, n, _inc, _val, has_miss in specs if has_miss]
        miss_any = any_of([pl.col(f"__miss{n}").is_not_null() for _, n in named])
        if miss_any is not None and child_df.select(miss_any.any()).item():
            parents = child_df.lazy().filter(miss_any).select(pl.col("__parent")).unique()
            sub = child_df.lazy().join(parents, on="__parent", how="semi")
            dup = (pl.col("__id").n_unique() != pl.len()) | (pl.col("__id").null_count() > 0)
            firsts = []
            for node, n in named:
                miss = pl.col(f"__miss{n}")
                inner_col = miss.drop_nulls().first()
                kid = pl.col("__id").filter(miss.is_not_null()).first().fill_null("None")
                tail = inner_col.str.slice(1)
                tag = (
                    pl.when(tail.str.contains("[", literal=True)).then(pl.lit("M")).otherwise(inner_col.str.slice(0, 1))
                )
                firsts.append((tag + pl.lit(node.collection + "[") + kid + pl.lit("].") + tail).alias(f"__first{n}"))
            paths = sub.group_by("__parent").agg(dup.alias("__dup"), *firsts)
            grouped = grouped.join(paths, on="__parent", how="left")
        else:
            grouped = grouped.with_columns(
                pl.lit(None, dtype=pl.Boolean).alias("__dup"),
                *[pl.lit(None, dtype=pl.String).alias(f"__first{n}") for _, n in named],
            )
        grouped = grouped.with_columns(
            pl.lit(None, dtype=pl.String).alias(f"__first{n}") for _node, n, _i, _v, has in specs if not has
        )
        joined = frame.join(grouped, left_on="__row", right_on="__parent", how="left", maintain_order="left")
        no_group = pl.col("__n").is_null()
        values, rest = [], []
        out = []
        temp = ["__n", "__dup", "__fb_any"]
        for (node, n, _inc, val, _has_miss), (v, m, f, _) in zip(specs, names, strict=True):
            kind = "bool" if node.func in ("any", "all") else "num"
            if val is not None and node.func in ("sum", "min", "max"):
                kind = val.kind
            empty = default.get(node.func, null_of(kind))
            values.append(
                pl.when(~has)
                .then(None)
                .when(no_group)
                .then(empty)
                .otherwise(pl.col(f"__value{n}"))
                .cast(DTYPES[kind])
                .alias(v)
            )
            missing = pl.when(pl.col(v).is_null()).then(
                pl.when(~has).then(pl.lit("M" + collection)).otherwise(pl.col(f"__first{n}"))
            )
            fb = pl.col("__fb_any").fill_null(False)
            if n in inexact_sums:
                fb = fb | pl.col(f"__xs{n}").fill_null(False)
                temp.append(f"__xs{n}")
            fallback = has & (fb | (pl.col(v).is_null() & pl.col("__dup").fill_null(False)))
            rest += [missing.alias(m), fallback.alias(f)]
            temp += [f"__value{n}", f"__first{n}"]
            exact = (
                val.exact
                if (val is not None and node.func in ("min", "max"))
                else node.func not in ("sum",) or (val is None or val.exact)
            )
            out.append((AggColumns(v, m, kind, exact), pl.col(f)))
        joined = joined.with_columns(values).with_columns(rest).drop(temp)
        return joined, out


def _fail_code(node: ast.Expr, lo: Lowerer, want: bool, path: pl.Expr, out: list[tuple[pl.Expr, str]]) -> None:
    """The scalar ``_failing_leaves`` with its ``fail:<field>`` code, as (condition, code) in order."""
    here = path & (lo.lower(node).value == want).fill_null(False)
    match node:
        case ast.BoolOp(operands=ops):
            for o in ops:
                _fail_code(o, lo, want, here, out)
            return
        case ast.Not(operand=o):
            _fail_code(o, lo, not want, here, out)
            return
    names = [
        n.name if isinstance(n, ast.FieldRef) else n.written
        for n in ast.top_level(node)
        if isinstance(n, (ast.FieldRef, ast.Related))
    ]
    if names:
        out.append((here, f"fail:{names[0]}"))
    elif isinstance(node, ast.Aggregate):
        out.append((here, f"fail:{node.collection}"))


def _rule_columns(rule: Rule, lo: Lowerer) -> tuple[pl.Expr, pl.Expr]:
    applies = lo.lower(rule.applies_when) if rule.applies_when is not None else None
    require = lo.lower(rule.require)
    app = applies.value if applies is not None else pl.lit(True)
    req = require.value
    outcome = (
        pl.when(app == False)  # noqa: E712 - a polars expression, not a Python comparison
        .then(pl.lit("NOT_APPLICABLE"))
        .when(app.is_null())
        .then(pl.lit("UNKNOWN"))
        .when(req == True)  # noqa: E712
        .then(pl.lit("PASS"))
        .when(req == False)  # noqa: E712
        .then(pl.lit("FAIL"))
        .otherwise(pl.lit("UNKNOWN"))
    )
    leaves: list[tuple[pl.Expr, str]] = []
    _fail_code(rule.require, lo, False, pl.lit(True), leaves)
    fail: Any = pl.lit("fail")
    if leaves:
        chain: Any = pl.when(leaves[0][0]).then(pl.lit(leaves[0][1]))
        for cond, code in leaves[1:]:
            chain = chain.when(cond).then(pl.lit(code))
        fail = chain.otherwise(pl.lit("fail"))
    a_missing = applies.missing if applies is not None else None
    a_missing = a_missing if a_missing is not None else pl.lit(None, dtype=pl.String)
    r_missing = require.missing if require.missing is not None else pl.lit(None, dtype=pl.String)
    missing = pl.when(app.is_null()).then(a_missing).otherwise(r_missing)
    req_dz = None if require.divzero is None else ((app == True) & require.divzero)  # noqa: E712
    dz = any_of([applies.divzero if applies is not None else None, req_dz])
    unknown = (
        pl.when(missing.is_not_null())
        .then(
            pl.when(missing.str.starts_with("U")).then(pl.lit("unreadable:")).otherwise(pl.lit("missing:"))
            + missing.str.slice(1)
        )
        .otherwise(
            pl.lit("unknown")
            if dz is None
            else pl.when(dz).then(pl.lit("division-by-zero")).otherwise(pl.lit("unknown"))
        )
    )
    reason = (
        pl.when(outcome == "PASS")
        .then(pl.lit("pass"))
        .when(outcome == "NOT_APPLICABLE")
        .then(pl.lit("not-applicable"))
        .when(outcome == "FAIL")
        .then(fail)
        .otherwise(unknown)
    )
    return outcome.alias(rule.id), reason.alias(rule.id + ":reason")


def entity_outcome_expr(rules: list[Rule]) -> pl.Expr:
    """The entity verdict (DESIGN §4) from the rule outcome columns: veto rules decide."""
    veto = [pl.col(r.id) for r in rules if r.severity == "veto"]
    if not veto:
        return pl.lit("NOT_APPLICABLE").alias("outcome")

    def anyis(o: str) -> pl.Expr:
        return reduce(lambda a, b: a | b, [c == o for c in veto])

    return (
        pl.when(anyis("FAIL"))
        .then(pl.lit("FAIL"))
        .when(anyis("UNKNOWN"))
        .then(pl.lit("UNKNOWN"))
        .when(anyis("PASS"))
        .then(pl.lit("PASS"))
        .otherwise(pl.lit("NOT_APPLICABLE"))
        .alias("outcome")
    )


def evaluate_tables(
    standard: Standard, tables: dict[str, EntityTable], as_of: dt.date, entities: Iterable[str]
) -> dict[str, pl.DataFrame]:
    """Outcome and reason columns per rule, the entity verdict, and ``scalar`` (the rows left to the
    scalar engine, not yet patched) for each entity kind in ``entities`` present in ``tables``."""
    planner = _Planner(standard, as_of, tables)
    out: dict[str, pl.DataFrame] = {}
    for kind in entities:
        if kind not in tables:
            continue
        rules = standard.rules_for(kind, as_of)
        trees = [t for r in rules for t in (r.applies_when, r.require) if t is not None]
        frame, lo = planner.prepare(kind, trees)
        columns = [c for r in rules for c in _rule_columns(r, lo)]
        fallback = any_of(lo.fallback)
        frame = lo.apply(frame)
        result = frame.select(
            pl.col("__row").alias("row"),
            pl.col("__id").alias("id"),
            *columns,
            (fallback if fallback is not None else pl.lit(False)).alias("scalar"),
        ).with_columns(entity_outcome_expr(rules))
        out[kind] = result.collect().sort("row")
    return out

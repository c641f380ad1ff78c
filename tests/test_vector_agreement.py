"""Property: random well-typed expressions over random records (nulls, unreadable cells, boundary
numbers, unicode codes, members; related records — the household's head, a member's household —
and ``unique``) give the same outcome and reason code in both backends."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import inline_standard
from tests.vector_helpers import agree, records
from tuopin_rules import Engine

BODY = """
parameters:
  line: {{values: {{2019: 3218, 2020: 4000}}}}
  limit: {{by: region, values: {{default: 2%, western: 3%}}}}
fields:
  household:
    a: {{type: number}}
    b: {{type: number}}
    c: {{type: number}}
    p: {{type: bool}}
    q: {{type: bool}}
    t: {{type: text}}
    region: {{type: text}}
    rate: {{type: number, derive: a / b}}
rules:
{rules}
"""

NUMBERS = ["0", "1", "2", "3", "150", "0.02", "2%", "4000", "4000.0", "3218", "1.5", "0.3333333333", "7"]
CELLS = [None, "", "0", "1", "3", "150", "512.3", "1538.6", "1949.1", "4000", "4000.00", "-2.5", "0.02", "abc", "7"]
BOOLS = [None, "是", "否", "", "也许"]
TEXTS = [None, "", " ", "x", "中", "ü", "ｘ", "x ", "\u3000", "abcd"]
IDS = [
    "11010519491231002X",
    "110105201001010011",
    "110105491231002",
    "",
    "１１０１０５２０１００１０１００１１",
    "11010520100231001X",
    "1101052010+1010011",
    " 110105201501010011 ",
]

leaf_num = st.sampled_from(["a", "b", "c", "rate", "line", "limit", "as_of_year", *NUMBERS])
member_num = st.sampled_from(["age", "0", "6", "15", "16", "70"])


def _num(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/"]), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        children.map(lambda x: f"-{x}"),
        children.map(lambda x: f"abs({x})"),
        st.tuples(children, st.sampled_from(["0", "1", "2"])).map(lambda t: f"round({t[0]}, {t[1]})"),
        st.tuples(children, children).map(lambda t: f"coalesce({t[0]}, {t[1]})"),
    )


nums = st.recursive(leaf_num, _num, max_leaves=4)
member_cond = st.one_of(
    st.tuples(member_num, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), member_num).map(" ".join),
    st.sampled_from(["dropout_due_to_poverty", "medical_insured", "is_blank(id_number)", "id_number_valid(id_number)"]),
    st.just("age between 6 and 15 and dropout_due_to_poverty"),
)
aggregate = st.one_of(
    st.tuples(st.sampled_from(["any", "all"]), member_cond).map(lambda t: f"{t[0]}(members, {t[1]})"),
    member_cond.map(lambda c: f"all(members where {c})"),
    member_cond.map(lambda c: f"count(members where {c}) > 1"),
    st.tuples(st.sampled_from(["sum", "min", "max"]), member_cond).map(
        lambda t: f"{t[0]}(members where {t[1]}, age) < 30"
    ),
    st.just("count(members) >= 2"),
)
related = st.sampled_from(
    ["head.medical_insured", "head.age >= 60", "coalesce(head.dropout_due_to_poverty, p)", "unique(t)", "not unique(a)"]
)
leaf_bool = st.one_of(
    st.sampled_from(["p", "q", "is_blank(t)", 't in ["x", "中", "ü"]', 't not in ["x"]', "length(t) <= 1"]),
    related,
    st.tuples(nums, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), nums).map(" ".join),
    st.tuples(nums, nums, nums).map(lambda t: f"{t[0]} between {t[1]} and {t[2]}"),
    aggregate,
)


def _bool(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        children.map(lambda x: f"not ({x})"),
        st.tuples(children, st.sampled_from(["and", "or"]), children).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        st.tuples(children, children).map(lambda t: f"coalesce({t[0]}, {t[1]})"),
    )


conds = st.recursive(leaf_bool, _bool, max_leaves=4)
member_leaf = st.one_of(
    member_cond,
    st.sampled_from(["household.p", "household.a > age", "household.rate <= 0.02", "unique(id_number)"]),
)
member_conds = st.recursive(member_leaf, _bool, max_leaves=3)
RELATIONS = [None, "户主", " 本人", "户主本人", "之子", "配偶"]
member = st.fixed_dictionaries(
    {
        "relation_to_head": st.sampled_from(RELATIONS),
        "id_number": st.sampled_from(IDS),
        "dropout_due_to_poverty": st.sampled_from(BOOLS),
        "medical_insured": st.sampled_from(BOOLS),
    }
)
household = st.fixed_dictionaries(
    {
        "a": st.sampled_from(CELLS),
        "b": st.sampled_from(CELLS),
        "c": st.sampled_from(CELLS),
        "p": st.sampled_from(BOOLS),
        "q": st.sampled_from(BOOLS),
        "t": st.sampled_from(TEXTS),
        "region": st.sampled_from([None, "western", "eastern"]),
    },
    optional={"members": st.lists(member, max_size=3)},
)


def _rules(pairs: list[tuple[str | None, str]], entity: str = "household", first: int = 0) -> str:
    out = []
    for i, (when, require) in enumerate(pairs, start=first):
        out.append(f"  - id: r{i}\n    entity: {entity}\n    title: {{zh: 规则{i}}}\n    source: doc")
        out.append(f"    require: '{require}'" + (f"\n    applies_when: '{when}'" if when else ""))
    return "\n".join(out)


@settings(
    max_examples=int(os.environ.get("TUOPIN_AGREEMENT_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    pairs=st.lists(st.tuples(st.none() | conds, conds), min_size=1, max_size=4),
    member_pairs=st.lists(st.tuples(st.none() | member_conds, member_conds), max_size=2),
    rows=st.lists(household, min_size=1, max_size=6),
    as_of=st.sampled_from([2019, 2020, "2020-06-30"]),
)
def test_backends_agree(
    pairs: list[tuple[str | None, str]],
    member_pairs: list[tuple[str | None, str]],
    rows: list[dict[str, Any]],
    as_of: int | str,
) -> None:
    rules = _rules(pairs) + ("\n" + _rules(member_pairs, "member", len(pairs)) if member_pairs else "")
    engine = Engine(inline_standard(BODY.format(rules=rules)))
    mappings = []
    for i, row in enumerate(rows):
        m: dict[str, Any] = {"household_id": str(i), **{k: v for k, v in row.items() if v is not None}}
        if "members" in m:
            m["members"] = [{"person_id": f"{i}{j}", "household_id": str(i), **x} for j, x in enumerate(m["members"])]
        mappings.append(m)
    agree(engine, records(engine, "household", mappings), as_of)

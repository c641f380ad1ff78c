"""The rule-language parser: text → syntax tree, tree → canonical text, and syntax errors."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tuopin_rules.expr import ast
from tuopin_rules.expr.parser import ExprSyntaxError, parse, to_text


def N(name: str) -> ast.Name:
    return ast.Name(name)


def D(value: str) -> ast.Literal:
    return ast.Literal(Decimal(value))


def P(value: str) -> ast.Literal:
    return ast.Literal(Decimal(value), percent=True)


def S(value: str) -> ast.Literal:
    return ast.Literal(value)


def L(*items: ast.Expr) -> ast.ListExpr:
    return ast.ListExpr(tuple(items))


def AND(*ops: ast.Expr) -> ast.BoolOp:
    return ast.BoolOp("and", tuple(ops))


def OR(*ops: ast.Expr) -> ast.BoolOp:
    return ast.BoolOp("or", tuple(ops))


a, b, c, d = N("a"), N("b"), N("c"), N("d")

# (text, tree, canonical text)
CASES: list[tuple[str, ast.Expr, str]] = [
    # comparisons
    ("a > b", ast.Compare(">", a, b), "a > b"),
    ("a>=3", ast.Compare(">=", a, D("3")), "a >= 3"),
    ("a != 'x'", ast.Compare("!=", a, S("x")), 'a != "x"'),
    ("a == true", ast.Compare("==", a, ast.Literal(True)), "a == true"),
    ("a <= false", ast.Compare("<=", a, ast.Literal(False)), "a <= false"),
    ("a < b + 1", ast.Compare("<", a, ast.Arith("+", b, D("1"))), "a < b + 1"),
    ("(a < b) == c", ast.Compare("==", ast.Compare("<", a, b), c), "(a < b) == c"),
    # and / or / not precedence
    ("a or b and c", OR(a, AND(b, c)), "a or b and c"),
    ("(a or b) and c", AND(OR(a, b), c), "(a or b) and c"),
    ("a and b or c and d", OR(AND(a, b), AND(c, d)), "a and b or c and d"),
    ("a and b and c", AND(a, b, c), "a and b and c"),
    ("a and (b and c)", AND(a, AND(b, c)), "a and (b and c)"),
    ("not a and b", AND(ast.Not(a), b), "not a and b"),
    ("not (a and b)", ast.Not(AND(a, b)), "not (a and b)"),
    ("not not a", ast.Not(ast.Not(a)), "not not a"),
    ("not a < b", ast.Not(ast.Compare("<", a, b)), "not a < b"),
    ("a or not b", OR(a, ast.Not(b)), "a or not b"),
    # arithmetic precedence and associativity
    ("a - b - c", ast.Arith("-", ast.Arith("-", a, b), c), "a - b - c"),
    ("a - (b - c)", ast.Arith("-", a, ast.Arith("-", b, c)), "a - (b - c)"),
    ("(a - b) - c", ast.Arith("-", ast.Arith("-", a, b), c), "a - b - c"),
    ("a / b / c", ast.Arith("/", ast.Arith("/", a, b), c), "a / b / c"),
    ("a / (b / c)", ast.Arith("/", a, ast.Arith("/", b, c)), "a / (b / c)"),
    ("a + b * c", ast.Arith("+", a, ast.Arith("*", b, c)), "a + b * c"),
    ("(a + b) * c", ast.Arith("*", ast.Arith("+", a, b), c), "(a + b) * c"),
    ("a * b + c", ast.Arith("+", ast.Arith("*", a, b), c), "a * b + c"),
    ("a + (b + c)", ast.Arith("+", a, ast.Arith("+", b, c)), "a + (b + c)"),
    ("-a * -b", ast.Arith("*", ast.Neg(a), ast.Neg(b)), "-a * -b"),
    ("a - -b", ast.Arith("-", a, ast.Neg(b)), "a - -b"),
    ("-(a + b)", ast.Neg(ast.Arith("+", a, b)), "-(a + b)"),
    ("--a", ast.Neg(ast.Neg(a)), "--a"),
    ("((a))", a, "a"),
    # between, in, not in
    ("a between 1 and 2", ast.Between(a, D("1"), D("2")), "a between 1 and 2"),
    (
        "a between b + 1 and c * 2",
        ast.Between(a, ast.Arith("+", b, D("1")), ast.Arith("*", c, D("2"))),
        "a between b + 1 and c * 2",
    ),
    ("a between 1 and 2 and b", AND(ast.Between(a, D("1"), D("2")), b), "a between 1 and 2 and b"),
    ("a in [1, 2]", ast.In(a, L(D("1"), D("2"))), "a in [1, 2]"),
    ("a in []", ast.In(a, L()), "a in []"),
    ("a not in [\"x\", 'y']", ast.In(a, L(S("x"), S("y")), negated=True), 'a not in ["x", "y"]'),
    ("not a in [1]", ast.Not(ast.In(a, L(D("1")))), "not a in [1]"),
    ("a in [1] and b", AND(ast.In(a, L(D("1"))), b), "a in [1] and b"),
    # numbers and percent literals
    ("2%", P("0.02"), "2%"),
    ("2.5%", P("0.025"), "2.5%"),
    ("100%", P("1"), "100%"),
    ("0.02", D("0.02"), "0.02"),
    ("007", D("7"), "7"),
    ("1.50", D("1.5"), "1.5"),
    ("a < 3%", ast.Compare("<", a, P("0.03")), "a < 3%"),
    # text
    ("'He said \"hi\"'", S('He said "hi"'), "'He said \"hi\"'"),
    ('"已脱贫"', S("已脱贫"), '"已脱贫"'),
    ('""', S(""), '""'),
    # Chinese identifiers and keyword-prefixed names
    ("人均纯收入 > 扶贫标准", ast.Compare(">", N("人均纯收入"), N("扶贫标准")), "人均纯收入 > 扶贫标准"),
    ("not in_school", ast.Not(N("in_school")), "not in_school"),
    ("notes or order", OR(N("notes"), N("order")), "notes or order"),
    ("andy and true_x", AND(N("andy"), N("true_x")), "andy and true_x"),
    # function calls and aggregates
    ("f()", ast.Call("f", ()), "f()"),
    ("age(id_number) >= 16", ast.Compare(">=", ast.Call("age", (N("id_number"),)), D("16")), "age(id_number) >= 16"),
    ("round(a / b, 2)", ast.Call("round", (ast.Arith("/", a, b), D("2"))), "round(a / b, 2)"),
    ("count(members)", ast.Call("count", (N("members"),)), "count(members)"),
    (
        "count(members where age between 6 and 15)",
        ast.Call("count", (ast.Filtered(N("members"), ast.Between(N("age"), D("6"), D("15"))),)),
        "count(members where age between 6 and 15)",
    ),
    (
        "count(members, age between 6 and 15 and not in_school)",
        ast.Call("count", (N("members"), AND(ast.Between(N("age"), D("6"), D("15")), ast.Not(N("in_school"))))),
        "count(members, age between 6 and 15 and not in_school)",
    ),
    (
        "sum(members where 年龄 >= 60, 收入)",
        ast.Call("sum", (ast.Filtered(N("members"), ast.Compare(">=", N("年龄"), D("60"))), N("收入"))),
        "sum(members where 年龄 >= 60, 收入)",
    ),
    (
        "any(members where not x)",
        ast.Call("any", (ast.Filtered(N("members"), ast.Not(N("x"))),)),
        "any(members where not x)",
    ),
    # whitespace, including line breaks of block scalars
    ("a\n  and\n  b", AND(a, b), "a and b"),
    ("  a  >  b  ", ast.Compare(">", a, b), "a > b"),
]


@pytest.mark.parametrize(("text", "tree", "canonical"), CASES, ids=[c[0] for c in CASES])
def test_parse_and_print(text: str, tree: ast.Expr, canonical: str) -> None:
    parsed = parse(text)
    assert parsed == tree
    assert to_text(parsed) == canonical
    assert to_text(tree) == canonical
    assert parse(canonical) == tree


def test_percent_literal_is_the_exact_fraction() -> None:
    lit = parse("2%")
    assert isinstance(lit, ast.Literal)
    assert lit.percent is True
    assert lit.value == Decimal("0.02")
    assert parse("3%") != parse("0.03")  # the same value, but written as a percent
    assert isinstance(parse("0.03"), ast.Literal)


def test_spans_point_into_the_text_and_do_not_affect_equality() -> None:
    text = "人均纯收入 > poverty_line"
    tree = parse(text)
    assert isinstance(tree, ast.Compare)
    assert tree.span == (0, len(text))
    assert tree.left.span == (0, 5)
    assert text[slice(*tree.right.span)] == "poverty_line"
    assert parse("a>b") == parse("  a   >   b")


def test_filtered_collection_span() -> None:
    tree = parse("count(members where age > 60)")
    assert isinstance(tree, ast.Call)
    (arg,) = tree.args
    assert isinstance(arg, ast.Filtered)
    assert arg.collection.span == (6, 13)


def test_to_text_rejects_non_nodes() -> None:
    with pytest.raises(TypeError):
        to_text("a > b")  # type: ignore[arg-type]


# ---- syntax errors -----------------------------------------------------------------------------

ERRORS: list[tuple[str, str, int, int, str | None]] = [
    # text, message (prefix), offset, length, hint (substring) or None
    ("a = 3", "unexpected character '='", 2, 1, "use '==' to compare"),
    ("a == “已脱贫”", "unexpected character '“'", 5, 1, "use plain quotes"),
    ("a == ‘x’", "unexpected character '‘'", 5, 1, "use plain quotes"),
    ("（a + b） > 1", "unexpected character '（'", 0, 1, "use ASCII parentheses ( )"),
    ("(a + b） > 1", "unexpected character '）'", 6, 1, "use ASCII parentheses ( )"),
    ("round(a，2) > 1", "unexpected character '，'", 7, 1, "use an ASCII comma ,"),
    ("a && b", "unexpected character '&'", 2, 1, "write 'and'"),
    ("a || b", "unexpected character '|'", 2, 1, "write 'or'"),
    ("!a", "unexpected character '!'", 0, 1, "write 'not'"),
    ("a +", "the expression ends too early", 3, 1, "a name"),
    ("a and", "the expression ends too early", 5, 1, "a name"),
    ("a >   ", "the expression ends too early", 3, 1, "a number"),
    ("not", "the expression ends too early", 3, 1, "a name"),
    ("(a + b", "the expression ends too early", 6, 1, "expected ')'"),
    ("f(a, b", "the expression ends too early", 6, 1, "')'"),
    ("[1, 2", "the expression ends too early", 5, 1, "']'"),
    ("a between 1", "the expression ends too early", 11, 1, "expected 'and'"),
    ("a + b)", "unexpected ')'", 5, 1, None),
    ("a < b < c", "unexpected '<'", 6, 1, None),
    ("a == b == c", "unexpected '=='", 7, 2, None),
    ("a where b", "unexpected keyword 'where'", 2, 5, None),
    ("a in 3", "unexpected '3'", 5, 1, None),
    ("a..b", "unexpected '.'", 2, 1, "expected a name"),
    ('a == "x', "unexpected character '\"'", 5, 1, None),
    ("", "the expression is empty", 0, 1, None),
    ("   ", "the expression is empty", 0, 1, None),
]


@pytest.mark.parametrize(("text", "message", "offset", "length", "hint"), ERRORS, ids=[e[0] for e in ERRORS])
def test_syntax_errors(text: str, message: str, offset: int, length: int, hint: str | None) -> None:
    with pytest.raises(ExprSyntaxError) as info:
        parse(text)
    err = info.value
    assert err.message.startswith(message)
    assert str(err) == err.message
    assert err.offset == offset
    assert err.length == length
    if hint is None:
        assert err.hint is None or "use" not in err.hint
    else:
        assert err.hint is not None and hint in err.hint


def test_unexpected_token_hint_lists_what_was_expected() -> None:
    with pytest.raises(ExprSyntaxError) as info:
        parse("a > b c")
    assert info.value.offset == 6
    assert info.value.hint is not None and info.value.hint.startswith("expected ")


# ---- properties --------------------------------------------------------------------------------

_NAMES = ["a", "b", "x1", "_y", "人", "收入", "年龄", "in_school", "notes", "order", "andy", "true_x", "per_capita"]

names = st.sampled_from(_NAMES)
numbers = st.decimals(min_value=0, max_value=10**7, places=3, allow_nan=False, allow_infinity=False).map(abs)
percents = st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False, allow_infinity=False).map(abs)
_plain_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\"'")
texts = st.one_of(
    st.text(_plain_chars, max_size=6),
    st.text(st.one_of(_plain_chars, st.just('"')), max_size=6),  # printed with single quotes
    st.text(st.one_of(_plain_chars, st.just("'")), max_size=6),
)

literals = st.one_of(
    numbers.map(ast.Literal),
    percents.map(lambda p: ast.Literal(p / 100, percent=True)),
    texts.map(ast.Literal),
    st.booleans().map(ast.Literal),
)
leaves = st.one_of(names.map(ast.Name), literals)


def _extend(children: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
    lists = st.lists(children, max_size=3).map(lambda xs: ast.ListExpr(tuple(xs)))
    args = st.one_of(children, st.builds(ast.Filtered, names.map(ast.Name), children))
    return st.one_of(
        st.builds(ast.Neg, children),
        st.builds(ast.Arith, st.sampled_from(["+", "-", "*", "/"]), children, children),
        st.builds(ast.Compare, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), children, children),
        st.builds(ast.Between, children, children, children),
        st.builds(ast.In, children, lists, st.booleans()),
        st.builds(
            ast.BoolOp,
            st.sampled_from(["and", "or"]),
            st.lists(children, min_size=2, max_size=4).map(tuple),
        ),
        st.builds(ast.Not, children),
        st.builds(ast.Call, names, st.lists(args, max_size=3).map(tuple)),
        lists,
    )


trees = st.recursive(leaves, _extend, max_leaves=25)


@settings(max_examples=400, deadline=None)
@given(trees)
def test_print_then_parse_round_trips(tree: ast.Expr) -> None:
    text = to_text(tree)
    assert parse(text) == tree, text
    assert to_text(parse(text)) == text  # printing is canonical


# texts spelled from trees with random spacing, redundant parentheses and non-canonical numbers and quotes;
# a `loose` spelling sometimes leaves out the parentheses around a compound child, so it may parse to another
# tree (or not at all); a strict spelling always keeps them, so it must parse back to its tree

_SPACE = st.sampled_from([" ", "  ", "\n  ", "\t"])
_ATOMIC = (ast.Name, ast.Literal, ast.ListExpr, ast.Call)


@st.composite
def spelled(draw: st.DrawFn, node: ast.Expr, loose: bool) -> str:
    def sp() -> str:
        return draw(_SPACE)

    def sub(n: ast.Expr) -> str:
        return draw(spelled(n, loose))

    def child(n: ast.Expr) -> str:
        text = sub(n)
        roll = draw(st.integers(0, 9))
        # atoms: redundant parentheses now and then; compound children: parenthesised unless loose says no
        wrap = roll == 0 if isinstance(n, _ATOMIC) else (not loose or roll > 0)
        return f"({sp()}{text}{sp()})" if wrap else text

    match node:
        case ast.Literal(value=bool() as v):
            return "true" if v else "false"
        case ast.Literal(value=Decimal() as v, percent=True):
            digits = format(v * 100, "f")
            return digits + ("0" if "." in digits and draw(st.booleans()) else "") + "%"
        case ast.Literal(value=Decimal() as v):
            return draw(st.sampled_from(["", "0", "00"])) + format(v, "f")
        case ast.Literal(value=str() as s):
            if '"' in s:
                return f"'{s}'"
            return f'"{s}"' if "'" in s else draw(st.sampled_from([f"'{s}'", f'"{s}"']))
        case ast.Name(name=n):
            return n
        case ast.ListExpr(items=items):
            return "[" + ",".join(sp() + sub(i) for i in items) + "]"
        case ast.Neg(operand=o):
            return "-" + child(o)
        case ast.Arith(op=op, left=x, right=y) | ast.Compare(op=op, left=x, right=y):
            return f"{child(x)}{sp()}{op}{sp()}{child(y)}"
        case ast.Between(operand=x, low=lo, high=hi):
            return f"{child(x)}{sp()}between{sp()}{child(lo)}{sp()}and{sp()}{child(hi)}"
        case ast.In(operand=x, items=items, negated=neg):
            word = f"not{sp()}in" if neg else "in"
            return f"{child(x)}{sp()}{word}{sp()}{sub(items)}"
        case ast.BoolOp(op=op, operands=ops):
            return f"{sp()}{op}{sp()}".join(child(o) for o in ops)
        case ast.Not(operand=o):
            return f"not{sp()}{child(o)}"
        case ast.Filtered(collection=coll, condition=cond):
            return f"{coll.name}{sp()}where{sp()}{sub(cond)}"
        case ast.Call(name=n, args=args):
            return f"{n}(" + ",".join(sp() + sub(x) for x in args) + ")"
    raise AssertionError(node)


@settings(max_examples=400, deadline=None)
@given(trees.flatmap(lambda t: spelled(t, loose=True)))
def test_parse_print_parse_is_stable(text: str) -> None:
    try:
        first = parse(text)
    except ExprSyntaxError:
        assume(False)
        raise
    assert parse(to_text(first)) == first
    assert to_text(parse(to_text(first))) == to_text(first)


@settings(max_examples=300, deadline=None)
@given(trees.flatmap(lambda t: st.tuples(st.just(t), spelled(t, loose=False))))
def test_parenthesised_spelling_parses_to_its_tree(pair: tuple[ast.Expr, str]) -> None:
    tree, text = pair
    assert parse(text) == tree, text

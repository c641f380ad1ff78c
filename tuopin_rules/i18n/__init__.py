"""Chinese and English phrases and value formatting for explanations.

Numbers print exactly as a person writes them (``3,650``, ``5,230.5``), percentages from their
fraction (0.026 → ``2.6%``), booleans as 是/否 or yes/no, codes as their label.

>>> from decimal import ROUND_HALF_UP, Decimal
>>> fmt_number(Decimal("3650.0"))
'3,650'
>>> fmt_percent(Decimal("0.026"))
'2.6%'
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = [
    "COMPARE_FAIL",
    "COMPARE_PASS",
    "DATE_FAIL",
    "DATE_PASS",
    "FUNCTION_NAMES",
    "PHRASES",
    "fmt_number",
    "fmt_percent",
    "phrase",
]

#: how a comparison that did not hold is worded: op -> (zh, en)
COMPARE_FAIL: dict[str, tuple[str, str]] = {
    ">": ("未超过", "is not above"),
    ">=": ("低于", "is below"),
    "<": ("未低于", "is not below"),
    "<=": ("高于", "is above"),
    "==": ("不等于", "is not"),
    "!=": ("等于", "equals"),
}

#: how a comparison that held is worded
COMPARE_PASS: dict[str, tuple[str, str]] = {
    ">": ("超过", "is above"),
    ">=": ("不低于", "is not below"),
    "<": ("低于", "is below"),
    "<=": ("不高于", "is not above"),
    "==": ("等于", "equals"),
    "!=": ("不等于", "is not"),
}

#: function names as shown in reasons: name -> (zh, en)
FUNCTION_NAMES: dict[str, tuple[str, str]] = {
    "age": ("年龄", "age"),
    "is_blank": ("为空", "is_blank"),
    "coalesce": ("首个已知值", "coalesce"),
    "abs": ("绝对值", "abs"),
    "round": ("四舍五入", "round"),
    "year": ("年份", "year"),
    "length": ("长度", "length"),
    "id_number_valid": ("证件号码有效", "id_number_valid"),
    "date": ("日期", "date"),
    "months_between": ("相隔月数", "months_between"),
    "days_between": ("相隔天数", "days_between"),
    "start_of_year": ("年初", "start_of_year"),
    "end_of_year": ("年末", "end_of_year"),
    "start_of_month": ("月初", "start_of_month"),
    "end_of_month": ("月末", "end_of_month"),
    "matches": ("符合格式", "matches"),
    "starts_with": ("开头为", "starts_with"),
    "ends_with": ("结尾为", "ends_with"),
    "unique": ("不重复", "unique"),
}

#: comparisons of dates that did not hold / held
DATE_FAIL: dict[str, tuple[str, str]] = {
    ">": ("不晚于", "is not after"),
    ">=": ("早于", "is before"),
    "<": ("不早于", "is not before"),
    "<=": ("晚于", "is after"),
}
DATE_PASS: dict[str, tuple[str, str]] = {
    ">": ("晚于", "is after"),
    ">=": ("不早于", "is not before"),
    "<": ("早于", "is before"),
    "<=": ("不晚于", "is not after"),
}

PHRASES: dict[str, tuple[str, str]] = {
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "missing": ("（空）", "(missing)"),
    "sep": ("；", "; "),
    "unknown": ("缺少{names}，无法判断", "missing {names}; cannot decide"),
    "unknown_generic": ("数据不足，无法判断", "not enough data to decide"),
    "not_applicable": ("不适用：{why}", "not applicable: {why}"),
    "none_of": ("以下条件均不满足：{items}", "none of these holds: {items}"),
    "no_child": ("没有{child}满足：{cond}", "no {child} meets: {cond}"),
    "all_children": ("全部 {n} 名{child}均满足：{cond}", "all {n} {child} records meet: {cond}"),
    "child_item": ("{child} {id}：{why}", "{child} {id}: {why}"),
    "more_children": ("等共 {n} 个", "and others, {n} in all"),
    "between_fail": ("{label} {value}，不在 {low} 至 {high} 之间", "{label} {value} is not between {low} and {high}"),
    "between_pass": ("{label} {value}，在 {low} 至 {high} 之间", "{label} {value} is between {low} and {high}"),
    "in_fail": ("{label}为{value}，不在 {items} 之中", "{label} is {value}, not one of {items}"),
    "in_pass": ("{label}为{value}", "{label} is {value}"),
    "not_in_fail": ("{label}为{value}", "{label} is {value}"),
    "bool": ("{label}：{value}", "{label}: {value}"),
    "holds": ("{text} 成立", "{text} holds"),
    "fails": ("{text} 不成立", "{text} does not hold"),
    "division_by_zero": ("除数为零", "division by zero"),
    "gap_increase": (
        "{label}须{word} {target}，还差 {amount}",
        "{label} must be {word_en} {target}; short by {amount}",
    ),
    "gap_at_bound": (
        "{label}须{word} {target}，目前恰好等于该值",
        "{label} must be {word_en} {target}; it is exactly at it",
    ),
    "unknown_division": ("除数为零，无法计算", "division by zero; cannot compute"),
    "gap_decrease": ("{label}须{word} {target}，超出 {amount}", "{label} must be {word_en} {target}; over by {amount}"),
    "unverified": ("（未核实）", " (unverified)"),
    "blank": ("{label}为空", "{label} is blank"),
    "not_blank": ("{label}不为空", "{label} is not blank"),
    "duplicate": ("{label} {value} 重复，另见：{others}", "{label} {value} is not unique; also in {others}"),
    "unverified_note": ("（{names}为未核实的数值）", " ({names}: an unverified value)"),
    "param_year": ("{year} 年{label}", "the {year} {label}"),
    "derived_from": ("由标准计算：{text}", "derived by the standard: {text}"),
    "bad_cell": ("{column} 的值 {raw!r} 无法读取（{where}）", "the value {raw!r} of {column} cannot be read ({where})"),
    "no_collection": ("无{child}数据", "no {child} data"),
    "collection_data": ("{child}数据", "{child} records"),
}


def phrase(key: str, lang: str, **kwargs: Any) -> str:
    """The phrase ``key`` in ``lang``, formatted with ``kwargs``."""
    zh, en = PHRASES[key]
    return (en if lang == "en" else zh).format(**kwargs)


DISPLAY_PLACES = 4  # a value with more decimal places than this is rounded (half up) to 2 for display


def fmt_number(value: Decimal) -> str:
    """A decimal with thousands separators and no trailing zeros, exact up to four decimal places.

    Longer fractions (a ratio such as 11/1230) are rounded half up to two places for display only;
    the exact value stays in the evidence.

    >>> fmt_number(Decimal("0.89430894308943089430894308943"))
    '0.89'
    """
    if value == value.to_integral_value():
        return f"{value.quantize(Decimal(1)):,}"
    value = value.normalize()
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > DISPLAY_PLACES:
        value = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize()
    return f"{value:,f}"


def fmt_percent(value: Decimal) -> str:
    """A fraction as a percentage: 0.026 -> ``2.6%``."""
    return fmt_number(value * 100) + "%"


def fmt_plain(value: Any, lang: str) -> str:
    """A value without field knowledge: booleans, decimals, dates, text."""
    if value is None:
        return phrase("missing", lang)
    if isinstance(value, bool):
        return phrase("yes" if value else "no", lang)
    if isinstance(value, Decimal):
        return fmt_number(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)

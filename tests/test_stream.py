"""Stream mode (evaluate_stream, check --stream): the same verdicts, issues and accounting as the
in-memory path, in chunks and hash partitions."""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner

from tests.conftest import DEMO, inline_standard
from tuopin_rules import Engine, Standard, load_standard
from tuopin_rules.cli import main
from tuopin_rules.entities.schema import base_schema
from tuopin_rules.errors import DataFileError, EvaluationError
from tuopin_rules.evaluate.frames import kind_of
from tuopin_rules.evaluate.stream import evaluate_stream
from tuopin_rules.intake.column_values import Layout, _typed, convert_column, not_records, stored_cell
from tuopin_rules.intake.tables import _not_a_record, read_dataset
from tuopin_rules.intake.values import CellError, convert

HH = "户编号,户主姓名,家庭人口数,脱贫状态,人均纯收入,是否不愁吃,是否不愁穿,危房级别,是否解决安全饮用水"
MM = (
    "户编号,人编号,姓名,证件号码,与户主关系,是否参加城乡居民基本医疗保险,是否参加城镇职工基本医疗保险,"
    "是否义务教育阶段适龄儿童少年失学辍学"
)
ID = "410522197001015831"


def frame_of(out: Path, kind: str) -> pl.DataFrame:
    rows = pl.read_parquet(out) if out.suffix == ".parquet" else pl.read_ndjson(out, infer_schema_length=None)
    return rows.filter(pl.col("kind") == kind)


def same_verdicts(standard: Standard, data: list[str], out: Path, kinds: list[str]) -> None:
    """The stream output's outcome and reason columns equal ``evaluate_batch`` on the dataset read whole."""
    expected = Engine(standard).evaluate_batch(read_dataset(standard.schema, data), 2020, entities=kinds).frames
    for kind in kinds:
        cols = [c for c in expected[kind].columns if c != "row"]
        want = expected[kind].select(cols).sort("id")
        got = frame_of(out, kind).select(cols).sort("id")
        assert got.equals(want), kind


def key(issue: Any) -> tuple[Any, ...]:
    return (issue.code, issue.file, issue.row, issue.column, issue.raw, issue.message, issue.entity, issue.entity_id)


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Households and members with every kind of fault the record reader reports."""
    folder = tmp_path_factory.mktemp("messy")
    rows = [
        "建档立卡贫困户信息表,,,,,,,,,,",
        HH + ",,",
        "H001,张三,2,已脱贫,5000,是,是,A级,是,,",
        "H002,李四,1,已脱贫(享受政策),三千,是,是,B,是,,",
        "H003,王五,1,1,５２３０.５,是,是,C级,是,,",
        "",
        'H004,"赵\n六",1,已脱贫,"4,100元",是,否,A,是,,',
        "H005,钱七,1,已脱贫,3000,是,是,A,是",
        "合计,,,,,,,,,,",
        HH + ",,",
        "H006,孙八,1,已脱贫,4500,是,是",
        ",周九,1,已脱贫,4500,是,是,A,是,,",
        "H001,重复,1,已脱贫,4500,是,是,A,是,,",
        "H007,吴十,3,已脱贫,4000.01,是,是,A,是,,x",
        "H008, 郑一 ,1,已脱贫,4000,Y,是,Ｄ级,是,,",
        "H009,冯二,1,未脱贫,-,是,是,A,#N/A,,",
        "H010,陈三,,已脱贫,1e4,是,是,A,是,,",
        "   ,,,,,,,,,,",
        "H011,褚四,1,已脱贫,4000.000000000001,是,是,A,是,,",
        "H014,韩五,3,已脱贫,4500,是,是,A,是,,",
    ]
    (folder / "hh1.csv").write_text("\r\n".join(rows) + "\r\n", encoding="utf-8-sig")
    more = [
        HH,
        "H003,王五复,1,已脱贫,6000,是,是,A,是",
        "H012,卫五,2,已脱贫,7000,是,是,B级,是",
        "H013,蒋六,1,4,8000,否,是,A,无",
    ]
    (folder / "hh2.csv").write_bytes(("\n".join(more) + "\n").encode("gb18030"))
    members = [
        MM,
        f"H001,P0011,张三,{ID},户主,是,否,",
        "H001,P0012,张小,410522201001015831,子女,是,否,是",
        f"H002,P0021,李四,{ID},户主,是,否,",
        f"H003,P0031,王五,{ID},户主,不知道,否,",
        f"H004,P0041,赵六,{ID},户主,是,否,",
        f"H099,P0991,孤儿,{ID},户主,是,否,",
        f"H005,P0011,重号,{ID},户主,是,否,",
        f"H006,,无号,{ID},户主,是,否,",
        f",P0071,无户,{ID},户主,是,否,",
        f"H007,P0071,吴十,{ID},户主,是,否,",
        f"H008,P0081,郑一,{ID},户主,是,是,",
        f"H009,P0091,冯二,{ID},户主,是,否,",
        f"H010,P0101,陈三,{ID},户主,是,否,",
        f"H012,P0121,卫五,{ID},户主,是,否,",
        "H012,P0122,卫小,4105222012010158X1,子女,是,否,否",
        f"H014,P0141,韩五,{ID},户主,是,否,",
    ]
    (folder / "members.csv").write_text("\n".join(members) + "\n", encoding="utf-8")
    lines = [
        {
            "户编号": "H013",
            "人编号": "P0131",
            "证件号码": ID,
            "与户主关系": "户主",
            "是否参加城乡居民基本医疗保险": True,
        },
        "not json",
        "",
        {"户编号": "H011", "人编号": "P0111", "证件号码": ID, "是否参加城镇职工基本医疗保险": [1]},
        {"户编号": "H011", "人编号": "P0011", "证件号码": ID},
        [1, 2],
    ]
    text = "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
    (folder / "members2.jsonl").write_text(text + "\n", encoding="utf-8")
    pl.DataFrame(
        {
            "户编号": [101, 102, 103],
            "脱贫状态": ["已脱贫", "已脱贫", None],
            "人均纯收入": [5000.5, 3000.0, 4500.25],
            "家庭人口数": [1, 1, 2],
            "是否不愁吃": [True, False, None],
        }
    ).write_parquet(folder / "hh3.parquet")
    return folder


@pytest.mark.parametrize("k, chunk_rows", [(1, 100_000), (3, 2), (7, 5)])
def test_messy_data_give_the_in_memory_verdicts_issues_and_accounting(
    messy: Path, tmp_path: Path, k: int, chunk_rows: int
) -> None:
    standard = load_standard("data-quality")
    out = tmp_path / "rows.jsonl"
    got = evaluate_stream(standard, [str(messy)], 2020, str(out), chunk_rows=chunk_rows, partitions=k)
    assert got.partitions == k
    same_verdicts(standard, [str(messy)], out, ["household", "member"])
    whole = read_dataset(standard.schema, [str(messy)])
    assert sorted(map(key, got.issues)) == sorted(map(key, whole.issues))
    assert got.issue_count == len(whole.issues)

    def lines(accounts: list[Any]) -> set[tuple[Any, ...]]:
        return {(a.file, a.entity, a.encoding, a.header_row, a.rows_read, a.records, a.rejected) for a in accounts}

    assert lines(got.accounts) == lines(whole.accounts)
    assert all(a.balanced for a in got.accounts)


def test_the_messy_data_hold_each_fault(messy: Path) -> None:
    got = evaluate_stream(load_standard("cn-national"), [str(messy)], 2020)
    codes = {i.code for i in got.issues}
    assert codes >= {
        "bad-value",
        "bad-row",
        "missing-id",
        "duplicate-id",
        "orphan-link",
        "no-members",
        "member-count",
        "unlinked-children",
        "code-as-number",
    }
    bad = next(i for i in got.issues if i.raw == "三千")
    assert bad.render().startswith(f"{messy / 'hh1.csv'}:4:人均纯收入: data-error[bad-value]")
    cross = next(i for i in got.issues if i.code == "duplicate-id" and i.entity == "household" and i.row == 2)
    assert cross.message == f"household H003 already appears in {messy / 'hh1.csv'}:5"
    orphan = next(i for i in got.issues if i.entity_id == "P0991")
    assert orphan.message == "member P0991 points to household 'H099', which is not in the data"


def test_the_demo_county_streams_to_the_same_household_frame(tmp_path: Path) -> None:
    standard = load_standard("cn-national")
    out = tmp_path / "rows.parquet"
    got = evaluate_stream(standard, [str(DEMO)], 2020, str(out))
    same_verdicts(standard, [str(DEMO)], out, ["household"])
    assert got.not_evaluated == ["village", "county"]
    assert [i.code for i in got.issues] == ["skipped-file"]  # the village file, a notice
    assert got.error_count == 0
    assert not (tmp_path / "rows.parquet.partial").exists()


def test_small_chunks_and_many_partitions_change_nothing(tmp_path: Path) -> None:
    standard = load_standard("cn-national")
    one, many = tmp_path / "one.jsonl", tmp_path / "many.jsonl"
    a = evaluate_stream(standard, [str(DEMO)], 2020, str(one), partitions=1)
    b = evaluate_stream(standard, [str(DEMO)], 2020, str(many), partitions=5, chunk_rows=37)
    assert frame_of(one, "household").sort("id").equals(frame_of(many, "household").sort("id"))
    assert (a.outcomes, a.rule_fails, a.rule_unknown) == (b.outcomes, b.rule_fails, b.rule_unknown)
    assert list(a.rule_fails) == list(b.rule_fails)  # the same first-seen order


def test_encodings_parquet_and_json_lines(tmp_path: Path) -> None:
    standard = load_standard("cn-national")
    hh = [HH, "0012,甲,1,已脱贫,5000,是,是,A,是", "0013,乙,1,已脱贫,3000,是,是,A,是"]
    (tmp_path / "hh.csv").write_bytes(("\n".join(hh) + "\n").encode("gb18030"))
    members = pl.DataFrame(
        {"户编号": ["0012", "0013"], "人编号": ["a", "b"], "是否参加城乡居民基本医疗保险": [True, False]}
    )
    members.write_parquet(tmp_path / "m.parquet")
    (tmp_path / "m2.jsonl").write_text(
        json.dumps({"户编号": "0012", "人编号": "c", "证件号码": ID}, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    out = tmp_path / "rows.parquet"
    got = evaluate_stream(standard, [str(tmp_path / p) for p in ("hh.csv", "m.parquet", "m2.jsonl")], 2020, str(out))
    assert {a.encoding for a in got.accounts} == {"gb18030", None, "utf-8"}
    assert [(a.rows_read, a.records) for a in got.accounts] == [(2, 2), (2, 2), (1, 1)]
    same_verdicts(standard, [str(tmp_path / p) for p in ("hh.csv", "m.parquet", "m2.jsonl")], out, ["household"])
    assert set(frame_of(out, "household")["id"]) == {"0012", "0013"}


def test_rows_the_vector_scheme_leaves_are_evaluated_by_the_scalar_engine(tmp_path: Path) -> None:
    standard = inline_standard(
        """
        rules:
          - id: household.twice
            entity: household
            title: {zh: 两倍}
            require: per_capita_net_income + per_capita_net_income > 8000.00000000001
            source: doc
        """
    )
    (tmp_path / "hh.csv").write_text(
        "户编号,人均纯收入\na,4000.000000000005\nb,4000.000000000006\nc,4000\n", encoding="utf-8"
    )
    out = tmp_path / "rows.jsonl"
    got = evaluate_stream(standard, [str(tmp_path)], 2020, str(out), partitions=2)
    assert got.scalar_rows == 2
    same_verdicts(standard, [str(tmp_path)], out, ["household"])
    assert dict(frame_of(out, "household").select("id", "household.twice").iter_rows()) == {
        "a": "FAIL",
        "b": "PASS",
        "c": "FAIL",
    }


def test_village_rules_and_rules_beyond_a_household_are_refused(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match=r"(?i)run without --stream"):
        evaluate_stream(load_standard("cn-national"), [str(DEMO)], 2020, entities=["village"])
    standard = inline_standard(
        """
        rules:
          - id: household.region
            entity: household
            title: {zh: 区域}
            require: village.region == "中部"
            source: doc
          - id: household.unique_head
            entity: household
            title: {zh: 户主证件号码不重复}
            require: unique(head_id_number)
            source: doc
        """
    )
    with pytest.raises(EvaluationError) as err:
        evaluate_stream(standard, [str(DEMO)], 2020)
    assert "household.region (village.region reads a village record)" in str(err.value)
    assert "household.unique_head (unique()" in str(err.value)
    with pytest.raises(DataFileError, match="village data are not read in stream mode"):
        evaluate_stream(load_standard("cn-national"), [str(DEMO / "行政村信息.csv")], 2020)
    with pytest.raises(DataFileError, match="needs the household data"):
        evaluate_stream(load_standard("cn-national"), [str(DEMO / "家庭成员信息.csv")], 2020)


def test_unreadable_files_are_errors_and_leave_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    late = ("户编号,人均纯收入\n" + "0012,5000\n" * 300_000).encode("utf-8") + "0013,三千\n".encode("gb18030")
    (data / "late.csv").write_bytes(late)  # the encoding changes after the first megabytes
    with pytest.raises(DataFileError, match="not all UTF-8"):
        evaluate_stream(load_standard("cn-national"), [str(data / "late.csv")], 2020, str(tmp_path / "v.jsonl"))
    (data / "array.json").write_text('[{"户编号": "0012"}]', encoding="utf-8")
    with pytest.raises(DataFileError, match="JSON Lines"):
        evaluate_stream(load_standard("cn-national"), [str(data / "array.json")], 2020)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_no_partial_file_is_left_when_a_run_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tuopin_rules.evaluate import partitions

    def boom(self: Any, p: int) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(partitions.PartitionEvaluator, "evaluate", boom)
    for name in ("rows.parquet", "rows.jsonl"):
        with pytest.raises(RuntimeError):
            evaluate_stream(load_standard("cn-national"), [str(DEMO)], 2020, str(tmp_path / name))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DataFileError, match=r"\.parquet, \.jsonl or \.ndjson"):
        evaluate_stream(load_standard("cn-national"), [str(DEMO)], 2020, str(tmp_path / "rows.csv"))


def test_check_stream_prints_checks_summary_and_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["check", "-s", "cn-national", "--as-of", "2020", str(DEMO)]
    whole = runner.invoke(main, args)
    streamed = runner.invoke(main, [*args, "--stream", "--out", str(tmp_path / "v.parquet")])
    assert streamed.exit_code == 0, streamed.output
    assert streamed.output.splitlines()[:2] == whole.output.splitlines()[:2]  # standard, households
    assert "household.income" in streamed.output and "核对" in streamed.output
    assert "流式评估：未评估村、县规则" in streamed.output
    assert runner.invoke(main, [*args, "--stream", "--fail-on-fail"]).exit_code == 1
    assert runner.invoke(main, [*args, "--stream", "--strict"]).exit_code == 0  # the skipped file is a notice
    data = json.loads(runner.invoke(main, [*args, "--stream", "--format", "json"]).output)
    assert data["outcomes"]["household.FAIL"] == 8 and data["stream"]["not_evaluated"] == ["village", "county"]
    refused = runner.invoke(main, [*args, "--stream", "--entity", "village"])
    assert refused.exit_code == 2 and "Run without --stream" in refused.output


# ---- the pieces: cell conversion and rows that are not records ---------------------------------------


def test_the_fast_paths_read_cells_as_convert_does() -> None:
    rng = random.Random(5)
    alphabet = "0123456789.-+%, 元是否年月日/ １２．％abT#N/A\u3000"
    samples = ["#N/A", "#div/0!", "", " ", "-", "—", "null", "NONE", "0", "12", "0012", "-3.5", "+7", "1,234"]
    samples += [
        "４１００",
        "4,100元",
        "3人",
        "2%",
        "２％",
        "是",
        "Y",
        " 是",
        "√",
        "2019-12-31",
        "2019-02-30",
        "2019年12月",
    ]
    samples += ["已脱贫", "已脱贫（享受政策）", "C级", "李·明", " 前庄村 ", "ｔｏｔａｌ", "41052219881009583X", "1e5"]
    samples += ["1234567890123456", "0.00000000001", "999999999999999", "1000000000000000", "12.", ".5"]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8))) for _ in range(400)]
    samples += [f"{rng.randint(-(10**16), 10**16)}.{rng.randint(0, 10**12)}"[: rng.randint(1, 30)] for _ in range(300)]
    typed = [
        pl.Series([0, 5, -3, 10**15, 2019, None, 43830], dtype=pl.Int64),
        pl.Series([0.1, 2.5, 1e16, None, float("nan"), 43830.0]),
        pl.Series([Decimal("1.25"), Decimal("3"), None], dtype=pl.Decimal(10, 2)),
        pl.Series([True, False, None]),
        pl.Series([dt.date(2019, 1, 1), None]),
    ]
    fields = [f for e in base_schema().entities.values() for f in e.fields.values()]
    for series in [pl.Series(samples, dtype=pl.String), *typed]:
        for fdef in fields:
            got = convert_column(fdef, series)
            for i, raw in enumerate(series.to_list()):
                try:
                    want = (*_typed(kind_of(fdef.type), convert(fdef, stored_cell(raw))), None, None)
                except CellError as exc:
                    want = (None, None, exc.code, str(exc))
                assert (got.value[i], got.exact[i], got.code[i], got.message[i]) == want, (fdef.name, raw)


def test_rows_that_are_not_records_are_found_as_the_record_reader_finds_them() -> None:
    headers = ["户编号", "人均纯收入", "脱贫状态", "行政村", "危房级别"]
    rows = [
        ["合计", "", "", "", ""],
        ["1", "合　计", "", "", ""],
        ["⼩计（2户）", "", "", "", ""],
        ["", "", "", "ＴＯＴＡＬ", "x"],
        [" total", "3", "", "", ""],
        ["0012", "3000", "脱贫状态合计", "前庄村", "A"],
        ["甲", "乙", "1", "2", "3"],
        ["1", "2", "3", "4", "5"],
        ["1", "2", "3", "", "5"],
        ["１", "２", "３", "４", ""],
        ["户编号", "人均纯收入", "", "", ""],
        ["户编号", "3000", "脱贫状态 ", "x", "y"],
        ["0013", "3000", "已脱贫", "示范县行政村", "A"],
        ["", "", "", "", ""],
    ]
    frame = pl.DataFrame({f"c{i}": [r[i] for r in rows] for i in range(len(headers))})
    ent = base_schema().entities["household"]
    got = not_records(frame, Layout(ent, headers)).to_list()
    want = [_not_a_record(dict(zip(headers, r, strict=True)), len(headers)) for r in rows]
    assert got == want
    assert sum(p is not None for p in want) >= 8


def test_stream_without_polars_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import tuopin_rules.cli as cli

    monkeypatch.setattr(cli, "have_polars", lambda: False)
    result = CliRunner().invoke(main, ["check", "--stream", "-s", "cn-national", "--as-of", "2020", str(DEMO)])
    assert result.exit_code == 2 and "--stream needs polars and pyarrow" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_parquet_list_struct_and_duration_columns_read_as_the_record_reader_reads_them(tmp_path: Path) -> None:
    """A List or Duration column, even one no rule reads, crashed stream mode (cannot cast List to String)."""
    standard = load_standard("cn-national")
    pl.DataFrame(
        {
            "户编号": ["0012", "0013"],
            "脱贫状态": ["已脱贫", "已脱贫"],
            "人均纯收入": [["5000"], None],  # a list where a number belongs: unreadable, as in memory
            "标签": [{"a": 1}, {"a": 2}],
            "用时": [dt.timedelta(days=1), None],
        }
    ).write_parquet(tmp_path / "hh.parquet")
    out = tmp_path / "rows.jsonl"
    got = evaluate_stream(standard, [str(tmp_path / "hh.parquet")], 2020, str(out))
    memory = read_dataset(standard.schema, [str(tmp_path / "hh.parquet")])
    assert [(i.code, i.raw) for i in got.issues if i.code == "bad-value"] == [("bad-value", "['5000']")]
    assert [(i.code, i.raw) for i in memory.issues if i.code == "bad-value"] == [("bad-value", "['5000']")]
    same_verdicts(standard, [str(tmp_path / "hh.parquet")], out, ["household"])


def test_a_field_whose_every_cell_is_unreadable_is_unreadable_not_missing(tmp_path: Path) -> None:
    """With no readable income at all, stream mode said missing:… where the record reader says unreadable:…."""
    standard = load_standard("cn-national")
    (tmp_path / "hh.csv").write_text("户编号,脱贫状态,人均纯收入\n0012,已脱贫,三千\n0013,已脱贫,\n", encoding="utf-8")
    out = tmp_path / "rows.jsonl"
    evaluate_stream(standard, [str(tmp_path / "hh.csv")], 2020, str(out))
    same_verdicts(standard, [str(tmp_path / "hh.csv")], out, ["household"])
    reasons = dict(frame_of(out, "household").select("id", "household.income:reason").iter_rows())
    assert reasons == {"0012": "unreadable:per_capita_net_income", "0013": "missing:per_capita_net_income"}


def _explained(standard: Standard, dataset: Any, kind: str, ident: str) -> str:
    record = dataset.find(kind, ident)
    assert record is not None, (kind, ident)
    issues = [i for i in dataset.issues if i.entity == kind and i.entity_id == ident]
    return Engine(standard).evaluate_record(record, 2020, issues).to_json()


@pytest.mark.parametrize("folder", ["demo", "messy"])
def test_picking_one_record_explains_it_as_a_whole_read_does(folder: str, messy: Path) -> None:
    """explain --stream scans for a household or village and what it needs: same verdict, same issues."""
    from tuopin_rules.intake.pick import pick_dataset

    standard = load_standard("cn-national")
    data = [str(DEMO if folder == "demo" else messy)]
    whole = read_dataset(standard.schema, data)
    households = [r.id for r in whole.tables["household"] if r.id][:: 1 if folder == "messy" else 15]
    villages = [r.id for r in whole.tables.get("village", []) if r.id]
    for kind, ids in (("household", households), ("village", villages)):
        for ident in ids:
            picked = pick_dataset(standard.schema, data, kind, ident)
            assert _explained(standard, picked, kind, ident) == _explained(standard, whole, kind, ident), ident


def test_explain_stream_cli() -> None:
    args = ["explain", "-s", "cn-national", "--as-of", "2020", str(DEMO), "--id", "410522103202"]
    whole = CliRunner().invoke(main, args)
    streamed = CliRunner().invoke(main, [*args, "--stream"])
    assert streamed.exit_code == 0 and streamed.output == whole.output
    missing = CliRunner().invoke(main, [*args[:-1], "0000", "--stream"])
    assert missing.exit_code == 2 and "no household or village with id '0000'" in missing.output


def test_explain_stream_refuses_unique() -> None:
    fixture = Path(__file__).parent / "fixtures" / "monitoring"
    args = ["explain", "--stream", "-s", str(fixture / "dq-monitoring.yaml"), "--as-of", "2020", str(fixture)]
    result = CliRunner().invoke(main, [*args, "--id", "x"])
    assert result.exit_code == 2 and "unique() compares each record with all others" in result.output


VILLAGES = "县,乡(镇),行政村,村编号,区域,总户数,总人口数\n示范县,甲镇,前庄村,030303,中部,100,100\n"


@pytest.mark.parametrize(
    "households",
    [
        "乡(镇),行政村,村编号,户编号,家庭人口数,脱贫状态\n甲镇,前庄村,,0001,1,已脱贫\n甲镇,,030303,0002,5,未脱贫\n",
        "乡(镇),行政村,户编号,家庭人口数,脱贫状态\n甲镇,030303,0001,1,已脱贫\n甲镇,前庄村,0002,5,未脱贫\n",
        "乡(镇),村编号,户编号,家庭人口数,脱贫状态\n甲镇,前庄村,0001,1,已脱贫\n甲镇,030303,0002,5,未脱贫\n",
        "乡(镇),行政村,户编号,家庭人口数,脱贫状态\n甲镇,前庄村,0001,1,已脱贫\n甲镇,前庄,0002,5,未脱贫\n",
    ],
    ids=["code-or-name", "code-in-name-column", "name-in-code-column", "unmatched-name"],
)
def test_picking_follows_every_way_a_household_names_its_village(tmp_path: Path, households: str) -> None:
    """Households naming their village by code or name, in either column, or by a name that matches
    nothing (it may belong here: UNKNOWN) — a village once PASSed in stream mode that FAILs read whole."""
    from tuopin_rules.intake.pick import pick_dataset

    (tmp_path / "villages.csv").write_text(VILLAGES, encoding="utf-8")
    (tmp_path / "households.csv").write_text(households, encoding="utf-8")
    standard = inline_standard(
        """
        rules:
          - id: household.village_incidence
            entity: household
            title: {zh: 所在村贫困发生率低于2%}
            require: village.poverty_incidence < 0.02
            source: doc
        """
    )
    whole = read_dataset(standard.schema, [str(tmp_path)])
    for kind, ident in (("village", "030303"), ("household", "0001")):
        picked = pick_dataset(standard.schema, [str(tmp_path)], kind, ident)
        assert _explained(standard, picked, kind, ident) == _explained(standard, whole, kind, ident), (kind, ident)


def test_picking_reads_float_ids_as_the_record_reader_does(tmp_path: Path) -> None:
    from tuopin_rules.intake.pick import pick_dataset

    standard = load_standard("cn-national")
    pl.DataFrame({"户编号": [1.0, 2.0, None], "脱贫状态": ["已脱贫"] * 3, "人均纯收入": [5000, 3000, 1]}).write_parquet(
        tmp_path / "hh.parquet"
    )
    picked = pick_dataset(standard.schema, [str(tmp_path)], "household", "2")
    whole = read_dataset(standard.schema, [str(tmp_path)])
    assert _explained(standard, picked, "household", "2") == _explained(standard, whole, "household", "2")


def test_explain_stream_refuses_a_folder_it_cannot_read_whole(tmp_path: Path) -> None:
    import shutil

    shutil.copy(DEMO / "贫困户信息.csv", tmp_path)
    (tmp_path / "more.json").write_text('[{"户编号": "9", "脱贫状态": "已脱贫"}]', encoding="utf-8")
    args = ["explain", "--stream", "-s", "cn-national", "--as-of", "2020", str(tmp_path), "--id", "9"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "explain --stream must read every data file" in result.output


def test_stream_check_of_a_kind_with_no_rules_in_force() -> None:
    """check --stream --entity member under cn-national (no member rules) crashed on an empty count."""
    args = ["check", "--stream", "--entity", "member", "-s", "cn-national", "--as-of", "2020", str(DEMO)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0 and "成员 1003: 不适用 1003" in result.output

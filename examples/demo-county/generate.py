"""Generate the demo county (示范县) in the national poverty-registration system's export shape.

Run from the repository root::

    python examples/demo-county/generate.py

Writes three CSV files next to this script: 行政村信息.csv (villages), 贫困户信息.csv (households,
UTF-8 with BOM) and 家庭成员信息.csv (members). Everything is drawn from one seeded generator, so a
re-run gives byte-identical files. A few faults are planted on purpose (README.md lists them; the run
prints them too); every other exited household meets the 2020 exit standard. Stdlib only.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

SEED = 20201231
OUT = Path(__file__).resolve().parent
COUNTY, REGION = "示范县", "410522"
YEAR = 2020  # ages are taken as of 2020-12-31

# township, village, village code, total population, registered households, people not exited, 返贫 households
VILLAGES = [
    ("东岗镇", "前庄村", "410522101201", 1480, 62, 24, 1),
    ("东岗镇", "后庄村", "410522101202", 1360, 55, 18, 0),
    ("白马乡", "白马村", "410522102201", 1450, 58, 21, 1),
    ("白马乡", "李家寨村", "410522102202", 1230, 48, 11, 0),
    ("石桥乡", "石桥村", "410522103201", 1390, 52, 15, 0),
    ("石桥乡", "河湾村", "410522103202", 500, 26, 13, 0),  # 13 / 500 = 2.6%: planted fault
]
VILLAGE_FAULTS = {
    "410522102202": ("是否通客运班车", "否"),
    "410522101202": ("是否有合格村医", "否"),
    "410522103201": ("是否通宽带", ""),
}
# village code (prefix), planted change: household fields to set, or "dropout" / "uninsured" (member faults)
HOUSEHOLD_FAULTS = [
    ("410522101201", {"人均纯收入": "3612.5", "脱贫年度": "2019"}),
    ("410522101202", {"人均纯收入": "3987.4", "脱贫年度": "2019"}),
    ("410522102201", {"人均纯收入": "4000.0"}),
    ("410522103201", {"人均纯收入": "2860", "脱贫年度": "2018"}),
    ("410522102202", {"危房级别": "C级", "是否危房户": "是"}),
    ("", "dropout"),  # any village: school-age children are few
    ("410522101201", "uninsured"),
    ("410522103202", {"是否解决安全饮用水": "否"}),
    ("410522101202", {"人均纯收入": ""}),
    ("410522103201", {"人均纯收入": ""}),
    ("410522102202", {"危房级别": "", "是否危房户": ""}),
]

VILLAGE_COLUMNS = [
    "县",
    "乡(镇)",
    "行政村",
    "村编号",
    "区域",
    "总户数",
    "总人口数",
    "是否通硬化路",
    "是否通客运班车",
    "是否通宽带",
    "是否广播电视户户通",
    "是否有标准化卫生室",
    "是否有合格村医",
    "村集体经济收入",
]
HOUSEHOLD_COLUMNS = [
    "县",
    "乡(镇)",
    "行政村",
    "户编号",
    "户主姓名",
    "户主证件号码",
    "家庭人口数",
    "脱贫状态",
    "脱贫年度",
    "人均纯收入",
    "是否不愁吃",
    "是否不愁穿",
    "是否危房户",
    "危房级别",
    "是否解决安全饮用水",
    "主要致贫原因",
    "联系电话",
]
MEMBER_COLUMNS = [
    "县(市、区、旗)",
    "乡(镇)",
    "行政村",
    "户编号",
    "人编号",
    "姓名",
    "证件号码",
    "与户主关系",
    "民族",
    "文化程度",
    "在校生状况",
    "健康状况",
    "劳动技能",
    "是否参加城乡居民基本医疗保险",
    "是否参加城镇职工基本医疗保险",
    "参加大病医疗",
    "是否义务教育阶段适龄儿童少年失学辍学",
]

SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁宋谢韩唐冯于董程曹袁邓许沈彭吕苏卢蒋蔡贾丁魏"
MALE_NAMES = [
    "建国",
    "国强",
    "志强",
    "建军",
    "永刚",
    "海涛",
    "俊杰",
    "振兴",
    "保全",
    "长春",
    "德胜",
    "文斌",
    "双喜",
    "福贵",
    "卫东",
    "明",
    "伟",
    "强",
    "军",
    "磊",
    "超",
    "鹏",
    "浩",
    "宇",
    "子豪",
    "浩然",
]
FEMALE_NAMES = [
    "秀英",
    "桂兰",
    "玉梅",
    "桂花",
    "丽娟",
    "红霞",
    "秀兰",
    "凤英",
    "春梅",
    "淑珍",
    "慧敏",
    "婷婷",
    "欣怡",
    "佳琳",
    "雪",
    "静",
    "敏",
    "燕",
    "艳",
    "萍",
    "娜",
    "丹",
    "芳",
    "梓涵",
    "雨欣",
]
NAMES = {True: MALE_NAMES, False: FEMALE_NAMES}
PHONE_PREFIXES = [
    "131",
    "132",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "176",
    "177",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
]
GRADES = ["小学"] * 6 + ["七年级", "八年级", "九年级", "高中一年级", "高中二年级", "高中三年级"]
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
Relative = tuple[str, int, bool]  # relation to head, age, male
OTHER_CAUSES = ["缺技术", "缺劳动力", "缺资金", "缺土地", "交通条件落后", "自身发展动力不足", "因灾"]


def check_char(body: str) -> str:
    """Return the GB 11643 MOD 11-2 check character for the first 17 digits of a citizen ID."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


def citizen_id(rng: random.Random, age: int, male: bool, used: set[str]) -> str:
    """Draw an unused 18-character ID: region 410522, a birth date giving ``age`` at year end, sex digit.

    Nobody is born in the last year (an infant counts as born the year before), so the same files can be
    evaluated as of the previous year too without members who did not exist yet.
    """
    while True:
        birth = dt.date(YEAR - max(age, 1), 1, 1) + dt.timedelta(days=rng.randrange(365))
        body = f"{REGION}{birth:%Y%m%d}{rng.randrange(500) * 2 + male:03d}"
        number = body + check_char(body)
        if number not in used:
            used.add(number)
            return number


def person_profile(rng: random.Random, age: int) -> tuple[str, str, str, str]:
    """Return 文化程度, 在校生状况, 健康状况, 劳动技能 drawn to fit ``age``."""
    if age < 6:
        return "学龄前儿童", "学龄前儿童", "健康", "无劳动力"
    if age <= 17:  # every child of school age is in school, except the planted dropout
        school = GRADES[age - 6]
        education = "小学" if school == "小学" else "初中" if school in GRADES[6:9] else "高中"
        return education, school, rng.choices(["健康", "残疾"], [97, 3])[0], "无劳动力"
    if age <= 22 and rng.random() < 0.3:
        return "高中", rng.choice(["高职一年级", "大专及以上"]), "健康", "无劳动力"
    weights = [55, 30, 8, 7] if age >= 60 else [86, 7, 3, 4]
    health = rng.choices(["健康", "长期慢性病", "患有大病", "残疾"], weights)[0]
    levels = ["文盲或半文盲", "小学", "初中", "高中"]
    education = rng.choice(levels[:2] if age >= 65 else levels[1:3] if age >= 45 else levels[1:])
    able = rng.choices(["普通劳动力", "技能劳动力"], [80, 20])[0]
    labour = "丧失劳动力" if health in ("患有大病", "残疾") else "无劳动力" if age >= 65 else able
    return education, "非在校生", health, labour


def next_relative(rng: random.Random, head_age: int, plan: list[Relative]) -> Relative:
    """Pick the next member (relation, age, male) of a household whose head is ``head_age`` years old."""
    relations = [rel for rel, _, _ in plan]
    if head_age <= 50:
        if rng.random() < 0.3:
            for rel, male in (("之父", True), ("之母", False)):
                if rel not in relations:
                    return rel, rng.randint(head_age + 22, min(88, head_age + 30)), male
        male = rng.random() < 0.5
        return ("之子" if male else "之女"), rng.randint(0, min(head_age - 20, 22)), male
    son = next((age for rel, age, _ in plan if rel == "之子"), None)
    if son is None:
        return "之子", rng.randint(22, head_age - 22), True
    if "之儿媳" not in relations:
        return "之儿媳", max(20, son + rng.randint(-3, 2)), False
    male = rng.random() < 0.5
    return ("之孙子" if male else "之孙女"), rng.randint(0, min(17, son - 20)), male


def make_members(rng: random.Random, size: int, code: str, used: set[str]) -> list[dict[str, str]]:
    """Draw the ``size`` member rows of household ``code``, head first."""
    head_age, head_male = rng.randint(30, 75), rng.random() < 0.85
    plan = [("户主", head_age, head_male)]
    if size >= 2 and rng.random() < 0.8:
        plan.append(("配偶", min(85, max(25, head_age + rng.randint(-5, 3))), not head_male))
    while len(plan) < size:
        plan.append(next_relative(rng, head_age, plan))
    family, members = rng.choice(SURNAMES), []
    for number, (relation, age, male) in enumerate(plan, start=1):
        surname = rng.choice(SURNAMES) if relation in ("配偶", "之母", "之儿媳") else family
        taken = {m["姓名"] for m in members}  # no two members of a household share a name
        name = rng.choice([surname + n for n in NAMES[male] if surname + n not in taken])
        education, school, health, labour = person_profile(rng, age)
        members.append(
            {
                "户编号": code,
                "人编号": f"{code}{number:02d}",
                "姓名": name,
                "证件号码": citizen_id(rng, age, male, used),
                "与户主关系": relation,
                "民族": rng.choices(["汉族", "回族"], [96, 4])[0],
                "文化程度": education,
                "在校生状况": school,
                "健康状况": health,
                "劳动技能": labour,
                "是否参加城乡居民基本医疗保险": "是",
                "是否参加城镇职工基本医疗保险": "否",
                "参加大病医疗": "是",
                "是否义务教育阶段适龄儿童少年失学辍学": "否" if 6 <= age <= 16 else "",
                "age": str(age),
            }
        )
    return members


def poverty_cause(rng: random.Random, members: list[dict[str, str]]) -> str:
    """Choose a 主要致贫原因 consistent with the members' health and schooling."""
    health = {m["健康状况"] for m in members}
    if health & {"患有大病", "长期慢性病"} and rng.random() < 0.8:
        return "因病"
    if "残疾" in health:
        return "因残"
    if any(m["在校生状况"].startswith(("高中", "高职", "大专")) for m in members):
        return "因学"
    return rng.choice(OTHER_CAUSES)


def split_people(rng: random.Random, people: int) -> list[int]:
    """Split ``people`` into household sizes (for the households not yet exited)."""
    sizes = []
    while people > 0:
        sizes.append(min(people, rng.choice((1, 2, 2, 3, 3, 4))))
        people -= sizes[-1]
    return sizes


def make_village(rng: random.Random, spec: tuple, used: set[str]) -> tuple[dict[str, str], list[dict]]:
    """Draw one village row and its registered households (each with its member rows)."""
    township, name, code, population, n_households, not_exited, returned = spec
    place = {"县": COUNTY, "乡(镇)": township, "行政村": name}
    village = {
        **place,
        "村编号": code,
        "区域": "中部",
        "总户数": str(population * 10 // 33 + rng.randint(-9, 9)),
        "总人口数": str(population),
        "村集体经济收入": str(rng.randrange(18000, 96000, 100)),
    }
    village |= dict.fromkeys(VILLAGE_COLUMNS[7:13], "是")
    poor = split_people(rng, not_exited)
    n_exited = n_households - len(poor)
    statuses = ["返贫"] * returned + ["未脱贫"] * (len(poor) - returned) + ["已脱贫"] * n_exited
    sizes = poor + [rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 6)) for _ in range(n_exited)]
    order = list(range(n_households))
    rng.shuffle(order)
    households, seq = [], 0
    for i in order:
        seq += rng.choice((1, 1, 1, 2))
        hh_code = f"{code}{seq:04d}"
        members = make_members(rng, sizes[i], hh_code, used)
        exited = statuses[i] == "已脱贫"
        tenths = rng.randint(43000, 130000) if exited else rng.randint(22000, 39000)
        grade = rng.choice("AB")
        households.append(
            {
                **place,
                "户编号": hh_code,
                "户主姓名": members[0]["姓名"],
                "户主证件号码": members[0]["证件号码"],
                "家庭人口数": str(sizes[i]),
                "脱贫状态": statuses[i],
                "脱贫年度": str(rng.choices(range(2016, 2021), [15, 25, 30, 20, 10])[0]) if exited else "",
                "人均纯收入": f"{tenths // 10}.{tenths % 10}" if tenths % 10 else str(tenths // 10),
                "是否不愁吃": "是",
                "是否不愁穿": "是",
                "是否危房户": "否",
                "危房级别": grade + rng.choice(("级", "")),
                "是否解决安全饮用水": "是",
                "主要致贫原因": poverty_cause(rng, members),
                "联系电话": rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}",
                "members": [{**place, "县(市、区、旗)": COUNTY, **m} for m in members],
            }
        )
    households.sort(key=lambda h: h["户编号"])
    return village, households


def plant_household_fault(
    rng: random.Random, households: list[dict], village_code: str, change: dict[str, str] | str, touched: set[str]
) -> str:
    """Apply one planted fault to a clean exited household of the village; return a one-line description."""

    def fits(hh: dict) -> bool:
        if change == "dropout":
            return any(10 <= int(m["age"]) <= 14 for m in hh["members"])
        return change != "uninsured" or any(18 <= int(m["age"]) <= 59 for m in hh["members"][1:])

    candidates = [
        hh
        for hh in households
        if hh["户编号"].startswith(village_code)
        and hh["脱贫状态"] == "已脱贫"
        and hh["户编号"] not in touched
        and fits(hh)
    ]
    hh = rng.choice(candidates)
    touched.add(hh["户编号"])
    if isinstance(change, dict):
        hh.update(change)
        return f"{hh['户编号']}  " + ", ".join(f"{k}={v or '(空)'}" for k, v in change.items())
    if change == "dropout":
        member = rng.choice([m for m in hh["members"] if 10 <= int(m["age"]) <= 14])
        member.update({"在校生状况": "非在校生", "是否义务教育阶段适龄儿童少年失学辍学": "是"})
        return f"{hh['户编号']}  {member['人编号']} 年龄 {member['age']}: 非在校生, 失学辍学=是"
    member = rng.choice([m for m in hh["members"][1:] if 18 <= int(m["age"]) <= 59])
    member.update({"是否参加城乡居民基本医疗保险": "否", "参加大病医疗": "否"})
    return f"{hh['户编号']}  {member['人编号']}: 城乡居民基本医疗保险=否, 参加大病医疗=否"


def write_csv(name: str, columns: list[str], rows: list[dict[str, str]], bom: bool = False) -> None:
    """Write ``rows`` (extra keys ignored) under ``columns`` to ``name`` next to this script."""
    with open(OUT / name, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def self_check(villages: list[dict[str, str]], households: list[dict], members: list[dict[str, str]]) -> None:
    """Assert the invariants the README promises (sizes, check digits, village poverty incidence)."""
    assert all(int(h["家庭人口数"]) == len(h["members"]) for h in households)
    assert all(check_char(m["证件号码"][:17]) == m["证件号码"][17] for m in members)
    assert sum(m["证件号码"].endswith("X") for m in members) >= 3
    for v in villages:
        poor = sum(int(h["家庭人口数"]) for h in households if h["行政村"] == v["行政村"] and h["脱贫状态"] != "已脱贫")
        population = int(v["总人口数"])
        if v["村编号"] == "410522103202":
            assert poor * 1000 == population * 26  # exactly 2.6%
        else:
            assert poor * 50 < population  # below 2%


def main() -> None:
    """Generate the three files and print what was written and which faults were planted."""
    rng, used = random.Random(SEED), set()
    villages, households = [], []
    for spec in VILLAGES:
        village, village_households = make_village(rng, spec, used)
        villages.append(village)
        households += village_households
    faults, touched = [], set()
    for village_code, change in HOUSEHOLD_FAULTS:
        faults.append(plant_household_fault(rng, households, village_code, change, touched))
    for village in villages:
        if village["村编号"] in VILLAGE_FAULTS:
            column, value = VILLAGE_FAULTS[village["村编号"]]
            village[column] = value
            faults.append(f"{village['村编号']}  {village['行政村']} {column}={value or '(空)'}")
    members = [m for h in households for m in h["members"]]
    self_check(villages, households, members)
    write_csv("行政村信息.csv", VILLAGE_COLUMNS, villages)
    write_csv("贫困户信息.csv", HOUSEHOLD_COLUMNS, households, bom=True)
    write_csv("家庭成员信息.csv", MEMBER_COLUMNS, members)
    statuses = [h["脱贫状态"] for h in households]
    print(f"行政村信息.csv    {len(villages)} villages")
    print(
        f"贫困户信息.csv    {len(households)} households ("
        + ", ".join(f"{s} {statuses.count(s)}" for s in ("已脱贫", "未脱贫", "返贫"))
        + ")"
    )
    print(f"家庭成员信息.csv  {len(members)} members")
    print("planted faults:")
    for line in faults:
        print("  " + line)


if __name__ == "__main__":
    main()

"""Making Data Count charts (render/charts.py): valid, accessible SVG whose labels never overlap,
and the judged quantity of a rule (the ratio its condition decides on, not its parts)."""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine.data.state import Observation
from policy_engine.errors import ErrorCode, PolicyError
from policy_engine.language.months import format_month, parse_month
from policy_engine.render.charts import Box, judged_series, spc_chart, text_box, text_width

SVG = "{http://www.w3.org/2000/svg}"


def _texts(svg: str) -> list[tuple[str, Box]]:
    root = ET.fromstring(svg)
    out = []
    for el in root.iter(f"{SVG}text"):
        box = text_box(
            float(el.get("x", "0")),
            float(el.get("y", "0")),
            el.text or "",
            float(el.get("font-size", "11")),
            el.get("text-anchor", "start"),
        )
        out.append((el.text or "", box))
    return out


def _months(start: str, n: int) -> list[str]:
    first = parse_month(start)
    return [format_month(first + i) for i in range(n)]


def _example(**kw: object) -> str:
    labels = _months("2024-04", 12)
    values = [74.1, 75.2, 73.8, 76.0, 74.9, 72.1, 71.5, 70.9, 70.2, 69.8, 69.1, 74.2]
    args: dict[str, object] = {
        "title": "A&E attendances within 4 hours",
        "desc": "Share of attendances within 4 hours, by month.",
        "target": 78.0,
        "improvement": "increase",
        "deadline": "2025-03",
        "unit": lambda v: f"{v:.1f}%",
    }
    args.update(kw)
    return spc_chart(list(zip(labels, values, strict=True)), **args)  # type: ignore[arg-type]


def test_the_chart_is_accessible_svg() -> None:
    svg = _example()
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text == "A&E attendances within 4 hours"
    assert desc is not None and desc.text is not None and desc.text.startswith("Share of attendances")
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    # the meanings are in the desc and in the visible text
    texts = " ".join(t for t, _ in _texts(svg))
    assert "Variation:" in desc.text and "Assurance: the target will consistently be missed" in desc.text
    assert "Assurance:" in texts and "orange special cause concern" in texts
    # the lines and their labels: mean, limits, target, deadline, the last value
    for cls in ("mean", "upper-limit", "lower-limit", "target", "deadline"):
        assert root.find(f".//{SVG}line[@class='{cls}']") is not None, cls
    labels = [t for t, _ in _texts(svg)]
    assert "target 78.0%" in labels and "deadline 2025-03" in labels
    assert "latest 74.2% (2025-03)" in labels
    assert any(t.startswith("mean ") for t in labels) and any(t.startswith("upper limit ") for t in labels)


def test_regular_y_ticks() -> None:
    root = ET.fromstring(_example())
    ticks = [float(el.text.rstrip("%")) for el in root.iter(f"{SVG}text") if el.get("class") == "ytick" and el.text]
    assert len(ticks) >= 3
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1  # evenly spaced
    (step,) = steps
    assert step > 0 and min(ticks) <= 68.4 and max(ticks) >= 78.0


def test_points_are_coloured_by_special_cause() -> None:
    # a run of 7 below the mean with higher being better: concern (orange); a fall after a high start
    svg = spc_chart(
        [(m, v) for m, v in zip(_months("2024-01", 14), [9, 10, 9, 10, 9, 10, 9, 5, 5, 5, 5, 5, 5, 5], strict=True)],
        title="t",
        desc="d",
        improvement="increase",
    )
    root = ET.fromstring(svg)
    kinds = [el.get("class", "").split()[1] for el in root.iter(f"{SVG}circle") if "point" in el.get("class", "")]
    assert kinds[-7:] == ["special_cause_concern"] * 7
    fills = {el.get("fill") for el in root.iter(f"{SVG}circle") if "special_cause_concern" in el.get("class", "")}
    assert fills == {"#e46c0a"}


def test_one_point_has_no_limits_and_says_so() -> None:
    svg = spc_chart([("2025-03", 5.0)], title="t", desc="d")
    root = ET.fromstring(svg)
    assert root.find(f".//{SVG}line[@class='mean']") is None
    assert "no process limits" in (root.find(f"{SVG}desc").text or "")  # type: ignore[union-attr]


def test_hostile_text_is_escaped() -> None:
    svg = spc_chart(
        [("a<b>\x01", 1.0), ("\udfff&", 2.0)], title="<script>x</script>\x07", desc="&amp;", deadline="a<b>\x01"
    )
    root = ET.fromstring(svg)  # parses: no raw markup, control characters or surrogates
    assert root.find(f"{SVG}title").text == "<script>x</script>\\u0007"  # type: ignore[union-attr]
    assert root.find(f".//{SVG}script") is None


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"points": []}, "points"),
        ({"points": [("2025-01", math.nan)]}, "points[0]"),
        ({"points": [(1, 2.0)]}, "points[0]"),
        ({"title": 5}, "title"),
        ({"deadline": "someday"}, "deadline"),
        ({"unit": lambda v: 5}, "unit"),
        ({"target": "78"}, "target"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict[str, object], name: str) -> None:
    args: dict[str, object] = {"points": [("2025-01", 1.0), ("2025-02", 2.0)], "title": "t", "desc": "d"}
    args.update(kwargs)
    points = args.pop("points")
    with pytest.raises(PolicyError) as caught:
        spc_chart(points, **args)  # type: ignore[arg-type]
    (detail,) = caught.value.details
    assert detail.code is ErrorCode.ARGUMENT_VALUE and detail.subject == name


def _no_overlap(svg: str) -> None:
    root = ET.fromstring(svg)
    width, height = float(root.get("width", "0")), float(root.get("height", "0"))
    texts = _texts(svg)
    for text, box in texts:
        assert box.x0 >= 0 and box.x1 <= width + 0.5 and box.y0 >= 0 and box.y1 <= height, (text, box, width)
    for (ta, a), (tb, b) in itertools.combinations(texts, 2):
        assert not a.intersects(b), (ta, a, tb, b)


def test_close_lines_keep_their_labels_apart() -> None:
    # the target, the mean, the limits and the last value all within a hair of each other
    _no_overlap(
        spc_chart(
            [(m, 50.0 + (i % 2) * 1e-6) for i, m in enumerate(_months("2024-01", 12))],
            title="t",
            desc="d",
            target=50.0,
            improvement="decrease",
            deadline="2024-12",
        )
    )


scales = st.sampled_from([1e-3, 1.0, 100.0, 1e6, 1e9])


@st.composite
def charts(draw: st.DrawFn) -> dict[str, object]:
    n = draw(st.integers(1, 40))
    scale = draw(scales)
    base = draw(st.floats(-2, 2)) * scale
    values = draw(st.lists(st.floats(-1, 1).map(lambda v: base + v * scale), min_size=n, max_size=n))
    labels = _months(draw(st.sampled_from(["2019-04", "2024-01", "2024-11"])), n)
    target = draw(st.none() | st.floats(-3, 3).map(lambda v: base + v * scale))
    deadline = draw(st.none() | st.integers(-3, n + 6).map(lambda k: format_month(parse_month(labels[0]) + k)))
    unit = draw(st.sampled_from([str, lambda v: f"{v:,.1f}%", lambda v: f"£{v:,.0f}", lambda v: f"{v:.3g} per 1,000"]))
    return {
        "points": list(zip(labels, values, strict=True)),
        "title": draw(st.text(min_size=0, max_size=120)),
        "desc": draw(st.text(max_size=40)),
        "target": target,
        "improvement": draw(st.sampled_from(["increase", "decrease", None])),
        "deadline": deadline,
        "unit": unit,
    }


@settings(deadline=None)
@given(charts())
def test_no_label_overlaps_any_other(case: dict[str, object]) -> None:
    points = case.pop("points")
    svg = spc_chart(points, **case)  # type: ignore[arg-type]
    _no_overlap(svg)


def test_text_width_grows_with_text() -> None:
    assert text_width("") == 0 and text_width("mmmm") > text_width("iiii") > 0
    assert text_width("abc", 22) == 2 * text_width("abc", 11)


# the judged quantity --------------------------------------------------------------------------


def test_a_ratio_of_totals_is_charted_as_the_monthly_ratio() -> None:
    book = pe.load_rulebook("nhs-2024-25")
    rule = book.rule("elec.activity-107")
    judged = judged_series(rule)
    assert judged is not None
    assert judged.metrics == ("elec_vwa_baseline_value", "elec_vwa_delivered_value")
    assert judged.threshold == 107
    series = {
        "elec_vwa_delivered_value": {
            parse_month("2024-04"): Observation(parse_month("2024-04"), value=Fraction(214)),
            parse_month("2024-05"): Observation(parse_month("2024-05"), value=Fraction(90)),
        },
        "elec_vwa_baseline_value": {
            parse_month("2024-04"): Observation(parse_month("2024-04"), value=Fraction(200)),
            parse_month("2024-05"): Observation(parse_month("2024-05"), value=Fraction(0)),
        },
    }
    # April: 100 * 214 / 200 = 107; May's baseline is 0, so May has no ratio
    assert judged.values(series) == [("2024-04", Fraction(107))]


def test_a_percentage_is_charted_as_each_months_percentage() -> None:
    book = pe.load_rulebook("nhs-2024-25")
    rule = next(
        r
        for r in book.rules
        if r.shape.single is not None and r.shape.single.function == "pct" and r.shape.single.parameter is not None
    )
    judged = judged_series(rule)
    assert judged is not None and judged.threshold == rule.parameters[rule.shape.single.parameter].value  # type: ignore[union-attr]
    (metric,) = judged.metrics
    m = parse_month("2025-03")
    assert judged.values({metric: {m: Observation(m, numerator=3, denominator=4)}}) == [("2025-03", Fraction(75))]


def test_a_rule_without_a_metric_comparison_has_no_judged_series() -> None:
    book = pe.load_rulebook("nhs-2024-25")
    rule = next(
        r
        for r in book.rules
        if not any(c is not None and c.reads_metric() for c in r.shape.comparisons)
        and "total(" not in r.condition_text
        and "pct(" not in r.condition_text
        and "rate(" not in r.condition_text
        and "mean(" not in r.condition_text
        and "_value(" not in r.condition_text
    )
    assert judged_series(rule) is None


def test_values_a_rounding_error_apart_get_distinct_ticks() -> None:
    # found by the property above: limits a few ULPs from the mean gave three equal tick labels
    svg = spc_chart([(m, -124.02946922118956) for m in _months("2019-04", 3)], title="", desc="")
    _no_overlap(svg)
    ticks = [el.text for el in ET.fromstring(svg).iter(f"{SVG}text") if el.get("class") == "ytick"]
    assert len(ticks) == len(set(ticks)) >= 3

"""The threshold shape of a condition (policy_engine.language.shape), computed once per rule."""

from __future__ import annotations

from fractions import Fraction

import attrs
import pytest

import policy_engine as pe
from policy_engine.language.parser import parse
from policy_engine.language.shape import shape_of

BOOK = pe.load_rulebook()


@pytest.mark.parametrize(
    ("text", "measured", "op", "parameter", "constant", "function", "period"),
    [
        (
            "pct(ae_4h_all, mar_2025) >= param.threshold",
            "pct(ae_4h_all, mar_2025)",
            ">=",
            "threshold",
            78,
            "pct",
            "mar_2025",
        ),
        (
            "param.threshold <= pct(ae_4h_all, mar_2025)",
            "pct(ae_4h_all, mar_2025)",
            ">=",
            "threshold",
            78,
            "pct",
            "mar_2025",
        ),
        ("-5 < total(x, p)", "total(x, p)", ">", None, -5, "total", "p"),
        ("fact(n) != 3", "fact(n)", "!=", None, 3, "fact", None),
        ("pct(a, p) >= pct(a, q) + 1", "pct(a, p)", ">=", None, None, "pct", "p"),
        ("pct(a, q) + 1 <= pct(a, p)", "pct(a, p)", ">=", None, None, "pct", "p"),
        ("1 < 2", "1", "<", None, None, None, None),
    ],
)
def test_a_comparison_is_read_with_its_measured_side_on_the_left(
    text: str,
    measured: str,
    op: str,
    parameter: str | None,
    constant: int | None,
    function: str | None,
    period: str | None,
) -> None:
    shape = shape_of(parse(text), {"threshold": Fraction(78)})
    c = shape.single
    assert c is not None
    assert (c.text, c.op, c.parameter, c.function, c.period) == (measured, op, parameter, function, period)
    assert c.constant == (None if constant is None else Fraction(constant))


def test_a_conjunction_lists_each_term_and_which_are_comparisons() -> None:
    shape = shape_of(parse('pct(a, p) >= 5 and has_service("x") and 3 > fact(n)'))
    assert len(shape.conjuncts) == 3 and shape.single is None and shape.all_comparisons is None
    first, second, third = shape.comparisons
    assert first is not None and first.constant == 5
    assert second is None
    assert third is not None and (third.text, third.op, third.constant) == ("fact(n)", "<", 3)
    assert shape_of(parse("pct(a, p) >= 5 and rate(b, p) < 2")).all_comparisons is not None


def test_every_rule_carries_its_shape_and_an_overlay_changes_its_constants() -> None:
    rule = BOOK.rule("uec.ae-4h-78")
    c = rule.shape.single
    assert c is not None and c.constant == Fraction(78)
    moved = attrs.evolve(rule, parameters={"threshold": attrs.evolve(rule.parameters["threshold"], value=Fraction(80))})
    assert moved.shape.single is not None and moved.shape.single.constant == Fraction(80)
    assert all(r.shape.conjuncts for r in BOOK.rules)


def test_a_bound_that_reads_the_measured_metric_is_marked() -> None:
    reads = shape_of(parse("pct(a, p) > pct(a, p) * 0.5")).single
    other_period = shape_of(parse("pct(a, p) > pct(a, q) * 0.5")).single
    assert reads is not None and reads.bound_reads
    assert other_period is not None and not other_period.bound_reads

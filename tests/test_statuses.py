"""The one table of statuses and the one decision table (policy_engine.language.statuses)."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

import policy_engine as pe
from policy_engine.language import statuses as st
from policy_engine.language.rules import RULE_KINDS

PACKAGE = Path(pe.__file__).parent
Shape = tuple[str, str | None, bool, bool]
SHAPES = [
    (kind, timing, guarded, completion)
    for kind in RULE_KINDS
    for timing in ((None, "standing", "within_year", "dated") if kind == "obligation" else (None,))
    for guarded in (False, True)
    for completion in ((False, True) if kind == "obligation" and timing != "standing" else (False,))
]
DOMAIN: dict[str, tuple[st.Tri, ...]] = {
    "guard": (True, False, "unknown"),
    "judged": (True, False),
    "cond": (True, False, "unknown"),
    "late": (True, False),
}


def test_every_status_has_one_row_and_the_published_order_is_kept() -> None:
    assert set(st.STATUS_INFO) == set(st.STATUSES) == set(pe.STATUSES)
    assert pe.STATUSES == st.STATUSES
    assert [i.order for i in st.STATUS_INFO.values()] == list(range(len(st.STATUSES)))
    assert st.STATUS_ORDER[0] == "breached" and st.STATUS_ORDER[-1] == "not_applicable"
    for info in st.STATUS_INFO.values():
        assert info.label and info.wording and info.colour.startswith("#")
        if info.opposite is not None:  # what-if flips a threshold outcome both ways
            assert st.STATUS_INFO[info.opposite].opposite == info.name


def test_positive_and_negative_statuses_are_opposites() -> None:
    for kind in RULE_KINDS:
        pos, neg = st.POSITIVE_STATUS[kind], st.NEGATIVE_STATUS[kind]
        assert st.STATUS_INFO[pos].polarity == ("bad" if kind == "breach" else "good")
        if kind != "obligation":
            assert st.STATUS_INFO[pos].opposite == neg
    assert st.negative_status("obligation", "standing") == "not_met"
    assert st.negative_status("obligation", "dated") == "overdue"


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "-".join(map(str, s)))
def test_the_tree_decides_as_the_clauses_in_order_and_reads_each_input_once(shape: Shape) -> None:
    table = st.decision_table(*shape)
    assert table[-1].tests == (), "a table ends with a clause that always holds"
    names = sorted({n for c in table for n, _ in c.tests})
    tree = st.decision_tree(table)
    for values in itertools.product(*(DOMAIN[n] for n in names)):
        given = dict(zip(names, values, strict=True))
        first = next(c for c in table if all(given[n] == w for n, w in c.tests))
        reads: list[str] = []

        def read(name: st.Input, given: dict[str, st.Tri] = given, reads: list[str] = reads) -> st.Tri:
            reads.append(name)
            return given[name]

        assert st.decide_status(tree, read) == first
        assert len(reads) == len(set(reads))
        by_reader = st.status_function(tree, {n: (lambda g, n=n: g[n]) for n in names})
        assert by_reader(given) == first.status


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "-".join(map(str, s)))
def test_each_clause_is_a_status_and_its_reason_renders(shape: Shape) -> None:
    for clause in st.decision_table(*shape):
        assert clause.status in st.STATUSES
        text = clause.reason.format(applies="x", deadline="d", in_force="f", done="w", as_of="a")
        assert "{" not in text


def test_a_rule_not_applicable_or_not_yet_judged_never_reads_its_condition() -> None:
    def reads_for(shape: Shape, given: dict[str, st.Tri]) -> list[str]:
        seen: list[str] = []

        def read(name: st.Input) -> st.Tri:
            seen.append(name)
            return given[name]

        st.decide_status(st.decision_tree(st.decision_table(*shape)), read)
        return seen

    assert reads_for(("target", None, True, False), {"guard": False}) == ["guard"]
    assert reads_for(("target", None, False, False), {"judged": False}) == ["judged"]
    # An obligation is met as soon as it is done, before its deadline too: it reads its condition first.
    assert reads_for(("obligation", "dated", False, False), {"cond": True}) == ["cond"]


def test_statuses_are_spelt_out_only_in_the_status_module() -> None:
    """Adding a status is a change in one place: no other module of the package names the
    statuses that only the decision table produces (met_late, overdue, not_breached, not_eligible)."""
    only_here = {"met_late", "overdue", "not_breached", "not_eligible"}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "statuses.py" and path.parent.name == "language":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in only_here:
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.value}")
    assert offenders == []

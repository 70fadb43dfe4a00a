"""Every rule's quote is found verbatim in the guidance text it cites (the texts shipped in the
package), and the shipped texts are the guidance folder's own (``../shared/guidance``, only when it is
beside the project: otherwise that test skips saying so)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import policy_engine as pe
from policy_engine._resources import policies_root
from policy_engine.rulebook.loader import normalise_text

BOOK = pe.load_rulebook()


def test_shipped_sources_are_the_guidance_files(needs_shared: Callable[[str], Path]) -> None:
    guidance = needs_shared("guidance")
    shipped = policies_root() / "nhs-2024-25" / "sources"
    names = sorted(p.name for p in guidance.iterdir() if p.is_file())
    assert names == sorted(BOOK.sources)
    for name in names:
        assert (shipped / name).read_bytes() == (guidance / name).read_bytes(), name


@pytest.mark.parametrize("rule", BOOK.rules, ids=[r.id for r in BOOK.rules])
def test_quote_is_verbatim_in_its_source(rule: pe.Rule) -> None:
    text = BOOK.source_texts[rule.source.document]
    assert normalise_text(rule.source.quote) in text
    if rule.confidence != "quoted":
        assert rule.source.document == "national-objectives-2024-25.md"
        assert rule.objective is not None


def test_every_objective_row_has_a_rule() -> None:
    assert {r.objective for r in BOOK.rules if r.objective} == set(range(1, 33))

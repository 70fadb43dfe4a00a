"""Every rule's quote is found verbatim in the guidance text it cites, and the shipped texts are the
guidance folder's own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import policy_engine as pe
from policy_engine._resources import policies_root
from policy_engine.loader import normalise_text

GUIDANCE = Path(
    os.environ.get("POLICY_ENGINE_GUIDANCE_DIR", Path(__file__).resolve().parents[2] / "shared" / "guidance")
)
BOOK = pe.load_rulebook()


@pytest.mark.skipif(not GUIDANCE.is_dir(), reason="shared/guidance is not beside the checkout")
def test_shipped_sources_are_the_guidance_files() -> None:
    shipped = policies_root() / "nhs-2024-25" / "sources"
    names = sorted(p.name for p in GUIDANCE.iterdir() if p.is_file())
    assert names == sorted(BOOK.sources)
    for name in names:
        assert (shipped / name).read_bytes() == (GUIDANCE / name).read_bytes(), name


@pytest.mark.parametrize("rule", BOOK.rules, ids=[r.id for r in BOOK.rules])
def test_quote_is_verbatim_in_its_source(rule: pe.Rule) -> None:
    text = BOOK.source_texts[rule.source.document]
    assert normalise_text(rule.source.quote) in text
    if rule.confidence != "quoted":
        assert rule.source.document == "national-objectives-2024-25.md"
        assert rule.objective is not None


def test_every_objective_row_has_a_rule() -> None:
    assert {r.objective for r in BOOK.rules if r.objective} == set(range(1, 33))

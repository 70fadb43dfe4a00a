"""The generated rule reference (docs/reference) and the MkDocs site built from docs/."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import policy_engine as pe
from policy_engine.render import docs as docgen
from policy_engine.rulebook.loader import normalise_text

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"
SCENARIOS = ROOT / "tests" / "scenarios"
REGENERATE = "python -m policy_engine.render.docs"


@pytest.fixture(scope="module")
def book() -> pe.Rulebook:
    return pe.load_rulebook()


@pytest.fixture(scope="module")
def pages(book: pe.Rulebook) -> dict[str, str]:
    return docgen.render_pages(book, SCENARIOS)


def _unescape(markdown: str) -> str:
    """The text a reader sees: Markdown escapes removed, whitespace normalised."""
    return normalise_text(re.sub(r"\\([\\`*_\[\]#|])", r"\1", markdown).replace("&lt;", "<"))


def _entry(page: str, rule_id: str) -> str:
    """The section of an area page that documents one rule."""
    for section in page.split("\n## "):
        if section.split("\n", 1)[0].endswith(f"{{#{rule_id}}}"):
            return section
    raise AssertionError(f"no entry for {rule_id}")


# --------------------------------------------------------------------------- (a) committed pages are current


def test_committed_reference_is_current(book: pe.Rulebook, pages: dict[str, str]) -> None:
    stale = docgen.check(book, REFERENCE, SCENARIOS)
    assert not stale, (
        f"docs/reference is stale ({', '.join(stale)}): regenerate it with `{REGENERATE}` from the repository root "
        "and commit the result"
    )
    assert sorted(p.name for p in REFERENCE.glob("*.md")) == sorted(pages)


def test_committed_2025_26_reference_is_current() -> None:
    """The second bundled rulebook's pages (docs/reference-2025-26) are generated and current,
    with the year-on-year page (the diff from nhs-2024-25) among them."""
    book = pe.load_rulebook("nhs-2025-26")
    out, scenarios = ROOT / docgen.reference_folder("nhs-2025-26"), ROOT / "tests" / "scenarios-2025-26"
    stale = docgen.check(book, out, scenarios)
    assert not stale, (
        f"docs/reference-2025-26 is stale ({', '.join(stale)}): regenerate it with "
        f"`{REGENERATE} --rulebook nhs-2025-26` from the repository root and commit the result"
    )
    pages = docgen.render_pages(book, scenarios)
    assert "year-on-year.md" in pages and "tests/scenarios-2025-26/" in pages["urgent-emergency-care.md"]
    assert "[From nhs-2024-25 to nhs-2025-26](year-on-year.md)" in pages["index.md"]
    assert sorted(p.name for p in out.glob("*.md")) == sorted(pages)


def test_check_defaults_to_the_rulebooks_own_folders(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--check --rulebook nhs-2025-26`` checks docs/reference-2025-26 against tests/scenarios-2025-26."""
    monkeypatch.chdir(ROOT)
    assert docgen.main(["--rulebook", "nhs-2025-26", "--check"]) == 0
    assert "docs/reference-2025-26 is up to date" in capsys.readouterr().out


def test_generation_is_deterministic(book: pe.Rulebook, pages: dict[str, str]) -> None:
    assert docgen.render_pages(book, SCENARIOS) == pages
    for text in pages.values():
        assert not re.search(r"\b20\d\d-\d\d-\d\dT\d\d:", text)  # no timestamps


@pytest.mark.slow
def test_check_command_reports_stale_pages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "reference"
    args = ["--out", str(out), "--scenarios", str(SCENARIOS)]
    assert docgen.main([*args, "--check"]) == 1
    assert REGENERATE in capsys.readouterr().err
    assert docgen.main(args) == 0
    assert docgen.main([*args, "--check"]) == 0
    (out / "cancer.md").write_text("# edited by hand\n", encoding="utf-8")
    (out / "obsolete.md").write_text("# an area that no longer exists\n", encoding="utf-8")
    assert docgen.main([*args, "--check"]) == 1
    err = capsys.readouterr().err
    assert "cancer.md" in err and "obsolete.md" in err
    assert docgen.main(args) == 0  # regenerating repairs both
    assert not (out / "obsolete.md").exists()
    assert docgen.main([*args, "--check"]) == 0


def test_unknown_rulebook_is_invalid_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert docgen.main(["--rulebook", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 3
    assert "rulebook folder not found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_without_scenario_folder_the_pages_still_build(book: pe.Rulebook, tmp_path: Path) -> None:
    # An installed package has no tests/: scenario links are simply left out.
    bare = docgen.render_pages(book, tmp_path / "no-such-folder")
    assert sorted(bare) == sorted(docgen.render_pages(book, SCENARIOS))
    assert all("**Scenario tests**" not in text for text in bare.values())


# --------------------------------------------------------------------------- (b) every rule, quote and warning


def test_every_rule_has_an_entry_with_its_quote(book: pe.Rulebook, pages: dict[str, str]) -> None:
    assert set(pages) == {"index.md", "coverage.md", "data-dictionary.md"} | {f"{area}.md" for area in book.areas}
    for rule in book.rules:
        page = pages[f"{rule.area}.md"]
        entry = _entry(page, rule.id)
        assert f"`{rule.id}`" in entry
        assert normalise_text(rule.source.quote) in _unescape(entry), rule.id
        assert normalise_text(rule.source.section) in _unescape(entry), rule.id
        for assumption in rule.assumptions:
            assert normalise_text(assumption) in _unescape(entry), rule.id
        assert f"**Timing** {normalise_text(rule.timing_text())}" in _unescape(entry), rule.id
        if rule.deadline is not None:
            assert f"{rule.deadline.day} {rule.deadline:%B %Y}" in entry, rule.id


def test_reconstructed_and_published_rules_carry_a_warning(book: pe.Rulebook, pages: dict[str, str]) -> None:
    seen = set()
    for rule in book.rules:
        entry = _entry(pages[f"{rule.area}.md"], rule.id)
        has_warning = "!!! warning" in entry
        assert has_warning == (rule.confidence != "quoted"), rule.id
        if rule.confidence == "reconstructed":
            assert '!!! warning "Reconstructed wording"' in entry
        seen.add(rule.confidence)
    assert {"reconstructed", "published"} <= seen


def test_index_counts_and_coverage_matrix(book: pe.Rulebook, pages: dict[str, str]) -> None:
    index = pages["index.md"]
    kinds = [sum(1 for r in book.rules if r.kind == k) for k in ("target", "obligation", "breach", "eligibility")]
    assert f"| **total** | {' | '.join(map(str, kinds))} | {len(book.rules)} |" in index
    for area in book.areas:
        assert f"]({area}.md)" in index
    coverage = pages["coverage.md"]
    assert "## Traceability matrix" in coverage
    for rule in book.rules:
        assert f"]({rule.area}.md#{rule.id})" in coverage, f"{rule.id} is not in the traceability matrix"


def test_scenario_tests_are_listed(pages: dict[str, str]) -> None:
    entry = _entry(pages["urgent-emergency-care.md"], "uec.ae-4h-78")
    assert "`tests/scenarios/urgent-emergency-care/ae-4h-78.yaml`" in entry
    assert "RA1 `not_met`" in entry


# --------------------------------------------------------------------------- (c) the site builds strictly


def test_mkdocs_builds_strict(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("mkdocs")
    mkdocs = str(exe) if exe.exists() else shutil.which("mkdocs")
    if mkdocs is None:
        pytest.fail("mkdocs is not installed: install the test extra (pip install '.[test]')")
    result = subprocess.run(
        [mkdocs, "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    built = tmp_path / "site" / "reference" / "urgent-emergency-care" / "index.html"
    assert 'id="uec.ae-4h-78"' in built.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- (d) plain-English renderings


def _words(book: pe.Rulebook, rule_id: str) -> str:
    return docgen.condition_in_words(book.rule(rule_id), book)


def test_plain_english_thresholds(book: pe.Rulebook) -> None:
    ae = _words(book, "uec.ae-4h-78")
    assert "is at least 78%" in ae
    assert "in March 2025 (2025-03)" in ae
    assert "within 4 hours" in ae
    assert "is more than 80%" in _words(book, "uec.type1-ae-over-80")
    agency = _words(book, "uor.agency-max-2pct-pay-bill")
    assert "is at most 2%" in agency
    assert "over 2024/25 (2024-04 to 2025-03)" in agency
    assert "“to a maximum of 2% of the total pay bill across 2024/25”" in agency


def test_plain_english_chaining_links_the_rule_read(book: pe.Rulebook, pages: dict[str, str]) -> None:
    assert _words(book, "uec.ae-4h-78-missed") == "rule `uec.ae-4h-78` is not met"
    entry = _entry(pages["urgent-emergency-care.md"], "uec.ae-4h-78-missed")
    assert "**Breached when** rule [`uec.ae-4h-78`](#uec.ae-4h-78) is not met." in entry
    assert "**Read by** [`uec.ae-4h-78-missed`](#uec.ae-4h-78-missed)" in _entry(
        pages["urgent-emergency-care.md"], "uec.ae-4h-78"
    )


def test_plain_english_facts_ranks_and_year_on_year(book: pe.Rulebook) -> None:
    frailty = _words(book, "uec.acute-frailty-10h-7d")
    assert frailty.startswith("all of the following hold:")
    assert "the declared fact “hours per day the acute frailty service is in place” is at least 10 hours" in frailty
    rank = _words(book, "uec.type1-ae-greatest-improvement")
    assert "it ranks first" in rank and "from March 2024 (2024-03) to March 2025 (2025-03)" in rank
    reduce = _words(book, "uec.ae-12h-reduce")
    assert "over 2024/25 (2024-04 to 2025-03) is less than what it was over 2023/24 (2023-04 to 2024-03)" in reduce
    assert "5 percentage points" in _words(book, "elec.op-procedure-tariff-5pp")

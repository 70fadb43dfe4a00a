"""Planning years as a first-class idea: a rulebook per year, ``--rulebook auto``, external guidance
texts verified with ``verify-sources --sources DIR``, one shared vocabulary, and the year-on-year
``diff`` that pairs rules by measure (docs/decisions/033-rulebooks-per-planning-year.md)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import policy_engine as pe
from policy_engine._resources import bundled_rulebooks, policies_root
from policy_engine.audit.diff import CHANGE_CLASSES, diff_years
from policy_engine.cli import run
from policy_engine.rulebook import years
from policy_engine.rulebook.sources import SourceSpec, normalise_source, quote_found, without_fragments

TEXT = (
    "Intro line.\n\n**Heading **\n\nSystems must reach 77% by\nMarch 2025 and keep it \\(always\\). 3\n\n\n\n"
    "Running Head Next page\n"
)
TABLE = "| # | Priority | Success measure |\n|---|---|---|\n| 1 | Keep it | Systems must reach 77% by March 2025 |\n"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


# --------------------------------------------------------------------------- normalisation


def test_pdf_markdown_normalisation_removes_emphasis_escapes_and_page_furniture() -> None:
    spec = SourceSpec("g.md", format="pdf-markdown", running_header="Running Head")
    text = normalise_source(TEXT, spec)
    assert text == "Intro line. Heading Systems must reach 77% by March 2025 and keep it (always). Next page"
    # the header's words inside a sentence are kept: only a page number, blank lines, then the header go
    assert normalise_source("the Running Head rule", spec) == "the Running Head rule"
    # curly quotes are straight on both sides
    assert normalise_source("the \u2018Three year delivery plan\u2019", spec) == "the 'Three year delivery plan'"


def test_a_table_quote_must_also_be_in_its_source_once_the_other_column_is_removed() -> None:
    main = SourceSpec("g.md", format="pdf-markdown")
    table = SourceSpec("t.md", format="markdown-table", table_of="g.md", fragment_column=1)
    specs = {"g.md": main, "t.md": table}
    interleaved = "Systems must reach 77% **Keep **by March 2025 **it **"
    texts = {"g.md": interleaved, "t.md": TABLE}
    assert quote_found("Systems must reach 77% by March 2025", "t.md", texts, specs) == (True, "")
    assert without_fragments(interleaved, main, ["Keep it"]) == "Systems must reach 77% by March 2025"
    found, why = quote_found("Systems must reach 77% by March 2025", "t.md", {**texts, "g.md": "nothing"}, specs)
    assert not found and "not in g.md" in why
    found, why = quote_found("Systems must reach 78%", "t.md", texts, specs)
    assert not found and why == "not found verbatim in t.md"


# --------------------------------------------------------------------------- external sources


def external_book(tmp_path: Path, text: str = TEXT, quote: str = "Systems must reach 77% by March 2025") -> Path:
    """A rulebook with one rule citing an external text, and a copy of that text in ``tmp_path/texts``."""
    book = tmp_path / "book"
    book.mkdir(parents=True)
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "g.md").write_text(text, encoding="utf-8")
    manifest = {
        "rulebook": {
            "id": "demo-2030-31",
            "title": "Demo",
            "version": "1.0.0",
            "start": "2030-04-01",
            "end": "2031-03-31",
            "vocabulary": "bundled",
            "sources": [
                {
                    "document": "g.md",
                    "shipped": False,
                    "sha256": hashlib.sha256(text.encode()).hexdigest(),
                    "format": "pdf-markdown",
                    "running_header": "Running Head",
                }
            ],
        },
        "periods": {"mar_2031": {"start": "2031-03", "end": "2031-03"}},
    }
    rules = {
        "area": "demo",
        "title": "Demo",
        "rules": [
            {
                "id": "demo.fds",
                "title": "FDS",
                "kind": "target",
                "applies_to": ["acute_trust"],
                "period": "mar_2031",
                "deadline": "2031-03-31",
                "measure": "cancer.fds",
                "condition": "pct(cancer_fds_28day, mar_2031) >= 77",
                "source": {"document": "g.md", "section": "Heading", "quote": quote},
            }
        ],
    }
    (book / "rulebook.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    (book / "demo.yaml").write_text(yaml.safe_dump(rules, sort_keys=False), encoding="utf-8")
    return book


def test_a_rulebook_citing_an_external_text_loads_and_its_quotes_are_verified_against_a_copy(tmp_path: Path) -> None:
    book = pe.load_rulebook(external_book(tmp_path))
    assert book.external_sources == ("g.md",)
    assert "cancer_fds_28day" in book.metrics  # read from the shared vocabulary
    report = pe.verify_sources(book, tmp_path / "texts")
    assert report.ok and [s.status for s in report.sources] == ["verified"]
    assert [(q.kind, q.id, q.status) for q in report.quotes] == [("rule", "demo.fds", "found")]


def test_without_the_text_every_quote_is_not_verified_never_passed(tmp_path: Path) -> None:
    book = pe.load_rulebook(external_book(tmp_path))
    report = pe.verify_sources(book)
    assert not report.ok
    assert report.quotes[0].status == "not verified"
    assert report.quotes[0].reason == (
        "not verified: source g.md not found: it is not shipped with the rulebook and no folder was given "
        "(pass sources_dir / --sources DIR with your copy)"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    report = pe.verify_sources(book, empty)
    assert report.sources[0].status == "missing"
    assert f"source not found at {empty / 'g.md'}" in report.quotes[0].reason
    code, out, err = cli("verify-sources", "--rulebook", str(tmp_path / "book"), "--sources", str(empty))
    assert code == 5 and "NOT VERIFIED: rule demo.fds" in out and "1 not verified" in err


def test_a_different_copy_is_said_and_a_quote_missing_from_it_is_not_found(tmp_path: Path) -> None:
    book = pe.load_rulebook(external_book(tmp_path))
    (tmp_path / "texts" / "g.md").write_text(TEXT.replace("77%", "70%"), encoding="utf-8")
    report = pe.verify_sources(book, tmp_path / "texts")
    assert report.sources[0].status == "differs"
    assert report.quotes[0].status == "not found" and not report.ok
    code, out, _ = cli(
        "verify-sources", "--rulebook", str(tmp_path / "book"), "--sources", str(tmp_path / "texts"), "--format", "json"
    )
    doc = json.loads(out)
    assert code == 5 and doc["counts"] == {"found": 0, "not found": 1, "not verified": 0}


def test_an_external_source_needs_its_sha256_and_a_table_must_name_another_source(tmp_path: Path) -> None:
    path = external_book(tmp_path)
    manifest = yaml.safe_load((path / "rulebook.yaml").read_text(encoding="utf-8"))
    del manifest["rulebook"]["sources"][0]["sha256"]
    (path / "rulebook.yaml").write_text(yaml.safe_dump(manifest), encoding="utf-8")
    with pytest.raises(pe.RulebookError) as info:
        pe.load_rulebook(path)
    assert "rulebook.yaml" in str(info.value)
    manifest["rulebook"]["sources"][0].update(sha256="0" * 64, table_of="elsewhere.md")
    (path / "rulebook.yaml").write_text(yaml.safe_dump(manifest), encoding="utf-8")
    with pytest.raises(pe.RulebookError, match="table_of must name another source"):
        pe.load_rulebook(path)


def test_a_measure_named_by_two_rules_is_refused(tmp_path: Path) -> None:
    path = external_book(tmp_path)
    doc = yaml.safe_load((path / "demo.yaml").read_text(encoding="utf-8"))
    doc["rules"].append({**json.loads(json.dumps(doc["rules"][0])), "id": "demo.fds-again"})
    (path / "demo.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(pe.RulebookError) as info:
        pe.load_rulebook(path)
    assert "measure already named by demo.fds" in str(info.value) and "demo.fds-again" in str(info.value)


def test_an_area_file_may_not_declare_a_vocabulary_entry_again(tmp_path: Path) -> None:
    path = external_book(tmp_path)
    doc = yaml.safe_load((path / "demo.yaml").read_text(encoding="utf-8"))
    doc["metrics"] = {"cancer_fds_28day": {"kind": "proportion", "unit": "percent", "label": "x", "description": "x"}}
    (path / "demo.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(pe.RulebookError) as info:
        pe.load_rulebook(path)
    assert "already declared in vocabulary/cancer.yaml" in str(info.value)


# --------------------------------------------------------------------------- one vocabulary


def test_every_bundled_rulebook_reads_the_one_shared_vocabulary() -> None:
    books = [pe.load_rulebook(name) for name in bundled_rulebooks()]
    assert [b.id for b in books] == ["nhs-2024-25", "nhs-2025-26"]
    for b in books:
        vocabulary = {n for n, m in b.metrics.items()}
        assert vocabulary == set(books[0].metrics), b.id
        assert set(b.facts) == set(books[0].facts) and set(b.services) == set(books[0].services)
    for area in (policies_root() / "nhs-2024-25").iterdir():
        if area.name.endswith(".yaml") and area.name not in {"rulebook.yaml", "coverage.yaml"}:
            doc = yaml.safe_load(area.read_text(encoding="utf-8"))
            assert not {"metrics", "facts", "services"} & set(doc), f"{area.name} declares vocabulary of its own"


def test_a_state_prepared_for_2024_25_evaluates_under_2025_26_without_renaming() -> None:
    example = Path(__file__).resolve().parents[1] / "examples"
    state_file = next(example.glob("*.json"))
    state = pe.load_state(state_file)
    for name in bundled_rulebooks():
        book = pe.load_rulebook(name)
        assert pe.validate_state(json.loads(state_file.read_text(encoding="utf-8")), book) == []
        assert pe.evaluate(state, book, as_of=book.end + dt.timedelta(days=1)).outcomes


# --------------------------------------------------------------------------- auto


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        ("2024-04-01", "nhs-2024-25"),
        ("2025-03-31", "nhs-2024-25"),
        ("2025-04-01", "nhs-2025-26"),
        (dt.date(2026, 3, 31), "nhs-2025-26"),
    ],
)
def test_auto_picks_the_rulebook_whose_planning_year_holds_the_date(as_of: Any, expected: str) -> None:
    assert pe.rulebook_for(as_of).id == expected


@pytest.mark.parametrize("as_of", ["2024-03-31", "2026-04-01", "2026-12-02"])
def test_auto_refuses_a_date_no_bundled_rulebook_covers(as_of: str) -> None:
    with pytest.raises(pe.RulebookError) as info:
        pe.rulebook_for(as_of)
    text = str(info.value)
    assert "no bundled rulebook covers this date" in text and as_of in text
    assert "nhs-2024-25: 2024-04-01 to 2025-03-31" in text and "nhs-2025-26: 2025-04-01 to 2026-03-31" in text


def test_auto_refuses_what_is_not_a_date() -> None:
    with pytest.raises(pe.RulebookError, match="as_of is not a date"):
        pe.rulebook_for("2025-02-30")
    with pytest.raises(pe.RulebookError, match="as_of is not a date"):
        pe.rulebook_for(20250401)  # type: ignore[arg-type]


def test_bundled_planning_years_that_overlap_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    real = pe.load_rulebook("nhs-2025-26")
    fake = pe.load_rulebook("nhs-2024-25")
    monkeypatch.setattr(years, "bundled_rulebooks", lambda: ["a", "b"])
    import attrs

    overlapping = attrs.evolve(fake, id="nhs-2024-26", end=dt.date(2025, 6, 30))
    monkeypatch.setattr(years, "load_rulebook", lambda name: overlapping if name == "a" else real)
    with pytest.raises(pe.RulebookError) as info:
        pe.rulebook_for("2025-05-01")
    assert "planning years overlap" in str(info.value) and "nhs-2024-26" in str(info.value)


def test_the_cli_says_which_rulebook_auto_picked_and_refuses_an_uncovered_date(tmp_path: Path) -> None:
    example = next((Path(__file__).resolve().parents[1] / "examples").glob("*.json"))
    code, out, err = cli("evaluate", str(example), "--as-of", "2025-06-30", "--rulebook", "auto", "--format", "json")
    assert code == 0, err
    assert "--rulebook auto: nhs-2025-26 (its planning year 2025-04-01 to 2026-03-31 holds 2025-06-30" in err
    assert json.loads(out)["record"]["rulebook_id"] == "nhs-2025-26"
    code, out, err = cli("evaluate", str(example), "--as-of", "2026-12-02", "--rulebook", "auto")
    assert code == 3 and "no bundled rulebook covers this date" in err and out == ""
    code, _, err = cli("rules", "--rulebook", "auto")
    assert code == 2 and "--rulebook auto needs a date" in err


# --------------------------------------------------------------------------- diff by measure


def year_book(tmp_path: Path, name: str, start: int, threshold: int, measure: str = "cancer.fds", **extra: Any) -> Any:
    book = external_book(tmp_path / name)
    manifest = yaml.safe_load((book / "rulebook.yaml").read_text(encoding="utf-8"))
    manifest["rulebook"].update(id=name, start=f"{start}-04-01", end=f"{start + 1}-03-31")
    manifest["periods"] = {"mar": {"start": f"{start + 1}-03", "end": f"{start + 1}-03"}}
    (book / "rulebook.yaml").write_text(yaml.safe_dump(manifest), encoding="utf-8")
    doc = yaml.safe_load((book / "demo.yaml").read_text(encoding="utf-8"))
    doc["rules"][0].update(
        id=f"demo.fds-{threshold}",
        period="mar",
        deadline=extra.pop("deadline", f"{start + 1}-03-31"),
        measure=measure,
        parameters={"threshold": {"value": threshold, "unit": "percent"}},
        condition=extra.pop("condition", "pct(cancer_fds_28day, mar) >= param.threshold"),
    )
    (book / "demo.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    return pe.load_rulebook(book)


@pytest.mark.parametrize(
    ("threshold", "extra", "change"),
    [
        (80, {}, "tightened"),
        (75, {}, "loosened"),
        (77, {}, "re-dated"),
        (77, {"condition": "pct(cancer_fds_28day, mar) <= param.threshold"}, "redefined"),
        (
            77,
            {"condition": "pct(cancer_fds_28day, mar) >= param.threshold and pct(cancer_62day_combined, mar) >= 1"},
            "redefined",
        ),
    ],
)
def test_diff_classes_each_measure_across_years(
    tmp_path: Path, threshold: int, extra: dict[str, Any], change: str
) -> None:
    old = year_book(tmp_path, "demo-2030-31", 2030, 77)
    new = year_book(tmp_path, "demo-2031-32", 2031, threshold, **extra)
    diff = diff_years(old, new)
    assert [(c.measure, c.change) for c in diff.changes] == [("cancer.fds", change)]
    text = diff.to_text()
    assert change.upper() in text and "demo.fds-77 -> demo.fds-" in text
    assert text.count("\u201cSystems must reach 77% by March 2025\u201d") == 2  # both quotes
    if change == "tightened":
        assert "threshold on pct(cancer_fds_28day, mar): >= 77% -> >= 80%" in text
        assert "deadline: by 2031-03-31 -> by 2032-03-31" in text


def test_diff_pairs_by_measure_not_id_and_lists_new_and_dropped(tmp_path: Path) -> None:
    old = year_book(tmp_path, "demo-2030-31", 2030, 77, measure="cancer.fds")
    new = year_book(tmp_path, "demo-2031-32", 2031, 77, measure="cancer.other")
    diff = diff_years(old, new)
    assert sorted((c.measure, c.change) for c in diff.changes) == [("cancer.fds", "dropped"), ("cancer.other", "new")]
    assert set(diff.counts()) == set(CHANGE_CLASSES)


def test_diff_between_the_bundled_years_pairs_the_named_measures() -> None:
    diff = diff_years(pe.load_rulebook("nhs-2024-25"), pe.load_rulebook("nhs-2025-26"))
    by_measure = {c.measure: c for c in diff.changes}
    fds = by_measure["cancer.fds"]
    assert fds.change == "tightened" and fds.old is not None and fds.new is not None
    assert "77" in fds.details[0] and "80" in fds.details[0]
    assert by_measure["cancer.62day"].change == "tightened"
    assert by_measure["uec.ae-4h"].change == "re-dated"
    assert by_measure["cancer.62day"].details[0] == (
        "threshold: pct(cancer_62day_combined, mar_2025) >= 70% -> pct(cancer_62day_combined, mar_2026) >= 75%"
    )
    # a breach unchanged in itself follows the target it reads, and says so
    breach = by_measure["uec.ae-4h-missed"]
    assert breach.change == "re-dated" and breach.details == ("reads uec.ae-4h, re-dated",)
    code, out, _ = cli("diff", "nhs-2024-25", "nhs-2025-26", "--format", "json")
    assert code == 0 and {c["measure"] for c in json.loads(out)["changes"]} >= {"cancer.fds", "uec.ae-4h"}


def test_the_order_of_conjuncts_does_not_make_a_measure_redefined(tmp_path: Path) -> None:
    both = "pct(cancer_fds_28day, mar) >= param.threshold and pct(cancer_62day_combined, mar) >= 60"
    swapped = "pct(cancer_62day_combined, mar) >= 60 and pct(cancer_fds_28day, mar) >= param.threshold"
    old = year_book(tmp_path, "demo-2030-31", 2030, 77, condition=both)
    new = year_book(tmp_path, "demo-2031-32", 2031, 80, condition=swapped)
    [change] = diff_years(old, new).changes
    assert change.change == "tightened" and change.details[0].endswith(">= 77% -> >= 80%")

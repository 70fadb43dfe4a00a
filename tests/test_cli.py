"""The command line: outputs, exit codes, and nothing written when the input is bad."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from policy_engine._resources import load_schema
from policy_engine.cli import EXIT_ENGINE, EXIT_INVALID, EXIT_OK, EXIT_USAGE, run

STATE: dict[str, Any] = {
    "as_of": "2025-04-20",
    "cohorts": [{"scope": "national", "types": ["acute_trust"], "source": "test: the only Type 1 provider"}],
    "organisations": [
        {"id": "QA1", "type": "icb", "name": "Example ICB"},
        {
            "id": "RA1",
            "type": "acute_trust",
            "parent": "QA1",
            "services": ["type1_ae"],
            "metrics": {
                "ae_4h_all": [{"period": "2025-03", "numerator": 779, "denominator": 1000}],
                "ae_4h_type1": [
                    {"period": "2024-03", "numerator": 700, "denominator": 1000},
                    {"period": "2025-03", "numerator": 801, "denominator": 1000},
                ],
            },
        },
    ],
}


def _state_file(tmp_path: Path, doc: Any = STATE, raw: bytes | None = None) -> str:
    p = tmp_path / "state.json"
    p.write_bytes(raw if raw is not None else json.dumps(doc).encode())
    return str(p)


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_evaluate_json_matches_the_outcome_schema(tmp_path: Path) -> None:
    code, out, err = _run("evaluate", _state_file(tmp_path), "--format", "json", "--backend", "native")
    assert code == EXIT_OK, err
    doc = json.loads(out)
    jsonschema.validate(doc, load_schema("outcome.schema.json"))
    statuses = {(o["rule"], o["organisation"]): o["status"] for o in doc["outcomes"]}
    assert statuses[("uec.ae-4h-78", "RA1")] == "not_met"
    assert statuses[("uec.ae-4h-78-missed", "RA1")] == "breached"
    assert statuses[("uec.type1-ae-over-80", "RA1")] == "eligible"
    assert statuses[("uec.type1-ae-incentive", "RA1")] == "eligible"


def test_default_format_is_json_when_not_a_terminal(tmp_path: Path) -> None:
    code, out, _ = _run("evaluate", _state_file(tmp_path))
    assert code == EXIT_OK
    assert json.loads(out)["schema"] == "policy-engine/evaluation/1"


def test_table_format_and_filters(tmp_path: Path) -> None:
    code, out, _ = _run("evaluate", _state_file(tmp_path), "--format", "table", "--status", "breached", "--org", "RA1")
    assert code == EXIT_OK
    lines = [line for line in out.splitlines() if line.startswith("RA1")]
    assert lines and all("breached" in line for line in lines)
    assert "uec.ae-4h-78-missed" in out


def test_as_of_option_moves_the_judgement(tmp_path: Path) -> None:
    code, out, _ = _run("evaluate", _state_file(tmp_path), "--as-of", "2025-03-31", "--format", "json")
    assert code == EXIT_OK
    doc = json.loads(out)
    status = next(o["status"] for o in doc["outcomes"] if o["rule"] == "uec.ae-4h-78" and o["organisation"] == "RA1")
    assert status == "due"
    assert doc["record"]["as_of"] == "2025-03-31"


def test_output_file_is_written_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    code, out, _ = _run("evaluate", _state_file(tmp_path), "-o", str(target), "--format", "json")
    assert code == EXIT_OK and out == ""
    assert json.loads(target.read_text())["outcomes"]
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    target2 = tmp_path / "out2.json"
    code, out, _ = _run("evaluate", str(bad), "-o", str(target2))
    assert code == EXIT_INVALID
    assert not target2.exists() and out == ""


def test_invalid_state_exit_code_and_error_list(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(STATE))
    doc["organisations"][1]["metrics"]["ae_4h_all"][0]["numerator"] = 1203
    doc["organisations"][1]["metrics"]["ae_4h_all"][0]["denominator"] = 1100
    code, out, err = _run("evaluate", _state_file(tmp_path, doc))
    assert code == EXIT_INVALID
    assert out == ""
    assert "state.organisations[1] (RA1).metrics.ae_4h_all[0]: expected numerator <= denominator" in err
    assert "1203 > 1100" in err
    assert "Traceback" not in err


def test_invalid_json_and_missing_file(tmp_path: Path) -> None:
    code, out, err = _run("validate", _state_file(tmp_path, raw=b'{"organisations": [}'))
    assert code == EXIT_INVALID and out == ""
    assert "line 1 column" in err
    code, _, err = _run("validate", str(tmp_path / "nope.json"))
    assert code == EXIT_INVALID and "cannot read" in err


def test_validate_ok(tmp_path: Path) -> None:
    code, out, _ = _run("validate", _state_file(tmp_path))
    assert code == EXIT_OK
    assert "valid (2 organisations)" in out


def test_explain_shows_the_chain_and_the_quote(tmp_path: Path) -> None:
    code, out, _ = _run("explain", _state_file(tmp_path), "uec.type1-ae-incentive", "RA1", "--backend", "native")
    assert code == EXIT_OK
    assert "uec.type1-ae-incentive [RA1]: ELIGIBLE" in out
    assert "derived from:" in out
    assert "uec.type1-ae-over-80 [RA1]: ELIGIBLE" in out
    assert "80.1%" in out and "801/1000" in out
    assert "over 80% A&E 4-hour performance" in out
    code, out, _ = _run("explain", _state_file(tmp_path), "uec.ae-4h-78", "RA1", "--format", "json")
    assert code == EXIT_OK
    assert json.loads(out)["status"] == "not_met"


def test_explain_unknown_outcome_is_an_input_error(tmp_path: Path) -> None:
    code, out, err = _run("explain", _state_file(tmp_path), "uec.cat2-mean-30min", "RA1")
    assert code == EXIT_INVALID and out == ""
    assert "no such outcome" in err


def test_rules_lists_every_rule_with_its_citation() -> None:
    import policy_engine as pe

    code, out, _ = _run("rules", "--format", "json")
    assert code == EXIT_OK
    rules = json.loads(out)
    assert len(rules) == len(pe.load_rulebook().rules)
    assert all(r["source"]["quote"] and r["source"]["document"] for r in rules)
    code, out, _ = _run("rules", "--area", "urgent-emergency-care")
    assert code == EXIT_OK and "uec.ae-4h-78" in out and "elec." not in out


def test_usage_errors() -> None:
    code, _, _ = _run("no-such-command")
    assert code == EXIT_USAGE
    code, _, _ = _run("evaluate")
    assert code == EXIT_USAGE


def test_unknown_rulebook_and_unavailable_backend(tmp_path: Path) -> None:
    code, _, err = _run("rules", "--rulebook", "no-such-book")
    assert code == EXIT_INVALID and "unknown rulebook" in err
    assert EXIT_ENGINE == 4


def test_console_script_runs_without_traceback(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("policy-engine")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "policy_engine"]
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff\xfe not utf-8")
    env = dict(os.environ)
    result = subprocess.run([*cmd, "evaluate", str(bad)], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == EXIT_INVALID
    assert "Traceback" not in result.stderr
    assert "not UTF-8" in result.stderr
    assert result.stdout == ""


def test_coverage_command_prints_counts_per_area() -> None:
    import policy_engine as pe
    from policy_engine.audit.coverage import load_coverage

    code, out, err = _run("coverage")
    assert code == EXIT_OK, err
    assert "| urgent-emergency-care |" in out and "| **total** |" in out
    cov = load_coverage(pe.load_rulebook())
    undecided = [e.id for e in cov.entries if e.not_a_rule and e.not_a_rule.upper().startswith("NO RULE")]
    assert not undecided, f"ledger items left undecided: {undecided}"
    total_rules = sum(c["rules"] for c in cov.counts().values())
    assert total_rules == len(pe.load_rulebook().rules)
    scen = str(Path(__file__).parent / "scenarios")
    code, out, _ = _run("coverage", "--scenarios", scen)
    assert code == EXIT_OK
    matrix = out[out.index("## Guidance item \u2192 rules \u2192 scenario tests") :]
    assert "| `objective.2` | urgent-emergency-care | `uec.ae-4h-78` (" in matrix
    assert "(0)" not in matrix  # every rule has at least one scenario test
    code, out, _ = _run("coverage", "--format", "html", "--scenarios", scen)
    assert "scenario tests)" in out
    code, out, _ = _run("coverage", "--format", "html")
    assert code == EXIT_OK and out.startswith("<!DOCTYPE html>")
    assert '<tr id="objective.2">' in out and "<code>uec.ae-4h-78</code>" in out and "not a rule:" in out
    code, out, _ = _run("coverage", "--format", "json")
    assert code == EXIT_OK
    assert json.loads(out)["counts"]["urgent-emergency-care"]["rules"] >= 10


def test_decision_record_round_trip_and_tamper_detection(tmp_path: Path) -> None:
    state = _state_file(tmp_path)
    record = tmp_path / "record.json"
    log = tmp_path / "audit.jsonl"
    for _ in range(2):
        code, _, err = _run("evaluate", state, "--backend", "native", "--record", str(record), "--log", str(log))
        assert code == EXIT_OK, err
    doc = json.loads(record.read_text())
    jsonschema.validate(doc, load_schema("decision-record.schema.json"))
    assert len(log.read_text().splitlines()) == 2
    code, out, err = _run("verify-record", str(record), state)
    assert code == EXIT_OK, err
    assert "confirmed" in out
    # The data changed since the record was made: verify-record says exactly what differs.
    changed = json.loads(json.dumps(STATE))
    changed["organisations"][1]["metrics"]["ae_4h_all"][0]["numerator"] = 900
    other = tmp_path / "other"
    other.mkdir()
    code, out, err = _run("verify-record", str(record), _state_file(other, changed))
    assert code == 5 and out == ""
    assert "state digest" in err
    assert "uec.ae-4h-78 / RA1: recorded not_met, now met" in err
    # A record that is not a record.
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"schema": "something else"}')
    code, _, err = _run("verify-record", str(bogus), state)
    assert code == EXIT_INVALID and "not a decision record" in err


def _console(*argv: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("policy-engine")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "policy_engine"]
    return subprocess.run([*cmd, *argv], capture_output=True, text=True, timeout=120)


def test_a_bad_as_of_option_says_the_format_expected_once(tmp_path: Path) -> None:
    result = _console("evaluate", _state_file(tmp_path), "--as-of", "15/05/2025")
    assert result.returncode == EXIT_INVALID and result.stdout == ""
    assert '--as-of: expected a date as YYYY-MM-DD, e.g. 2025-03-31 (got "15/05/2025")' in result.stderr
    assert result.stderr.count("15/05/2025") == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_every_command_with_as_of_checks_it_first(tmp_path: Path) -> None:
    state = _state_file(tmp_path)
    for argv in [
        ("evaluate", state),
        ("explain", state, "uec.ae-4h-78", "RA1"),
        ("what-if", state, "uec.ae-4h-78", "RA1"),
        ("report", state),
        ("diff", "nhs-2024-25", "nhs-2024-25", "--state", state),
        ("import", "ae", str(tmp_path / "not-read.csv")),
    ]:
        code, out, err = _run(*argv, "--as-of", "2025-02-30")
        assert code == EXIT_INVALID and out == "", (argv, err)
        assert "--as-of: expected a valid date as YYYY-MM-DD, e.g. 2025-03-31: day is out of range" in err, argv
        assert err.count("2025-02-30") == 1, err


def test_a_bad_date_in_a_state_file_is_one_problem(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(STATE))
    doc["as_of"] = "20/04/2025"
    doc["organisations"][1]["metrics"]["ae_4h_all"][0]["period"] = "03/2025"
    result = _console("validate", _state_file(tmp_path, doc))
    assert result.returncode == EXIT_INVALID and result.stdout == ""
    problems = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert problems == [
        '  - state.as_of: expected a date as YYYY-MM-DD, e.g. 2025-03-31 (got "20/04/2025")',
        "  - state.organisations[1] (RA1).metrics.ae_4h_all[0].period: expected a month as YYYY-MM, e.g. 2025-03 "
        '(got "03/2025")',
    ], result.stderr


def test_a_durable_record_is_verified_on_native_where_durable_cannot_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import policy_engine as pe
    from policy_engine.audit.records import field_digests, verify_record
    from policy_engine.evaluation import durable

    state = _state_file(tmp_path)
    record = tmp_path / "record.json"
    made_with = "durable" if "durable" in pe.available_backends() else "native"
    code, _, err = _run("evaluate", state, "--backend", made_with, "--record", str(record))
    assert code == EXIT_OK, err
    doc = json.loads(record.read_text())
    doc["backend"] = "durable"  # as made on a machine where durable-rules imports
    doc["field_digests"] = field_digests(doc)  # ... and sealed there
    record.write_text(json.dumps(doc))
    monkeypatch.setattr(durable, "_IMPORT_ERROR", "ImportError: simulated (as on Python 3.13)")
    assert pe.available_backends() == ["native"]
    code, out, err = _run("verify-record", str(record), state)
    assert code == EXIT_OK, err
    assert out.startswith("the record is confirmed")
    assert "re-run with the native backend, not the recorded one: durable-rules does not import" in out
    assert err.startswith("policy-engine: note: the record was made with the durable backend; re-verified with")
    assert "ImportError: simulated" in err
    check = verify_record(doc, pe.load_state(state))
    assert check.ok and check.backend == "native" and check.fallback is not None
    # A record of the native backend needs no fallback, and says nothing about one.
    doc["backend"] = "native"
    doc["field_digests"] = field_digests(doc)
    check = verify_record(doc, pe.load_state(state))
    assert check.ok and (check.backend, check.fallback) == ("native", None)
    assert str(check) == "the record is confirmed: same input, rulebook and outcomes"


def test_verify_sources_lists_hashes_of_the_texts_checked() -> None:
    import hashlib

    from policy_engine._resources import policies_root

    code, out, err = _run("verify-sources")
    assert code == EXIT_OK, err
    raw = (policies_root() / "nhs-2024-25" / "sources" / "national-objectives-2024-25.md").read_bytes()
    assert f"{hashlib.sha256(raw).hexdigest()}" in out
    assert "449 of 449 quotes found verbatim (218 of rules, 231 of ledger entries)" in out


# ----------------------------------------------------------------------------- filters and selectors

EXAMPLE = str(Path(__file__).resolve().parents[1] / "examples" / "state.json")


def test_the_filters_of_issue_14_are_usage_errors_not_empty_output() -> None:
    for argv, hint in [
        (("evaluate", EXAMPLE, "--org", "EXZ"), "no organisation 'EXZ' in the state"),
        (("evaluate", EXAMPLE, "--org", "exb"), "did you mean EXB?"),
        (("evaluate", EXAMPLE, "--status", "breach"), "did you mean breached"),
        (("evaluate", EXAMPLE, "--status", "breached,overdue,nope"), "valid: breached, due, eligible"),
        (("report", EXAMPLE, "--org", "EXZ"), "no organisation 'EXZ' in the state"),
        (("rules", "--area", "uec"), "did you mean urgent-emergency-care?"),
    ]:
        code, out, err = _run(*argv)
        assert code == EXIT_USAGE and out == "", argv
        assert err.startswith("policy-engine: usage error: unknown ") and hint in err, (argv, err)


def test_each_unknown_selector_on_each_command(tmp_path: Path) -> None:
    state = _state_file(tmp_path)
    cases = [
        (("evaluate", state, "--org", "RA9"), "--org: no organisation 'RA9'"),
        (("evaluate", state, "--status", "failed"), "--status: no status 'failed'"),
        (("report", state, "--org", "QA1,RA9"), "--org: no organisation 'RA9'"),
        (("rules", "--area", "cancer,nope"), "--area: no area 'nope' in the rulebook"),
        (("explain", state, "uec.ae-4h-87", "RA1"), "RULE: no rule 'uec.ae-4h-87' in the rulebook; did you mean"),
        (("explain", state, "uec.ae-4h-78", "RA9"), "ORG: no organisation 'RA9' in the state"),
        (("what-if", state, "uec.ae-4h-87", "RA1"), "RULE: no rule 'uec.ae-4h-87'"),
        (("what-if", state, "uec.ae-4h-78", "ra1"), "ORG: no organisation 'ra1' in the state; did you mean RA1?"),
    ]
    for argv, hint in cases:
        code, out, err = _run(*argv)
        assert code == EXIT_USAGE and out == "", argv
        assert hint in err, (argv, err)
    # Both unknown: both named, in one message.
    code, _, err = _run("explain", state, "nope", "RA9")
    assert code == EXIT_USAGE and "unknown rule and organisation" in err and "RULE:" in err and "ORG:" in err
    # Known rule and organisation, but the rule does not apply to the trust: still an input error (3).
    assert _run("what-if", state, "uec.cat2-mean-30min", "RA1")[0] == EXIT_INVALID


def test_an_unknown_filter_writes_no_output_record_or_log(tmp_path: Path) -> None:
    target, record, log = tmp_path / "out.json", tmp_path / "record.json", tmp_path / "audit.jsonl"
    argv = ["evaluate", _state_file(tmp_path), "--org", "RA9", "-o", str(target), "--record", str(record)]
    code, out, _ = _run(*argv, "--log", str(log))
    assert code == EXIT_USAGE and out == ""
    assert not target.exists() and not record.exists() and not log.exists()
    code, _, _ = _run("report", _state_file(tmp_path), "--org", "nope", "-o", str(target))
    assert code == EXIT_USAGE and not target.exists()


def test_comma_lists_and_repeated_options_are_the_same_filter(tmp_path: Path) -> None:
    state = _state_file(tmp_path)

    def chosen(*filters: str) -> set[tuple[str, str]]:
        code, out, err = _run("evaluate", state, "--format", "json", "--backend", "native", *filters)
        assert code == EXIT_OK, err
        return {(o["organisation"], o["status"]) for o in json.loads(out)["outcomes"]}

    listed = chosen("--status", "breached,not_met", "--org", "QA1, RA1")
    assert listed == chosen("--status", "breached", "--status", "not_met", "--org", "QA1", "--org", "RA1")
    assert listed == chosen("--status", "breached,not_met", "--status", "breached")
    assert {s for _, s in listed} == {"breached", "not_met"}
    code, out, _ = _run("rules", "--area", "cancer,urgent-emergency-care", "--format", "json")
    assert code == EXIT_OK and {r["area"] for r in json.loads(out)} == {"cancer", "urgent-emergency-care"}
    code, out, _ = _run("rules", "--area", "cancer", "--area", "urgent-emergency-care")
    assert code == EXIT_OK and "uec.ae-4h-78" in out and "rules in nhs-2024-25" in out
    assert "matched --area cancer,urgent-emergency-care" in out
    code, out, _ = _run("report", state, "--org", "QA1,RA1", "--format", "md")
    assert code == EXIT_OK and "## QA1" in out and "## RA1" in out
    code, _, err = _run("evaluate", state, "--status", "breached,")
    assert code == EXIT_USAGE and "an empty status" in err


def test_a_valid_filter_that_matches_nothing_says_so(tmp_path: Path) -> None:
    state = _state_file(tmp_path)
    code, out, err = _run("evaluate", state, "--format", "table", "--status", "overdue,met_late", "--org", "RA1")
    assert code == EXIT_OK, err
    assert out.startswith("No outcome matched --org RA1 --status overdue,met_late.\n")
    assert "ORGANISATION" not in out and "0 of " in out
    code, out, _ = _run("evaluate", state, "--format", "table", "--status", "breached")
    assert code == EXIT_OK and "outcomes matched --status breached (breached: " in out
    # JSON stays the evaluation document, with no outcomes.
    code, out, _ = _run("evaluate", state, "--format", "json", "--status", "overdue")
    assert code == EXIT_OK
    doc = json.loads(out)
    jsonschema.validate(doc, load_schema("outcome.schema.json"))
    assert doc["outcomes"] == [] and doc["summary"] == {}


def test_batch_refuses_filters_it_would_ignore(tmp_path: Path) -> None:
    lines = tmp_path / "states.jsonl"
    lines.write_text(json.dumps(STATE) + "\n")
    code, out, err = _run("evaluate", str(lines), "--batch", "--status", "breached")
    assert code == EXIT_USAGE and out == "" and "not accepted with --batch" in err


def test_console_script_exits_2_on_an_unknown_organisation() -> None:
    exe = Path(sys.executable).with_name("policy-engine")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "policy_engine"]
    argv = [*cmd, "evaluate", EXAMPLE, "--org", "exb,EXZ", "--status", "breach"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert result.returncode == EXIT_USAGE and result.stdout == ""
    assert "did you mean EXB?" in result.stderr and "no organisation 'EXZ'" in result.stderr
    assert "did you mean breached" in result.stderr and "Traceback" not in result.stderr


def test_every_command_is_declared_once_and_is_what_the_parser_offers() -> None:
    import argparse

    from policy_engine import cli

    names = [c.name for c in cli.COMMANDS]
    assert len(names) == len(set(names))
    parser = cli._parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == names


def test_backend_names_are_the_libraries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import policy_engine as pe

    for backend in pe.EVALUATE_BACKENDS:
        if backend == "durable" and "durable" not in pe.available_backends():
            continue
        code, out, err = _run("evaluate", _state_file(tmp_path), "--backend", backend.value, "--format", "json")
        assert code == EXIT_OK, err
        assert json.loads(out)["record"]["backend"] == pe.resolve_backend(backend)
    # columnar is the table evaluator: a state file is a usage error that says so, and nothing is written.
    code, out, err = _run("evaluate", _state_file(tmp_path), "--backend", "columnar")
    assert code == EXIT_USAGE and out == ""
    assert "--backend columnar evaluates tables only" in err and "auto, native, durable" in err
    # compiled gives statuses only: not a choice of a command that prints outcomes.
    for command in (["evaluate", _state_file(tmp_path)], ["explain", _state_file(tmp_path), "uec.ae-4h-78", "RA1"]):
        code, _, _ = _run(*command, "--backend", "compiled")
        assert code == EXIT_USAGE and "invalid choice: 'compiled'" in capsys.readouterr().err  # argparse's own


# --------------------------------------------------------------------------- a folder named like a bundled rulebook


def test_a_folder_named_like_the_bundled_rulebook_is_not_used_and_records_say_which(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a directory holding a modified copy ``nhs-2024-25/`` (78% made 70%), ``--rulebook
    nhs-2024-25`` is the bundled rulebook and its record says so; ``./nhs-2024-25`` is the copy, and
    its record names the folder; verify-record tells them apart."""
    import shutil

    from policy_engine._resources import policies_root

    copy = tmp_path / "nhs-2024-25"
    shutil.copytree(Path(str(policies_root() / "nhs-2024-25")), copy)
    rules = copy / "urgent-emergency-care.yaml"
    rules.write_text(
        rules.read_text(encoding="utf-8").replace("{value: 78, unit: percent", "{value: 70, unit: percent"), "utf-8"
    )
    monkeypatch.chdir(tmp_path)
    status = {}
    for name, given in (("bundled", "nhs-2024-25"), ("copy", "./nhs-2024-25")):
        code, out, err = _run(
            "evaluate", EXAMPLE, "--backend", "native", "--rulebook", given, "--record", f"{name}.json"
        )
        assert code == EXIT_OK, err
        status[name] = {
            o["organisation"]: o["status"] for o in json.loads(out)["outcomes"] if o["rule"] == "uec.ae-4h-78"
        }
    assert status["bundled"]["EXA"] == "not_met" and status["copy"]["EXA"] == "met"  # 74.2%: below 78, above 70
    bundled = json.loads(Path("bundled.json").read_text(encoding="utf-8"))
    folder = json.loads(Path("copy.json").read_text(encoding="utf-8"))
    assert bundled["rulebook_source"] == "bundled"
    assert folder["rulebook_source"] == str(copy)
    assert bundled["rulebook_id"] == folder["rulebook_id"] == "nhs-2024-25"
    assert bundled["rulebook_digest"] != folder["rulebook_digest"]
    # Each verifies against the rulebook it names, from anywhere.
    monkeypatch.chdir(copy.parent.parent)
    for name in ("bundled", "copy"):
        code, out, err = _run("verify-record", str(tmp_path / f"{name}.json"), EXAMPLE)
        assert (code, err) == (EXIT_OK, ""), err
    # The copy's record against the bundled rulebook: a note saying so, and the difference.
    code, out, err = _run("verify-record", str(tmp_path / "copy.json"), EXAMPLE, "--rulebook", "nhs-2024-25")
    assert code == 5
    assert err.startswith(
        f"policy-engine: note: the record was made with the rulebook read from the folder {copy}; "
        "verified against the rulebook bundled with the package\n"
    )
    assert "rulebook digest" in err and "uec.ae-4h-78 / EXA: recorded met, now not_met" in err


@pytest.mark.parametrize(
    ("field", "value"), [("rulebook_source", "nhs-2024-25"), ("rulebook_source", "../x"), ("rulebook_id", "../x")]
)
def test_a_record_naming_its_rulebook_by_a_relative_path_is_refused(tmp_path: Path, field: str, value: str) -> None:
    code, _, err = _run("evaluate", EXAMPLE, "--backend", "native", "--record", str(tmp_path / "r.json"))
    assert code == EXIT_OK, err
    record = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    record[field] = value
    (tmp_path / "r.json").write_text(json.dumps(record), encoding="utf-8")
    code, _, err = _run("verify-record", str(tmp_path / "r.json"), EXAMPLE)
    assert code == EXIT_INVALID
    assert err.startswith("policy-engine: invalid input: not a decision record\n  - record.")
    assert f"{field}:" in err and repr(value)[:80].strip("'") in err

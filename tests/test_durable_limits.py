"""The durable backend on rulebooks of any size and shape: split into rulesets within durable-rules'
measured limits (decision 020), it gives the native backend's statuses, never a crash.

durable-rules 2.0.28 fails in C: 256 rules matching one organisation type segfault, 257 fail with
error 108; 65 rules reading one outcome silently fire none of them; 17 conditions in one rule fail
with error 307; 65 rules with an ``or`` of types fail with error 303. A crash must not take the test
runner with it, so every full-size probe runs in a subprocess and the test asserts its exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine.evaluation import durable

pytestmark = pytest.mark.skipif("durable" not in pe.available_backends(), reason="durable-rules not importable")

BUNDLED = Path(__file__).resolve().parent.parent / "policies" / "nhs-2024-25"
DOC = "news-hhe-designated-lead.txt"
QUOTE = "reducing Category 2 ambulance response times to an average of 30 minutes across 2024/25"
TYPES = ["acute_trust", "ambulance_trust", "icb"]


# --------------------------------------------------------------------------- generated rulebooks


def threshold_rule(i: int, types: list[str], reads: Sequence[int] = (), rank: bool = False) -> dict[str, Any]:
    """Rule ``gen.r{i}``: a threshold on a fact, or'ed with the outcomes it reads (so chaining
    changes statuses), or a rank() rule."""
    condition = f'fact("f_hours") > {i % 97}'
    if reads:
        condition = " or ".join([*(f'outcome("gen.r{j}") == "met"' for j in reads), condition])
    rule: dict[str, Any] = {
        "id": f"gen.r{i}",
        "title": f"Generated rule {i}",
        "kind": "target",
        "applies_to": list(types),
        "condition": condition,
        "source": {"document": DOC, "section": "Improving care", "quote": QUOTE},
    }
    if rank:
        rule.update(
            kind="eligibility",
            cohort="national",
            condition=f'rank(fact("f_hours")) <= {1 + i % 3}',
            applies_to=["acute_trust"],
        )
    return rule


def write_book(root: Path, rules: list[dict[str, Any]]) -> Path:
    book = root / "book"
    (book / "sources").mkdir(parents=True, exist_ok=True)
    (book / "rulebook.yaml").write_bytes((BUNDLED / "rulebook.yaml").read_bytes())
    for entry in (BUNDLED / "sources").iterdir():
        (book / "sources" / entry.name).write_bytes(entry.read_bytes())
    area = {
        "area": "gen",
        "title": "Generated rules",
        "facts": {"f_hours": {"type": "number", "unit": "hours", "label": "hours", "description": "hours"}},
        "rules": rules,
    }
    (book / "gen.yaml").write_text(yaml.safe_dump(area, sort_keys=False), encoding="utf-8")
    return book


def state(orgs: int = 4) -> dict[str, Any]:
    return {
        "as_of": "2025-04-20",
        "cohorts": [{"scope": "national", "types": ["acute_trust"], "source": "test: every acute trust"}],
        "organisations": [
            {
                "id": f"O{j}",
                "type": TYPES[j % len(TYPES)] if j >= 2 else "acute_trust",
                "facts": [{"name": "f_hours", "value": (j * 37) % 101, "date": "2025-01-01"}],
            }
            for j in range(orgs)
        ]
        + [{"id": "NOONE", "type": "gp_practice"}],  # a type no rule applies to gets no session
    }


# The probe: load the book, evaluate on durable and on native, report whether they agree.
PROBE = textwrap.dedent(
    """
    import json, sys
    import policy_engine as pe
    from policy_engine.evaluation import durable
    book = pe.load_rulebook(sys.argv[1])
    doc = json.loads(open(sys.argv[2]).read())
    got = pe.statuses(doc, book, backend="durable")
    want = pe.statuses(doc, book, backend="native")
    same = got == want
    if sys.argv[3] == "evaluate":
        outcomes = [pe.evaluate(doc, book, backend=b).outcomes for b in ("durable", "native")]
        same = same and outcomes[0] == outcomes[1]
    rulesets = len(durable._COMPILED[book.digest].names)
    print(json.dumps({"same": same, "rulesets": rulesets, "decided": sum(len(s) for s in got.values())}))
    """
)


def probe(tmp_path: Path, rules: list[dict[str, Any]], mode: str = "statuses", orgs: int = 4) -> dict[str, Any]:
    """Run the probe in a subprocess; a crash is a failed assertion, not a dead test runner."""
    book = write_book(tmp_path, rules)
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(state(orgs)), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(book), str(state_file), mode],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["same"], result
    return result


# --------------------------------------------------------------------------- sizes around every limit


@pytest.mark.parametrize(
    "n",
    [1, 255, 256, 257, 499, 500, 512, 513, pytest.param(1000, marks=pytest.mark.slow)],
)
def test_any_number_of_rules_on_one_type(tmp_path: Path, n: int) -> None:
    """n rules all applying to acute trusts; every seventh reads the one before it (chaining that
    crosses the rulesets' boundaries)."""
    rules = [threshold_rule(i, ["acute_trust"], [i - 1] if i and i % 7 == 0 else []) for i in range(n)]
    got = probe(tmp_path, rules)
    assert got["rulesets"] == -(-n // durable.MAX_RULES_PER_TYPE)
    assert got["decided"] == n * sum(o["type"] == "acute_trust" for o in state()["organisations"])


@pytest.mark.slow
def test_two_thousand_rules_on_one_type_with_a_chain_through_all_of_them(tmp_path: Path) -> None:
    rules = [threshold_rule(i, ["acute_trust"], [i - 1] if i else []) for i in range(2000)]
    assert probe(tmp_path, rules)["rulesets"] == 8


@pytest.mark.parametrize("readers", [60, 61, 65, 200])
def test_many_rules_reading_one_outcome(tmp_path: Path, readers: int) -> None:
    """durable gives no error and fires none of 65 rules reading one fact: the adapter keeps them
    to 60 per ruleset (each rule is a durable rule per type), and the outcome goes to every ruleset
    that reads it."""
    rules = [threshold_rule(0, ["acute_trust", "icb"])]
    rules += [threshold_rule(i, ["acute_trust", "icb"], [0]) for i in range(1, readers + 1)]
    got = probe(tmp_path, rules, mode="evaluate")
    assert got["rulesets"] == -(-2 * readers // durable.MAX_READERS_PER_OUTCOME)  # a durable rule per type


@pytest.mark.parametrize("reads", [14, 15, 16, 40])
def test_a_rule_reading_many_outcomes(tmp_path: Path, reads: int) -> None:
    """durable joins at most 16 facts in one rule: a rule reading more is a chain of partial joins."""
    rules = [threshold_rule(i, ["acute_trust"]) for i in range(reads)]
    rules += [threshold_rule(reads, ["acute_trust"], list(range(reads)))]
    probe(tmp_path, rules, mode="evaluate")


def test_many_rules_for_several_types(tmp_path: Path) -> None:
    """65 rules with an ``or`` of types fail in durable with error 303; the adapter writes one durable
    rule per type instead. 300 rules on three types, with rank() rules among them."""
    rules = [threshold_rule(i, TYPES, [i - 1] if i % 5 == 0 and i else [], rank=i % 50 == 3) for i in range(300)]
    probe(tmp_path, rules, mode="evaluate", orgs=9)


# --------------------------------------------------------------------------- the shape of any rulebook, in-process


@st.composite
def rulebooks(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Small rulebooks of any shape: which types each rule applies to, which earlier rules it reads,
    which rank; run against tiny budgets, so chunking, cross-ruleset chaining and join chains all occur."""
    n = draw(st.integers(1, 12))
    rules: list[dict[str, Any]] = []
    for i in range(n):
        types = draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=3, unique=True))
        readable = [j for j, r in enumerate(rules) if set(types) <= set(r["applies_to"])]  # as the loader asks
        reads = draw(st.lists(st.sampled_from(readable), max_size=5, unique=True)) if readable else []
        rules.append(threshold_rule(i, types, reads, rank=draw(st.booleans()) and not reads and i % 4 == 1))
    return rules


@settings(deadline=None)
@given(rules=rulebooks(), orgs=st.integers(1, 7))
def test_any_shape_of_rulebook_within_tiny_budgets(
    tmp_path_factory: pytest.TempPathFactory, rules: list[dict[str, Any]], orgs: int
) -> None:
    book = pe.load_rulebook(write_book(tmp_path_factory.mktemp("book"), rules))
    doc = state(orgs)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(durable, "_COMPILED", {})
        patch.setattr(durable, "MAX_RULES_PER_TYPE", 2)
        patch.setattr(durable, "MAX_READERS_PER_OUTCOME", 1)
        patch.setattr(durable, "MAX_KEYS_PER_FIELD", 3)
        patch.setattr(durable, "MAX_CONDITIONS", 3)
        got = pe.evaluate(doc, book, backend="durable")
        statuses = pe.statuses(doc, book, backend="durable")
    want = pe.evaluate(doc, book, backend="native")
    assert got.outcomes == want.outcomes
    assert statuses == pe.statuses(doc, book, backend="native")
    assert not durable._SESSIONS


# --------------------------------------------------------------------------- durable-rules' own limits, re-measured

RAW = textwrap.dedent(
    """
    import sys
    from durable import engine, lang
    from durable.lang import m, c
    class Host(engine.Host):
        def _run(self):
            return None
    kind, n = sys.argv[1], int(sys.argv[2])
    host, fired = Host(), []
    def act(i):
        def run(cc):
            fired.append(i)
            if i == 0:
                cc.assert_fact({"t": "outcome", "org": cc.o.org, "ses": "s", "rule": "r0"})
        return run
    rs = lang.ruleset("probe")
    with rs:
        if kind == "per_type":  # n rules on one organisation type
            for i in range(n):
                lang.when_all(c.o << ((m.t == "org") & (m.otype == "a")))(act(i + 1))
        elif kind == "readers":  # rule 0, and n rules reading its outcome
            lang.when_all(c.o << ((m.t == "org") & (m.otype == "a")))(act(0))
            for i in range(n):
                read = (m.t == "outcome") & (m.rule == "r0") & (m.org == c.o.org) & (m.ses == c.o.ses)
                lang.when_all(c.o << ((m.t == "org") & (m.otype == "a")), c.d << read)(act(i + 1))
        elif kind == "conditions":  # one rule joining the organisation and n - 1 outcomes
            conds = [c.o << ((m.t == "org") & (m.otype == "a"))]
            for k in range(n - 1):
                conds.append(getattr(c, f"d{k}") << ((m.t == "outcome") & (m.rule == f"r{k}") & (m.org == c.o.org)))
            lang.when_all(*conds)(act(1))
    name, definition = rs.define()
    host.register_rulesets({name: definition})
    host.assert_fact(name, {"sid": "s", "t": "org", "otype": "a", "org": "A", "ses": "s"})
    if kind == "conditions":
        for k in range(n - 1):
            host.assert_fact(name, {"sid": "s", "t": "outcome", "rule": f"r{k}", "org": "A", "ses": "s"})
    print(len([i for i in fired if i]))
    """
)


def raw(kind: str, n: int) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-c", RAW, kind, str(n)], capture_output=True, text=True, timeout=120, check=False
    )
    return done.returncode, done.stdout.strip() or done.stderr.strip().splitlines()[-1]


def test_the_budgets_sit_below_durable_rules_measured_limits() -> None:
    """At each limit durable-rules works; one past it, it fails (the way the module docstring says).
    Should a new durable-rules move a limit, this says so."""
    assert raw("per_type", 255) == (0, "255") and durable.MAX_RULES_PER_TYPE < 255
    assert raw("per_type", 257)[1].endswith("error code: 108")
    assert raw("readers", 64) == (0, "64") and durable.MAX_READERS_PER_OUTCOME < 64
    assert raw("readers", 65) == (0, "0")  # silently: none of the 65 fires
    assert raw("conditions", 16) == (0, "1") and durable.MAX_CONDITIONS <= 16
    failed, message = raw("conditions", 17)
    assert failed and "error code: 30" in message, message  # 304 or 307, by the facts' order

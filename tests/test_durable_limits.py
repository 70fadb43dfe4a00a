"""The durable backend on rulebooks of any size and shape: split into rulesets within durable-rules'
measured limits (decision 020), it gives the native backend's statuses, never a crash.

durable-rules 2.0.28 fails in C: 256 rules matching one organisation type segfault, 257 fail with
error 108; 65 rules reading one outcome silently fire none of them; 17 conditions in one rule fail
with error 307; 65 rules with an ``or`` of types fail with error 303. A crash must not take the test
runner with it, so every full-size probe runs in a subprocess and the test asserts its exit code.
"""

from __future__ import annotations

import collections
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
from policy_engine.evaluation.decide import dependency_levels

pytestmark = pytest.mark.skipif("durable" not in pe.available_backends(), reason="durable-rules not importable")

BUNDLED = Path(__file__).resolve().parent.parent / "policies" / "nhs-2024-25"
DOC = "news-hhe-designated-lead.txt"
QUOTE = "reducing Category 2 ambulance response times to an average of 30 minutes across 2024/25"
TYPES = ["acute_trust", "ambulance_trust", "icb"]


# --------------------------------------------------------------------------- generated rulebooks


def threshold_rule(i: int, types: list[str], reads: Sequence[int] = (), rank: bool = False) -> dict[str, Any]:
    """Rule ``gen.r{i}``: a threshold on a fact, or a rank() rule on acute trusts, or'ed with the
    outcomes it reads (so chaining changes statuses; a rank() rule reading outcomes ranks in a
    later stratum than they)."""
    condition = f'rank(fact("f_hours")) <= {1 + i % 3}' if rank else f'fact("f_hours") > {i % 97}'
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
        rule.update(kind="eligibility", cohort="national", applies_to=["acute_trust"])
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
    compiled = durable._COMPILED[book.digest]
    print(json.dumps({
        "same": same,
        "rulesets": len(compiled.names),
        "decided": sum(len(s) for s in got.values()),
        "largest": max(len(g.rules) for g in compiled.groups),
        "links": max(len(g.links()) for g in compiled.groups),
    }))
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


def chain(n: int, types: list[str], start: int = 0, also: Sequence[int] = ()) -> list[dict[str, Any]]:
    """Rules ``gen.r{start}``... ``gen.r{start + n - 1}``, each reading the one before it (and ``also``):
    n dependency levels, so n groups per type."""
    return [
        threshold_rule(i, types, sorted({*also, *([i - 1] if i > start else [])} - {i}))
        for i in range(start, start + n)
    ]


ACUTE = sum(o["type"] == "acute_trust" for o in state()["organisations"])


@pytest.mark.parametrize(
    "n",
    [1, 255, 256, 257, 499, 500, 512, 513, pytest.param(1000, marks=pytest.mark.slow)],
)
def test_any_number_of_groups_on_one_type(tmp_path: Path, n: int) -> None:
    """n rules on acute trusts, each reading the one before it: n dependency levels, so n groups,
    each a durable rule matching the outcome fact of the one before; a ruleset tests at most 500
    distinct outcome facts, so the chain crosses the rulesets' boundaries."""
    got = probe(tmp_path, chain(n, ["acute_trust"]))
    assert got["rulesets"] == max(1, -(-(n - 1) // durable.MAX_KEYS_PER_FIELD))
    assert got["decided"] == n * ACUTE


@pytest.mark.parametrize("n", [257, 513])
def test_any_number_of_rules_on_one_type(tmp_path: Path, n: int) -> None:
    """n rules on acute trusts, every seventh reading the one before it: two groups (the rules that
    read nothing, and those that read one of them), so one ruleset whatever n, where one durable
    rule per rule needed a ruleset per 250."""
    rules = [threshold_rule(i, ["acute_trust"], [i - 1] if i and i % 7 == 0 else []) for i in range(n)]
    got = probe(tmp_path, rules)
    assert (got["rulesets"], got["largest"]) == (1, n - (n - 1) // 7)
    assert got["decided"] == n * ACUTE


@pytest.mark.slow
def test_two_thousand_rules_on_one_type_with_a_chain_through_all_of_them(tmp_path: Path) -> None:
    rules = [threshold_rule(i, ["acute_trust"], [i - 1] if i else []) for i in range(2000)]
    assert probe(tmp_path, rules)["rulesets"] == 4  # 1,999 outcome facts joined, 500 to a ruleset


@pytest.mark.parametrize("readers", [60, 61, 65, 200])
def test_many_groups_reading_one_outcome(tmp_path: Path, readers: int) -> None:
    """durable gives no error and fires none of 65 rules reading one fact: the adapter keeps them
    to 60 per ruleset, and the outcome fact goes to every ruleset that reads it. Here ``readers``
    rules on two types each read rule 0 and the rule before them: as many dependency levels, so
    as many groups per type reading rule 0's group."""
    rules = [threshold_rule(0, ["acute_trust", "icb"]), *chain(readers, ["acute_trust", "icb"], start=1, also=[0])]
    got = probe(tmp_path, rules, mode="evaluate")
    assert got["rulesets"] == -(-readers // durable.MAX_READERS_PER_OUTCOME)  # per type, side by side


def test_many_rules_reading_one_outcome_are_one_group(tmp_path: Path) -> None:
    """200 rules on two types reading rule 0: one group per type, one durable rule reading its fact."""
    rules = [threshold_rule(0, ["acute_trust", "icb"])]
    rules += [threshold_rule(i, ["acute_trust", "icb"], [0]) for i in range(1, 201)]
    got = probe(tmp_path, rules, mode="evaluate")
    assert (got["rulesets"], got["largest"]) == (1, 200)


@pytest.mark.parametrize("reads", [14, 15, 16, 17, 40])
def test_a_rule_reading_many_outcomes(tmp_path: Path, reads: int) -> None:
    """durable joins at most 16 facts in one rule: a group reading more outcome facts (here, of a
    chain: one group per rule read) is a chain of partial joins, 16 outcome facts in the first
    link, then the part fact and 15 more to a link."""
    rules = [*chain(reads, ["acute_trust"]), threshold_rule(reads, ["acute_trust"], list(range(reads)))]
    got = probe(tmp_path, rules, mode="evaluate")
    assert got["links"] == {14: 1, 15: 1, 16: 1, 17: 2, 40: 3}[reads]


def test_a_group_beyond_every_limit_of_a_ruleset(tmp_path: Path) -> None:
    """One group per type of 300 rules (more than a ruleset's 250 durable rules per type, were they
    one each) reading 20 groups (more than one durable rule joins), its outcome read by 65 groups
    (more than one fact may be joined by): split into two rulesets and two links, same outcomes."""
    types = ["acute_trust", "icb"]
    rules = chain(20, types)
    rules += [threshold_rule(i, types, list(range(20))) for i in range(20, 320)]
    rules += chain(65, types, start=320, also=[20])
    got = probe(tmp_path, rules, mode="evaluate")
    assert (got["rulesets"], got["largest"], got["links"]) == (2, 300, 2)
    icb = sum(o["type"] == "icb" for o in state()["organisations"])
    assert got["decided"] == len(rules) * (ACUTE + icb)


def test_many_rules_for_several_types(tmp_path: Path) -> None:
    """65 rules with an ``or`` of types fail in durable with error 303; the adapter writes one durable
    rule per type instead. 300 rules on three types, with rank() rules among them."""
    rules = [threshold_rule(i, TYPES, [i - 1] if i % 5 == 0 and i else [], rank=i % 50 == 3) for i in range(300)]
    probe(tmp_path, rules, mode="evaluate", orgs=9)


# --------------------------------------------------------------------------- one action per organisation and group


@pytest.mark.parametrize("evaluate", [False, True])
def test_one_action_per_organisation_and_group(tmp_path: Path, evaluate: bool) -> None:
    """durable fires each group's rule once per organisation (a ranking group's once per session),
    its action deciding every rule of the group; the statuses are the native backend's."""
    types = ["acute_trust", "icb"]
    rules = [threshold_rule(i, types) for i in range(3)]
    rules += [threshold_rule(3, types, [0]), threshold_rule(4, ["acute_trust"], [3, 1])]
    rules += [threshold_rule(5, ["acute_trust"], rank=True), threshold_rule(6, ["acute_trust"], [5, 2])]
    book = pe.load_rulebook(write_book(tmp_path, rules))
    fired: collections.Counter[str] = collections.Counter()
    make = durable._action

    def counting(group: Any, home: int, targets: tuple[int, ...]) -> Any:
        action = make(group, home, targets)

        def run(c: Any) -> None:
            fired[group.key] += 1
            action(c)

        return run

    doc = state(4)  # three acute trusts and an ICB, one session
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(durable, "_COMPILED", {})
        patch.setattr(durable, "_action", counting)
        if evaluate:
            got = pe.evaluate(doc, book, backend="durable").outcomes
            assert got == pe.evaluate(doc, book, backend="native").outcomes
        else:
            assert pe.statuses(doc, book, backend="durable") == pe.statuses(doc, book, backend="native")
    assert fired == {
        "acute_trust|0|0|-": 3,  # rules 0, 1, 2
        "acute_trust|1|0|-": 3,  # rule 3, on rule 0's group's outcome fact
        "acute_trust|2|0|-": 3,  # rule 4
        "acute_trust|0|1|r": 1,  # rule 5, on the cohort fact: once for the session
        "acute_trust|1|1|-": 3,  # rule 6, reading rules 5 and 2
        "icb|0|0|-": 1,
        "icb|1|0|-": 1,
    }


# --------------------------------------------------------------------------- the shape of any rulebook, in-process


@st.composite
def rulebooks(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Small rulebooks of any shape: which types each rule applies to, which earlier rules it reads,
    which rank; run against tiny budgets, so chunking, cross-ruleset chaining and join chains all occur."""
    n = draw(st.integers(1, 12))
    rules: list[dict[str, Any]] = []
    for i in range(n):
        rank = i % 3 == 1 and draw(st.booleans())  # rank() rules on acute trusts, in several strata
        types = ["acute_trust"] if rank else draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=3, unique=True))
        readable = [j for j, r in enumerate(rules) if set(types) <= set(r["applies_to"])]  # as the loader asks
        reads = draw(st.lists(st.sampled_from(readable), max_size=5, unique=True)) if readable else []
        rules.append(threshold_rule(i, types, reads, rank=rank))
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


@settings(deadline=None)
@given(rules=rulebooks(), budgets=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(2, 4)))
def test_groups_and_rulesets_of_any_rulebook(
    tmp_path_factory: pytest.TempPathFactory, rules: list[dict[str, Any]], budgets: tuple[int, int, int, int]
) -> None:
    """Every (rule, type) is in exactly one group, of the rules' level, stratum and rank-ness; a
    group joins the outcome fact of every group holding a rule it reads, each at a lower level and
    no later stratum; a ranking group joins only its cohort fact, everything it reads being of an
    earlier stratum (decided before its cohort is ranked); every ruleset keeps within the budgets
    (the distinct keys of a field only when a ruleset holds more than one group)."""
    book = pe.load_rulebook(write_book(tmp_path_factory.mktemp("book"), rules))
    per_type, readers, keys, conditions = budgets
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(durable, "MAX_RULES_PER_TYPE", per_type)
        patch.setattr(durable, "MAX_READERS_PER_OUTCOME", readers)
        patch.setattr(durable, "MAX_KEYS_PER_FIELD", keys)
        patch.setattr(durable, "MAX_CONDITIONS", conditions)
        chunks = durable._chunks(book)
        links = {g.key: g.links() for ch in chunks for g in ch.groups}
    groups = {g.key: g for ch in chunks for g in ch.groups}
    home = {(r.id, g.otype): g for g in groups.values() for r in g.rules}
    placed = sorted((r.id, g.otype) for g in groups.values() for r in g.rules)
    assert placed == sorted((r.id, t) for r in book.rules for t in r.applies_to)
    levels = dependency_levels(book)
    for g in groups.values():
        assert {(levels[r.id], r.stratum, r.uses_rank) for r in g.rules} == {(g.level, g.stratum, g.ranked)}
        read = {home[d, g.otype].key for r in g.rules for d in r.depends_on}
        assert set(g.reads) == read and len(g.reads) == len(read)
        for key in read:
            d = groups[key]
            assert d.level < g.level and (d.stratum < g.stratum if g.ranked else d.stratum <= g.stratum)
        if g.ranked:  # one durable rule on the cohort fact, its reads all decided by then
            assert links[g.key] == [((), True)]
        else:
            assert [d for link, _ in links[g.key] for d in link] == list(g.reads)
            # the first link matches the first outcome fact (or the organisation fact) and joins the
            # rest; each later one matches the part fact before it
            sizes = [max(1, len(link)) if i == 0 else 1 + len(link) for i, (link, _) in enumerate(links[g.key])]
            assert max(sizes) <= conditions and not any(cohort for _, cohort in links[g.key])
    for ch in chunks:
        on_orgs = [g for g in ch.groups if not g.ranked and not g.reads]  # the others match outcome or cohort facts
        assert max(collections.Counter(g.otype for g in on_orgs).values(), default=0) <= per_type
        facts = [r for g in ch.groups for r in ([f"cohort {g.stratum}"] if g.ranked else g.reads)]
        assert max(collections.Counter(facts).values(), default=0) <= readers
        if len(ch.groups) > 1:
            assert len({g.otype for g in on_orgs}) <= keys
            assert len({r for g in ch.groups if not g.ranked for r in g.reads}) <= keys
            assert sum(len(links[g.key]) - 1 for g in ch.groups) <= keys


FAILING = textwrap.dedent(
    """
    import json, sys
    import policy_engine as pe
    from policy_engine.evaluation import durable
    book = pe.load_rulebook(sys.argv[1])
    doc = json.loads(open(sys.argv[2]).read())
    durable.MAX_RULES_PER_TYPE, durable.MAX_READERS_PER_OUTCOME = 2, 1
    durable.MAX_KEYS_PER_FIELD, durable.MAX_CONDITIONS = 3, 3
    decide = durable.decide
    def failing(rule, *args, **kwargs):
        if rule.id == sys.argv[3]:
            raise ValueError("a bug in a rule")
        return decide(rule, *args, **kwargs)
    durable.decide = failing
    errors = []
    for _ in range(3):
        try:
            pe.evaluate(doc, book, backend="durable")
        except pe.EngineError as exc:
            errors.append(exc.details[0].message)
    durable.decide = decide
    same = pe.evaluate(doc, book, backend="durable").outcomes == pe.evaluate(doc, book, backend="native").outcomes
    print(json.dumps({"errors": errors, "same": same, "sessions": len(durable._SESSIONS)}))
    """
)


@pytest.mark.parametrize("failing", ["gen.r0", "gen.r1", "gen.r3"])
def test_a_rule_failing_in_an_action_is_an_engine_error_not_a_crash(tmp_path: Path, failing: str) -> None:
    """An action that fails leaves joins waiting in other rulesets (rule 6 reads rules 0 and 1,
    in a ruleset of its own under tiny budgets); durable's delete_state on such a session aborts or
    segfaults, so the adapter leaves it: an EngineError naming the rule, every time, and the next
    evaluation is right."""
    rules = [
        threshold_rule(0, ["acute_trust"]),
        threshold_rule(1, ["acute_trust"], rank=True),
        threshold_rule(2, ["ambulance_trust", "acute_trust"]),
        threshold_rule(3, TYPES),
        threshold_rule(4, ["icb"], [3]),
        threshold_rule(5, ["acute_trust", "ambulance_trust"]),
        threshold_rule(6, ["acute_trust"], [1, 0]),
    ]
    book = write_book(tmp_path, rules)
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(state(7)), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", FAILING, str(book), str(state_file), failing],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(got["errors"]) == 3 and all("ValueError: a bug in a rule" in e for e in got["errors"]), got
    assert got["same"] and got["sessions"] == 0


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

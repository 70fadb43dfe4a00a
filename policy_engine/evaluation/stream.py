"""Evaluating a state organisation by organisation, in bounded memory, and writing the evaluation's
JSON as the outcomes are produced (docs/decisions/024-streamed-evaluation.md).

``Evaluation`` holds every outcome with its evidence and explanation, and ``to_json`` builds the
whole text: for a state of 10,000 organisations that was 8 GB. Here the outcomes exist one
organisation at a time:

* **first pass, over only what rank() rules need**: the statuses of the rules a rank() rule reads
  (transitively) and the cohort rankings, for the organisations of the types they apply to;
* **second pass, one organisation at a time**, in the order of the organisation ids: every rule in
  dependency order, rank() rules reading the first pass's rankings, outcomes sorted by rule id
  (the order of ``Evaluation.outcomes``); the durable backend runs on chunks of organisations,
  one network run per chunk, with the same rankings;
* the firing trace is kept compactly (per rule: organisation number, status code, the inputs
  interned), as it is ordered by rule first and can be written only at the end.

``write_json`` writes exactly the text of ``Evaluation.to_json()`` (same keys, same order, byte
for byte: ``tests/test_stream.py``).
"""

from __future__ import annotations

import datetime as dt
import json
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..data.state import CompleteCohort, Organisation, OrgView, view_at
from ..errors import EngineError, ErrorCode, ErrorDetail
from ..io.terminal import Sink
from ..language.rules import STATUSES, Rule, Status
from ..rulebook.loader import Rulebook
from .cohort import Ranking
from .decide import cohort_ranks, decide, firing
from .outcomes import DecisionRecord, Firing, Outcome
from .unconfirmed import Unconfirmed

__all__ = ["DURABLE_CHUNK", "EvaluationStream", "rankings"]

DURABLE_CHUNK = 256
"""Organisations per durable-rules run when streaming (each run splits them into sessions of at
most ``durable.FACTS_PER_SESSION`` facts)."""

_CODE = {s: i for i, s in enumerate(STATUSES)}

Runner = Callable[
    [Rulebook, Sequence[OrgView], dt.date, Sequence[CompleteCohort], Mapping[str, Ranking[str]]], list[Outcome]
]
"""A backend run over some organisations with the cohort rankings given: ``durable.run``."""


def _needed_for_ranks(book: Rulebook) -> list[Rule]:
    """The rank() rules and every rule they read, transitively, in dependency order."""
    by_id = {r.id: r for r in book.rules}
    need: set[str] = set()
    todo = [r.id for r in book.rules if r.uses_rank]
    while todo:
        rule_id = todo.pop()
        if rule_id not in need:
            need.add(rule_id)
            todo.extend(by_id[rule_id].depends_on)
    return [r for r in book.rules if r.id in need]


def rankings(
    book: Rulebook,
    organisations: Sequence[Organisation],
    as_of: dt.date,
    cohorts: Sequence[CompleteCohort],
) -> dict[str, Ranking[str]]:
    """The first pass: every rank() rule's ranking of its cohort, as ``native.run`` ranks it (the
    statuses it reads decided first). It holds one organisation's view at a time, the statuses of
    only the rules a rank() rule reads, and each cohort's members' values."""
    rules = _needed_for_ranks(book)
    read = {d for r in rules for d in r.depends_on}
    statuses: dict[str, dict[str, Status]] = {}
    out: dict[str, Ranking[str]] = {}
    for rule in rules:
        members = [org for org in organisations if rule.applies_to_type(org.type)]
        ranking = None
        if rule.uses_rank:
            views = (view_at(org, as_of, book.date_facts) for org in members)  # one at a time
            ranking = out[rule.id] = cohort_ranks(rule, views, as_of, book, statuses, cohorts)
        if rule.id in read:
            for org in members:
                org_statuses = statuses.setdefault(org.id, {})
                view = view_at(org, as_of, book.date_facts)
                org_statuses[rule.id] = decide(rule, view, as_of, book, org_statuses, ranking=ranking).status
    return out


def _native_one(book: Rulebook, view: OrgView, as_of: dt.date, ranks: Mapping[str, Ranking[str]]) -> list[Outcome]:
    """One organisation's outcomes, rules in dependency order (``native.run`` for one organisation)."""
    statuses: dict[str, Status] = {}
    out: list[Outcome] = []
    for rule in book.rules:
        if rule.applies_to_type(view.org.type):
            outcome = decide(rule, view, as_of, book, statuses, ranking=ranks.get(rule.id))
            statuses[rule.id] = outcome.status
            out.append(outcome)
    return out


class _Trace:
    """The firing trace, compactly: per rule, the organisations' numbers (in id order), status codes
    and interned inputs; ``Firing`` objects are made again as they are written."""

    def __init__(self, book: Rulebook) -> None:
        self.rules = book.rules
        self.index = {r.id: i for i, r in enumerate(book.rules)}
        self.orgs: list[array[int]] = [array("I") for _ in book.rules]
        self.codes: list[array[int]] = [array("B") for _ in book.rules]
        self.inputs: list[array[int]] = [array("I") for _ in book.rules]
        self.interned: dict[tuple[tuple[str, str], ...], int] = {(): 0}
        self.org_ids: list[str] = []

    def add(self, org_id: str, outcomes: Sequence[Outcome]) -> None:
        number = len(self.org_ids)
        self.org_ids.append(org_id)
        for o in outcomes:
            i = self.index[o.rule_id]
            f = firing(0, self.rules[i], o)
            self.orgs[i].append(number)
            self.codes[i].append(_CODE[f.status])
            self.inputs[i].append(self.interned.setdefault(f.inputs, len(self.interned)))

    def __len__(self) -> int:
        return sum(len(a) for a in self.orgs)

    def __iter__(self) -> Iterator[Firing]:
        inputs = list(self.interned)
        step = 0
        for i, rule in enumerate(self.rules):
            for number, code, inp in zip(self.orgs[i], self.codes[i], self.inputs[i], strict=True):
                step += 1
                yield Firing(step, rule.id, self.org_ids[number], STATUSES[code], rule.stratum, inputs[inp])


class EvaluationStream:
    """An evaluation produced one organisation at a time (``engine.evaluate_stream``).

    Iterating gives each organisation's outcomes (a tuple sorted by rule id; organisations in id
    order, those no rule applies to skipped): the same outcomes, in the same order, as
    ``Evaluation.outcomes``. It can be iterated once; ``counts()`` and ``trace()`` are complete
    once it has been. ``write_json`` writes the whole document as it goes.
    """

    def __init__(
        self,
        book: Rulebook,
        organisations: Sequence[Organisation],
        as_of: dt.date,
        assumed: Unconfirmed,
        record: DecisionRecord,
        runner: Runner | None = None,
    ) -> None:
        self.record = record
        self.book = book
        self._orgs = sorted(organisations, key=lambda o: o.id)
        self._as_of = as_of
        self._assumed = assumed
        self._runner = runner
        self._rules = {r.id: r for r in book.rules}
        self._trace = _Trace(book)
        self._counts: dict[Status, int] = {}
        self._started = False
        self._done = False

    def __iter__(self) -> Iterator[tuple[Outcome, ...]]:
        if self._started:
            raise EngineError(
                "a streamed evaluation is read once",
                [
                    ErrorDetail(
                        "evaluate_stream",
                        "iterate it once (or call evaluate_stream again)",
                        code=ErrorCode.ARGUMENT_VALUE,
                    )
                ],
            )
        self._started = True
        return self._run()

    def _run(self) -> Iterator[tuple[Outcome, ...]]:
        book, when, assumed = self.book, self._as_of, self._assumed
        ranks = rankings(book, self._orgs, when, assumed.cohorts)
        for outcomes in self._per_organisation(ranks):
            if assumed:
                outcomes = assumed.outcomes(outcomes, self._rules)
            ordered = tuple(sorted(outcomes, key=lambda o: o.rule_id))
            if not ordered:
                continue
            self._trace.add(ordered[0].org_id, ordered)
            for o in ordered:
                self._counts[o.status] = self._counts.get(o.status, 0) + 1
            yield ordered
        self._done = True

    def _per_organisation(self, ranks: Mapping[str, Ranking[str]]) -> Iterator[list[Outcome]]:
        book, when = self.book, self._as_of
        if self._runner is None:
            for org in self._orgs:
                yield _native_one(book, view_at(org, when, book.date_facts), when, ranks)
            return
        for start in range(0, len(self._orgs), DURABLE_CHUNK):
            chunk = self._orgs[start : start + DURABLE_CHUNK]
            views = [view_at(org, when, book.date_facts) for org in chunk]
            by_org: dict[str, list[Outcome]] = {org.id: [] for org in chunk}
            for o in self._runner(book, views, when, self._assumed.cohorts, ranks):
                by_org[o.org_id].append(o)
            yield from by_org.values()

    def _require_done(self, what: str) -> None:
        if not self._done:
            raise EngineError(
                f"{what} is known once every organisation is evaluated",
                [ErrorDetail("evaluate_stream", "iterate the stream to its end first", code=ErrorCode.ARGUMENT_VALUE)],
            )

    def counts(self) -> dict[Status, int]:
        """Number of outcomes per status (complete once the stream has been read)."""
        self._require_done("the summary")
        return dict(sorted(self._counts.items()))

    def trace(self) -> Iterator[Firing]:
        """The firing trace, in the order of ``Evaluation.trace`` (once the stream has been read)."""
        self._require_done("the trace")
        return iter(self._trace)

    def write_json(
        self,
        sink: Sink,
        select: Callable[[Outcome], bool] | None = None,
        each: Callable[[Outcome], None] | None = None,
    ) -> dict[Status, int]:
        """Write the evaluation as ``Evaluation.to_json()`` writes it, organisation by organisation.

        ``select`` keeps only the outcomes it accepts (the summary counts those; the trace stays
        whole, as for an ``Evaluation`` whose outcomes were filtered); ``each`` is called with every
        outcome, selected or not, in order. Returns the summary written."""
        summary: dict[Status, int] = {}
        first = True
        sink.write('{\n  "outcomes": [')
        for outcomes in self:
            for o in outcomes:
                if each is not None:
                    each(o)
                if select is not None and not select(o):
                    continue
                summary[o.status] = summary.get(o.status, 0) + 1
                sink.write("\n    " if first else ",\n    ")
                sink.write(_dumps(o.to_dict(), "    "))
                first = False
        sink.write("]" if first else "\n  ]")
        summary = dict(sorted(summary.items()))
        sink.write(',\n  "record": ' + _dumps(self.record.to_dict(), "  "))
        sink.write(',\n  "schema": "policy-engine/evaluation/1"')
        sink.write(',\n  "summary": ' + _dumps(summary, "  "))
        sink.write(',\n  "trace": [')
        first = True
        for f in self.trace():
            sink.write("\n    " if first else ",\n    ")
            sink.write(_dumps(f.to_dict(), "    "))
            first = False
        sink.write("]" if first else "\n  ]")
        sink.write("\n}")
        return summary


def _dumps(value: Any, indent: str) -> str:
    """``value`` as ``json.dumps(..., indent=2, sort_keys=True)`` writes it nested at ``indent``
    (a JSON text has no raw line breaks inside its strings, so every line break is indentation)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).replace("\n", "\n" + indent)

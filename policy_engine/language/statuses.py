"""What every status means, and how a rule's status is decided: the one definition every evaluator uses.

Two tables live here and nowhere else:

- ``STATUS_INFO``: each status with its label, polarity, report order, colour, what-if opposite and
  wording. The report, the rule reference, explanations and what-if read it.
- ``decision_table(kind, timing, guarded, completion)``: the ordered clauses that decide a rule's
  status from four inputs, ``guard`` (the applicability guard: true, false or unknown), ``judged``
  (whether the date is one on which the rule is judged, ``Rule.judged_on``), ``cond`` (the condition:
  true, false or unknown) and ``late`` (an obligation's completion date is after its deadline).
  ``decision_tree`` arranges them so that each input is read at most once, only when a clause first
  needs it (a rule that is not applicable never evaluates its condition); the reference evaluator
  walks it with ``decide_status``, the compiled one with ``status_function`` (one reader per input,
  bound once per rule); the columnar evaluator translates the clauses into polars, clause by clause.

Adding a status is a change here; a timing, here and in ``rules.TIMINGS`` (and the loader's check
of its deadline). The evaluators follow.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, Literal, TypeVar, cast, get_args

import attrs

__all__ = [
    "DEADLINE_WORDING",
    "INPUTS",
    "NEGATIVE_STATUS",
    "POSITIVE_STATUS",
    "STATUSES",
    "STATUS_INFO",
    "STATUS_ORDER",
    "Branch",
    "Clause",
    "Input",
    "Status",
    "StatusInfo",
    "Tri",
    "decide_status",
    "decision_table",
    "decision_tree",
    "negative_status",
    "status_function",
    "when_label",
]

C = TypeVar("C")
Polarity = Literal["good", "bad", "pending", "unknown", "neutral"]


@attrs.frozen
class StatusInfo:
    """One status: how it is named, shown, ordered and worded."""

    name: str
    label: str
    """Its name in sentences and headings (``"Met late"``)."""
    polarity: Polarity
    """``good`` (the requirement is satisfied), ``bad`` (it is not), ``pending`` (not yet judged),
    ``unknown`` (the data do not decide it) or ``neutral`` (not applicable, or not eligible)."""
    order: int
    """Position in a report, worst first."""
    colour: str
    """The report's colour for it (a CSS colour)."""
    opposite: str | None
    """The status a threshold outcome flips to (what-if), or None where no change of data flips it."""
    wording: str
    """What it means, in one sentence."""


def _info(*rows: tuple[str, str, Polarity, str, str | None, str]) -> Mapping[str, StatusInfo]:
    return MappingProxyType(
        {
            name: StatusInfo(name, label, pol, i, colour, opp, text)
            for i, (name, label, pol, colour, opp, text) in enumerate(rows)
        }
    )


STATUS_INFO: Final[Mapping[str, StatusInfo]] = _info(
    ("breached", "Breached", "bad", "#b00020", "not_breached", "the breach the rule describes has happened"),
    ("overdue", "Overdue", "bad", "#b00020", None, "an action was not done by its deadline"),
    ("not_met", "Not met", "bad", "#d35400", "met", "a target or standing requirement is not met"),
    ("unknown", "Unknown", "unknown", "#7f8c8d", None, "the data needed to decide it are missing"),
    ("due", "Due", "pending", "#2c7fb8", None, "not yet judged: its deadline or start has not come"),
    ("met_late", "Met late", "good", "#b7950b", None, "an action was done, but after its deadline"),
    ("met", "Met", "good", "#1e8449", "not_met", "the target or requirement is met"),
    ("eligible", "Eligible", "good", "#1e8449", "not_eligible", "the organisation qualifies for the incentive"),
    ("not_eligible", "Not eligible", "neutral", "#7f8c8d", "eligible", "it does not qualify for the incentive"),
    ("not_breached", "Not breached", "good", "#1e8449", "breached", "the breach has not happened"),
    ("not_applicable", "Not applicable", "neutral", "#aaaaaa", None, "the rule does not apply to the organisation"),
)
"""Every status, in report order (worst first)."""

DEADLINE_WORDING: Final[Mapping[str, str]] = MappingProxyType(
    {
        "overdue": "not done by the deadline, {when}",
        "met_late": "done after the deadline, {when}",
        "due": "due by {when}",
    }
)
"""How a sentence about an outcome of these statuses speaks of its deadline (``{when}``: the date in words)."""

STATUS_ORDER: Final[tuple[str, ...]] = tuple(STATUS_INFO)
"""Statuses in report order, worst first."""

Status = Literal[
    "met",
    "met_late",
    "not_met",
    "due",
    "overdue",
    "breached",
    "not_breached",
    "eligible",
    "not_eligible",
    "unknown",
    "not_applicable",
]
"""The type of a status; ``STATUSES`` lists its values in their published order."""

STATUSES: Final[tuple[Status, ...]] = get_args(Status)
"""Every status an outcome can have (see docs/rule-language.md), in their published order."""

POSITIVE_STATUS: Final[Mapping[str, Status]] = MappingProxyType(
    {"target": "met", "breach": "breached", "eligibility": "eligible", "obligation": "met"}
)
"""The status of a rule of each kind whose condition is true when it is judged."""
NEGATIVE_STATUS: Final[Mapping[str, Status]] = MappingProxyType(
    {"target": "not_met", "breach": "not_breached", "eligibility": "not_eligible", "obligation": "overdue"}
)
"""The status of a rule of each kind whose condition is false when it is judged (a *standing*
obligation is ``not_met`` instead of ``overdue``: see ``negative_status``)."""


def negative_status(kind: str, timing: str | None) -> Status:
    """The status of a rule whose condition is false when it is judged."""
    return "not_met" if timing == "standing" else NEGATIVE_STATUS[kind]


Input = Literal["guard", "judged", "cond", "late"]
INPUTS: Final[tuple[Input, ...]] = get_args(Input)
"""The inputs of the decision table, in the order an evaluator reads them."""

Tri = Literal[True, False, "unknown"]
"""A three-valued input: true, false or unknown."""


@attrs.frozen
class Clause:
    """If every test holds (input name -> value it must have), the rule has this status.

    ``reason`` is a template of the explanation; its fields are ``{applies}`` (the guard's text),
    ``{deadline}``, ``{in_force}``, ``{done}`` (the completion date) and ``{as_of}``."""

    tests: tuple[tuple[Input, Tri], ...]
    status: Status
    reason: str = ""


@functools.cache
def decision_table(kind: str, timing: str | None, guarded: bool, completion: bool) -> tuple[Clause, ...]:
    """The clauses that decide the status of a rule of ``kind`` (with an obligation's ``timing``),
    with an applicability guard if ``guarded`` and a completion date checked against the deadline
    if ``completion``; the first clause whose tests hold decides. Statuses are concrete: the
    kind's positive and negative statuses are filled in."""
    positive = POSITIVE_STATUS[kind]
    negative = negative_status(kind, timing)
    clauses: list[Clause] = []
    if guarded:
        clauses += [
            Clause((("guard", "unknown"),), "unknown", "cannot tell whether the rule applies ({applies} is unknown)"),
            Clause((("guard", False),), "not_applicable", "the rule does not apply ({applies} is false)"),
        ]
    if kind != "obligation":
        clauses += [
            Clause(
                (("judged", False),), "due", "judged after {deadline}; as of {as_of} it is not yet due for assessment"
            ),
            Clause((("cond", "unknown"),), "unknown", "the data needed are missing"),
            Clause((("cond", True),), positive),
            Clause((), negative),
        ]
        return tuple(clauses)
    if completion:
        clauses.append(
            Clause((("cond", True), ("late", True)), "met_late", "done on {done}, after the deadline {deadline}")
        )
    clauses.append(Clause((("cond", True),), "met"))
    if timing == "standing":
        clauses += [
            Clause((("judged", False),), "due", "a standing requirement in force from {in_force}"),
            Clause(
                (("cond", "unknown"),),
                "unknown",
                "nothing is declared, and this standing requirement is in force on every date",
            ),
            Clause(
                (), negative, "the latest declaration falls short of a standing requirement in force since {in_force}"
            ),
        ]
    else:
        clauses += [
            Clause((("judged", False), ("cond", "unknown")), "due", "not yet declared by {deadline}"),
            Clause((("judged", False),), "due", "not yet done by {deadline}"),
            Clause((("cond", "unknown"),), "unknown", "the deadline {deadline} has passed and nothing is declared"),
            Clause((), negative, "not done by the deadline {deadline}"),
        ]
    return tuple(clauses)


@attrs.frozen
class Branch:
    """A node of a decision tree: read ``input``, go on by its value."""

    input: Input
    branches: Mapping[bool | str, Branch | Clause]


_DOMAIN: Final[Mapping[str, tuple[Tri, ...]]] = MappingProxyType(
    {
        "guard": (True, False, "unknown"),
        "cond": (True, False, "unknown"),
        "judged": (True, False),
        "late": (True, False),
    }
)


@functools.cache
def decision_tree(clauses: tuple[Clause, ...]) -> Branch | Clause:
    """The table as a tree that reads each input at most once, in the order the clauses first
    need it: the same decisions as trying the clauses in order."""
    return _tree(clauses, {})


def _tree(clauses: tuple[Clause, ...], known: Mapping[str, Tri]) -> Branch | Clause:
    live = tuple(cl for cl in clauses if all(known.get(n, w) == w for n, w in cl.tests))
    first = live[0]
    pending = [n for n, _ in first.tests if n not in known]
    if not pending:
        return first
    name = pending[0]
    return Branch(name, MappingProxyType({v: _tree(live, {**known, name: v}) for v in _DOMAIN[name]}))


def decide_status(tree: Branch | Clause, read: Callable[[Input], Tri]) -> Clause:
    """The clause that decides, reading each input (``read``) only when the decision needs it."""
    node = tree
    while isinstance(node, Branch):
        node = node.branches[read(node.input)]
    return node


def status_function(
    tree: Branch | Clause, readers: Mapping[Input, Callable[[C], object]], unknown: object = "unknown"
) -> Callable[[C], Status]:
    """``decide_status`` bound to one reader per input, for an evaluator that decides many
    organisations: the status of the subject passed to the function. A reader returns True,
    False or the evaluator's own ``unknown`` value."""

    def bind(node: Branch | Clause) -> Any:  # a status, or (reader, {value: node})
        if isinstance(node, Clause):
            return node.status
        return (
            readers[node.input],
            {(unknown if v == "unknown" else v): bind(sub) for v, sub in node.branches.items()},
        )

    root = bind(tree)

    def status(subject: C) -> Status:
        node: Any = root
        while not isinstance(node, str):
            read, branches = node
            node = branches[read(subject)]
        return cast(Status, node)

    return status


def when_label(kind: str) -> str:
    """How the rule reference introduces a rule's condition (``"Breached when"``)."""
    return f"{STATUS_INFO[POSITIVE_STATUS[kind]].label} when"

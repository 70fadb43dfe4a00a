"""Decision records: what went into an evaluation and what came out, re-checkable later.

A record is sealed: ``field_digests`` holds the sha256 of each other field's canonical JSON, so
``verify_record`` names any field altered, added or removed after the record was written, beside
what re-running the evaluation shows (state, rulebook, overlays, outcomes: each outcome once, in
the evaluation's order). The audit log (``append_log``) is a hash-chained JSON Lines file
(``io.chain``) that ``verify_log`` checks line by line
(docs/decisions/022-sealed-records-and-chained-logs.md).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterable
from typing import Any

import attrs

from .. import engine as _engine
from ..data.state import State
from ..engine import evaluate
from ..errors import ErrorCode, ErrorDetail, PolicyError
from ..evaluation.outcomes import DecisionRecord, Evaluation, Outcome
from ..io.canonical import canonical_json
from ..io.chain import ChainCheck, append_chained, canonical_text, verify_chain
from ..io.schemas import schema_validator
from ..rulebook.loader import Rulebook, load_rulebook

__all__ = [
    "OutcomesDigest",
    "RecordCheck",
    "append_log",
    "decision_record",
    "field_digests",
    "record_of",
    "verify_log",
    "verify_record",
]

SCHEMA_ID = "policy-engine/decision-record/1"

SEAL = "field_digests"
"""The field of a record that holds the digest of every other field."""


class OutcomesDigest:
    """The outcomes digest of a decision record, taken one outcome at a time (an evaluation
    streamed organisation by organisation, ``engine.evaluate_stream``): SHA-256 of the outcomes'
    canonical JSON (ASCII), without each evidence item's typed ``quantity``: its ``value`` text and
    counts are there, and records written before evidence had a ``quantity`` still verify
    (docs/decisions/009-typed-evidence.md)."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256(b"[")
        self._first = True

    def add(self, outcome: Outcome) -> None:
        """The next outcome, in the order of ``Evaluation.outcomes``."""
        o = outcome.to_dict()
        o["evidence"] = [{k: v for k, v in e.items() if k != "quantity"} for e in o["evidence"]]
        # ascii: the form the outcomes digests of existing records were made with
        text = canonical_json(o, ascii=True)
        self._hash.update((text if self._first else "," + text).encode("utf-8"))
        self._first = False

    def hexdigest(self) -> str:
        done = self._hash.copy()
        done.update(b"]")
        return done.hexdigest()


def _outcomes_digest(evaluation: Evaluation) -> str:
    """The outcomes digest of an evaluation (``OutcomesDigest``)."""
    digest = OutcomesDigest()
    for o in evaluation.outcomes:
        digest.add(o)
    return digest.hexdigest()


def _digest(value: Any) -> str:
    return hashlib.sha256(canonical_text(value).encode("utf-8")).hexdigest()


def field_digests(record: dict[str, Any]) -> dict[str, str]:
    """The seal of a record: the sha256 of the canonical JSON of each field's value, by name, for
    every field but the seal itself."""
    return {name: _digest(value) for name, value in record.items() if name != SEAL}


def decision_record(evaluation: Evaluation) -> dict[str, Any]:
    """The decision record of an evaluation (matches ``schemas/decision-record.schema.json``),
    sealed: ``field_digests`` covers every other field."""
    return record_of(
        evaluation.record, _outcomes_digest(evaluation), ((o.rule_id, o.org_id, o.status) for o in evaluation.outcomes)
    )


def record_of(record: DecisionRecord, outcomes_digest: str, statuses: Iterable[tuple[str, str, str]]) -> dict[str, Any]:
    """The sealed decision record of an evaluation given by its ``record``, its outcomes digest
    (``OutcomesDigest``) and its ``(rule, organisation, status)`` triples in outcome order: what
    ``decision_record`` gives for a streamed evaluation."""
    out: dict[str, Any] = {
        "schema": SCHEMA_ID,
        **record.to_dict(),
        "outcomes_digest": outcomes_digest,
        "outcomes": [{"rule": r, "organisation": o, "status": s} for r, o, s in statuses],
    }
    out[SEAL] = field_digests(out)
    return out


def _seal_differences(record: dict[str, Any]) -> list[str]:
    """Each field the seal does not confirm: altered, added or removed after the record was written."""
    sealed: dict[str, str] = record[SEAL]
    diffs: list[str] = []
    for name in sorted(set(record) - {SEAL} | set(sealed)):
        if name not in sealed:
            diffs.append(f"{name}: not covered by {SEAL} (the field was added after the record was written)")
        elif name not in record:
            diffs.append(f"{name}: missing (the record was written with it: {SEAL}.{name} is its digest)")
        elif _digest(record[name]) != sealed[name]:
            diffs.append(
                f"{name}: its value does not match {SEAL}.{name} (one of them was altered after the record was written)"
            )
    return diffs


def _book_differences(record: dict[str, Any], book: Rulebook) -> list[str]:
    """The record's rulebook fields against the rulebook (with its overlays) it is verified with."""
    diffs = []
    for name, now in (("rulebook_id", book.id), ("rulebook_version", book.version)):
        if record[name] != now:
            diffs.append(f"{name}: recorded {record[name]!r}, the rulebook's is {now!r}")
    overlays = record.get("overlays", [])
    if overlays != list(book.overlays):
        diffs.append(f"overlays: recorded {overlays}, the rulebook was loaded with {list(book.overlays)}")
    return diffs


def _outcome_differences(then: list[dict[str, str]], now: list[dict[str, str]]) -> list[str]:
    """The recorded outcome entries against the re-run's: each (rule, organisation) once, with its
    status, in the evaluation's order."""
    diffs: list[str] = []
    keys = [(o["rule"], o["organisation"]) for o in then]
    for key, n in sorted(Counter(keys).items()):
        if n > 1:
            entries = ", ".join(str(i) for i, k in enumerate(keys) if k == key)
            diffs.append(f"outcomes: {key[0]} / {key[1]} is listed {n} times (entries {entries})")
    now_status = {(o["rule"], o["organisation"]): o["status"] for o in now}
    then_status: dict[tuple[str, str], list[str]] = {}
    for key, o in zip(keys, then, strict=True):
        then_status.setdefault(key, []).append(o["status"])
    for key in sorted(set(now_status) | set(then_status)):
        recorded = then_status.get(key, ["absent"])
        for status in dict.fromkeys(recorded):
            if status != now_status.get(key, "absent"):
                diffs.append(f"{key[0]} / {key[1]}: recorded {status}, now {now_status.get(key, 'absent')}")
    if not diffs and then != now:
        i = next(i for i, (a, b) in enumerate(zip(then, now, strict=True)) if a != b)
        diffs.append(
            f"outcomes: not in the evaluation's order (entry {i} is {then[i]['rule']} / {then[i]['organisation']}, "
            f"the evaluation's is {now[i]['rule']} / {now[i]['organisation']})"
        )
    return diffs


@attrs.frozen
class RecordCheck:
    """The result of re-running a recorded evaluation.

    ``backend`` is the backend it was re-run with; ``fallback`` says why that is not the recorded
    one (``None`` when it is): a record made with durable-rules is re-run on the native backend
    where durable-rules does not import (Python 3.13), the two being proven equal by the
    differential tests (``tests/test_differential.py``).
    """

    ok: bool
    differences: tuple[str, ...]
    backend: str = ""
    fallback: str | None = None
    sealed: bool = True
    """Whether the record has its ``field_digests`` (an unsealed one is confirmed only with
    ``allow_unsealed``, and only as far as a re-run can confirm it)."""

    def __str__(self) -> str:
        if self.ok and not self.sealed:
            text = (
                f"the record is confirmed as far as a re-run can: same input, rulebook and outcomes; it is not "
                f"sealed (no {SEAL}), so its backend, versions and evaluated_at are not confirmed"
            )
        elif self.ok:
            text = "the record is confirmed: same input, rulebook and outcomes"
        else:
            text = "the record differs:\n" + "\n".join(f"  - {d}" for d in self.differences)
        if self.fallback is not None:
            text += f"\nre-run with the {self.backend} backend, not the recorded one: {self.fallback}"
        return text


def _rerun_backend(recorded: str) -> tuple[str, str | None]:
    """The backend to re-run a record with, and why it is not the recorded one (None if it is)."""
    if recorded != "durable" or "durable" in _engine.available_backends():
        return recorded, None
    from ..evaluation import durable

    why = durable._IMPORT_ERROR or "it is not available"
    return "native", (
        f"durable-rules does not import on this Python ({why}); the native backend gives the same "
        "outcomes, as the differential tests prove"
    )


def verify_record(
    record: Any, state: State, rulebook: Rulebook | str | None = None, *, allow_unsealed: bool = False
) -> RecordCheck:
    """Re-run the evaluation a record describes and say exactly what differs (if anything).

    Every field is checked: against its seal (``field_digests``: any field altered, added or
    removed is named), the state, the rulebook and its overlays, and the re-run's outcomes (each
    outcome entry once, with its status, in the evaluation's order, and the outcomes digest). A
    record without a seal (written before records were sealed) is a difference, unless
    ``allow_unsealed``: then it is checked as far as a re-run can, and ``RecordCheck.sealed`` says so.

    The rulebook defaults to the bundled one of the record's id. A record made with the durable
    backend is re-run on the native one where durable-rules does not import (``RecordCheck.backend``
    and ``fallback`` say so). Raises PolicyError if the record itself is malformed.
    """
    errors = [
        ErrorDetail("record", e.message[:200], code=ErrorCode.RECORD_SCHEMA, location=tuple(e.absolute_path))
        for e in schema_validator("decision-record.schema.json", formats=True).iter_errors(record)
    ]
    if errors:
        raise PolicyError("not a decision record", errors)
    book = rulebook if isinstance(rulebook, Rulebook) else load_rulebook(rulebook or record["rulebook_id"])
    sealed = SEAL in record
    diffs: list[str] = []
    if sealed:
        diffs.extend(_seal_differences(record))
    elif not allow_unsealed:
        diffs.append(
            f"{SEAL}: missing: the record is not sealed (written before records were sealed, or its seal was "
            "removed), so its backend, versions and evaluated_at cannot be confirmed "
            "(verify-record --allow-unsealed checks what a re-run can)"
        )
    diffs.extend(_book_differences(record, book))
    if state.digest != record["state_digest"]:
        diffs.append(f"state digest {state.digest} is not the recorded {record['state_digest']}")
    if book.digest != record["rulebook_digest"]:
        diffs.append(f"rulebook digest {book.digest} is not the recorded {record['rulebook_digest']}")
    backend, fallback = _rerun_backend(record["backend"])
    again = evaluate(state, book, as_of=record["as_of"], backend=backend)
    outcome_diffs = _outcome_differences(record["outcomes"], decision_record(again)["outcomes"])
    diffs.extend(outcome_diffs)
    if not outcome_diffs and _outcomes_digest(again) != record["outcomes_digest"]:
        diffs.append(
            "outcomes_digest: the statuses agree but the evidence or explanations differ (outcomes digest changed)"
        )
    return RecordCheck(not diffs, tuple(diffs), backend, fallback, sealed)


def append_log(path: str | os.PathLike[str], record: dict[str, Any]) -> str:
    """Append one decision record to a hash-chained JSON Lines audit log (``io.chain``: under an
    exclusive lock, as one line with its ``prev``, fsynced) and return the log's new head hash.
    A record without a seal is sealed first (every line of a chained log is). Raises PolicyError
    (``log.write``) naming the log if it cannot be appended to."""
    return append_chained(path, record if SEAL in record else {**record, SEAL: field_digests(record)})


def _line_seal(entry: dict[str, Any]) -> str | None:
    """Why a chained log line's record does not match its own seal (None if it does)."""
    if SEAL not in entry:
        return f"it has no {SEAL} (every record appended to a chained log is sealed): it was altered"
    if not isinstance(entry[SEAL], dict) or not all(isinstance(v, str) for v in entry[SEAL].values()):
        return f"its {SEAL} is not an object of digests"
    record = {k: v for k, v in entry.items() if k != "prev"}
    diffs = _seal_differences(record)
    return "; ".join(diffs) if diffs else None


def verify_log(path: str | os.PathLike[str], *, head: str | None = None) -> ChainCheck:
    """Check an audit log written by ``append_log``: every line canonical, chained to the one before
    (``prev``), and its record matching its seal; name the first line that is not. ``head``, the
    head hash a previous check or append reported, must still be in the log (lines removed from
    its end are otherwise not seen). A log written before logs were chained has no chain and is
    reported as such (not intact). Raises PolicyError (``log.read``) if it cannot be read."""
    return verify_chain(path, head=head, check=_line_seal)

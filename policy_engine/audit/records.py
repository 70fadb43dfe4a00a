"""Decision records: what went into an evaluation and what came out, re-checkable later."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from .. import engine as _engine
from ..data.state import State
from ..engine import evaluate
from ..errors import ErrorCode, ErrorDetail, PolicyError
from ..evaluation.outcomes import DecisionRecord, Evaluation, Outcome
from ..io.canonical import canonical_json
from ..io.schemas import schema_validator
from ..rulebook.loader import Rulebook, load_rulebook

__all__ = ["OutcomesDigest", "RecordCheck", "append_log", "decision_record", "record_of", "verify_record"]

SCHEMA_ID = "policy-engine/decision-record/1"


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


def decision_record(evaluation: Evaluation) -> dict[str, Any]:
    """The decision record of an evaluation (matches ``schemas/decision-record.schema.json``)."""
    return record_of(
        evaluation.record, _outcomes_digest(evaluation), ((o.rule_id, o.org_id, o.status) for o in evaluation.outcomes)
    )


def record_of(record: DecisionRecord, outcomes_digest: str, statuses: Iterable[tuple[str, str, str]]) -> dict[str, Any]:
    """The decision record of an evaluation given by its ``record``, its outcomes digest
    (``OutcomesDigest``) and its ``(rule, organisation, status)`` triples in outcome order: what
    ``decision_record`` gives for a streamed evaluation."""
    return {
        "schema": SCHEMA_ID,
        **record.to_dict(),
        "outcomes_digest": outcomes_digest,
        "outcomes": [{"rule": r, "organisation": o, "status": s} for r, o, s in statuses],
    }


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

    def __str__(self) -> str:
        if self.ok:
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


def verify_record(record: Any, state: State, rulebook: Rulebook | str | None = None) -> RecordCheck:
    """Re-run the evaluation a record describes and say exactly what differs (if anything).

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
    diffs: list[str] = []
    if state.digest != record["state_digest"]:
        diffs.append(f"state digest {state.digest} is not the recorded {record['state_digest']}")
    if book.digest != record["rulebook_digest"]:
        diffs.append(f"rulebook digest {book.digest} is not the recorded {record['rulebook_digest']}")
    backend, fallback = _rerun_backend(record["backend"])
    again = evaluate(state, book, as_of=record["as_of"], backend=backend)
    now = {(o["rule"], o["organisation"]): o["status"] for o in decision_record(again)["outcomes"]}
    then = {(o["rule"], o["organisation"]): o["status"] for o in record["outcomes"]}
    for key in sorted(set(now) | set(then)):
        if now.get(key) != then.get(key):
            diffs.append(f"{key[0]} / {key[1]}: recorded {then.get(key, 'absent')}, now {now.get(key, 'absent')}")
    if not diffs and _outcomes_digest(again) != record["outcomes_digest"]:
        diffs.append("the statuses agree but the evidence or explanations differ (outcomes digest changed)")
    return RecordCheck(not diffs, tuple(diffs), backend, fallback)


def append_log(path: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Append one decision record as a JSON line, flushed and fsynced (an append-only audit trail)."""
    line = canonical_json(record) + "\n"
    with Path(path).open("a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())

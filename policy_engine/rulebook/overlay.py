"""Parameter overlays: a validated local variant of a rulebook's thresholds, recorded everywhere it acts."""

from __future__ import annotations

import hashlib
import os
from fractions import Fraction
from pathlib import Path

import attrs

from ..errors import ErrorCode, ErrorDetail, RulebookError
from ..io.schemas import schema_validator
from ..language.numbers import NUMBER_LIMITS, bounded_decimal, format_number, shown_number
from ..language.rules import Rule
from .loader import MAX_RULE_FILE_BYTES, Rulebook, _plain, _read_yaml

__all__ = ["MAX_OVERLAY_BYTES", "apply_overlay", "load_overlay"]

MAX_OVERLAY_BYTES = MAX_RULE_FILE_BYTES
"""The largest overlay file read: the limit of a rule file (it is read by the same YAML reader)."""


@attrs.frozen
class Overlay:
    """A parsed overlay file."""

    id: str
    title: str
    rulebook: str
    digest: str
    parameters: dict[str, dict[str, tuple[Fraction, str | None, str]]]  # rule -> param -> (value, unit, reason)


def load_overlay(path: str | os.PathLike[str]) -> Overlay:
    """Read and schema-check an overlay file (YAML). RulebookError names every problem."""
    p = Path(path)
    try:
        with p.open("rb") as fh:  # no more than the limit is read, whatever the file is (a FIFO, /dev/zero)
            raw = fh.read(MAX_OVERLAY_BYTES + 1)
            size = os.fstat(fh.fileno()).st_size if len(raw) > MAX_OVERLAY_BYTES else len(raw)
    except OSError as exc:
        raise RulebookError(
            "cannot read the overlay", [ErrorDetail(str(p), exc.strerror or str(exc), code=ErrorCode.OVERLAY_READ)]
        ) from None
    if len(raw) > MAX_OVERLAY_BYTES:
        shown = f"{size} bytes" if size > MAX_OVERLAY_BYTES else f"more than {MAX_OVERLAY_BYTES} bytes"
        raise RulebookError(
            "the overlay is too large",
            [
                ErrorDetail(
                    str(p),
                    f"an overlay may have at most {MAX_OVERLAY_BYTES} bytes (as a rule file)",
                    shown,
                    code=ErrorCode.OVERLAY_TOO_LARGE,
                )
            ],
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RulebookError(
            "the overlay is not UTF-8",
            [ErrorDetail(str(p), f"invalid byte at {exc.start}", code=ErrorCode.OVERLAY_ENCODING)],
        ) from None
    doc = _plain(_read_yaml(p.name, text, ErrorCode.OVERLAY_PARSE))
    errors = [
        ErrorDetail(p.name, e.message[:200], code=ErrorCode.OVERLAY_SCHEMA, location=tuple(e.absolute_path))
        for e in schema_validator("overlay.schema.json").iter_errors(doc)
    ]
    values = (
        {}
        if errors  # the schema's problems first: a value may not even be a number
        else {
            (rid, name): bounded_decimal(v["value"]) for rid, ps in doc["parameters"].items() for name, v in ps.items()
        }
    )
    errors += [  # every evaluator must hold the value: the columnar one as a float, too
        ErrorDetail(
            p.name,
            NUMBER_LIMITS,
            shown_number(doc["parameters"][rid][name]["value"]),
            code=ErrorCode.OVERLAY_SCHEMA,
            location=("parameters", rid, name, "value"),
        )
        for (rid, name), exact in values.items()
        if exact is None
    ]
    if errors:
        raise RulebookError("the overlay does not match its schema", errors)
    params = {
        rid: {name: (Fraction(values[rid, name] or 0), v.get("unit"), v["reason"]) for name, v in ps.items()}
        for rid, ps in doc["parameters"].items()
    }
    meta = doc["overlay"]
    return Overlay(meta["id"], meta["title"], meta["rulebook"], hashlib.sha256(raw).hexdigest(), params)


def apply_overlay(book: Rulebook, overlay: Overlay | str | os.PathLike[str]) -> Rulebook:
    """A new rulebook with the overlay's parameter values; its digest and ``overlays`` record it.

    Every overridden parameter keeps its unit and carries ``override`` text (the overlay, the
    original value and the reason), which appears in the evidence of each outcome it affects.
    """
    ov = overlay if isinstance(overlay, Overlay) else load_overlay(overlay)
    errors: list[ErrorDetail] = []
    if ov.rulebook != book.id:
        errors.append(
            ErrorDetail(
                f"overlay {ov.id}", f"is for rulebook {ov.rulebook}, not {book.id}", code=ErrorCode.OVERLAY_RULEBOOK
            )
        )
    by_id = {r.id: r for r in book.rules}
    new_rules: dict[str, Rule] = {}
    for rid, params in ov.parameters.items():
        rule = by_id.get(rid)
        if rule is None:
            errors.append(
                ErrorDetail(
                    f"overlay {ov.id}",
                    "no such rule",
                    code=ErrorCode.OVERLAY_UNKNOWN_RULE,
                    location=("parameters", rid),
                )
            )
            continue
        changed = dict(rule.parameters)
        for name, (value, unit, reason) in params.items():
            current = rule.parameters.get(name)
            if current is None:
                known = ", ".join(sorted(rule.parameters)) or "none"
                errors.append(
                    ErrorDetail(
                        f"overlay {ov.id}",
                        f"the rule has no such parameter (it has: {known})",
                        code=ErrorCode.OVERLAY_UNKNOWN_PARAMETER,
                        location=("parameters", rid, name),
                    )
                )
                continue
            if unit is not None and unit != current.unit:
                errors.append(
                    ErrorDetail(
                        f"overlay {ov.id}",
                        f"an overlay cannot change the unit ({current.unit})",
                        unit,
                        code=ErrorCode.OVERLAY_UNIT,
                        location=("parameters", rid, name, "unit"),
                    )
                )
                continue
            was, now = format_number(current.value, current.unit), format_number(value, current.unit)
            note = f"overlay {ov.id}: {was} -> {now}: {reason}"
            changed[name] = attrs.evolve(current, value=value, override=note)
        new_rules[rid] = attrs.evolve(rule, parameters=changed)
    if errors:
        raise RulebookError("the overlay does not fit the rulebook", errors)
    rules = tuple(new_rules.get(r.id, r) for r in book.rules)
    tag = f"{ov.id}@{ov.digest}"
    digest = hashlib.sha256((book.digest + "|" + tag).encode()).hexdigest()
    return attrs.evolve(book, rules=rules, digest=digest, overlays=(*book.overlays, tag))

"""Canonical JSON: the one text form the package hashes and writes one record per line with.

``canonical_json`` sorts object keys, puts no spaces between tokens and writes a ``Decimal``
exactly, as a plain decimal with no exponent and integral values without a fraction part
(``2.50`` -> ``2.5``, ``1E+2`` -> ``100``). It is what these use:

- a state's ``canonical`` text and ``digest`` (``data.state``: the digest is its sha256; a state's
  numbers are ints and Decimals, never floats, by the time it is frozen);
- a decision record's ``outcomes_digest`` (``audit.records``: with ``ascii=True``, non-ASCII
  characters escaped as ``\\uXXXX``, the form recorded digests were made with);
- JSON Lines output: the CLI's batch results and ``audit.records.append_log``'s audit trail.

Every other JSON value (objects with string keys) is written exactly as ``json.dumps(value, sort_keys=True,
separators=(",", ":"), ensure_ascii=ascii)`` writes it, floats included (their shortest repr:
the cohort values in outcome evidence are floats), so the digests and lines made before this
module existed are unchanged byte for byte (``tests/test_canonical.py``).

``readable_json`` is the form values take in error messages: the same but with spaces after
``,`` and ``:`` and numbers as given (``str`` of a Decimal, ``repr`` of a float).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal
from typing import Any

__all__ = ["canonical_json", "readable_json"]


def canonical_json(document: Any, *, ascii: bool = False, acyclic: bool = False) -> str:
    """Sorted keys, no spaces, exact decimals (see the module docstring).

    ``ascii`` escapes non-ASCII characters (as ``json.dumps`` does by default). Raises TypeError
    for a value that is not JSON data. ``acyclic``: the caller vouches that no object or array
    holds itself (parsed JSON cannot), so the encoder skips its check for circular references
    (a tenth of its time on a national state); the text is the same.

    Written by ``json.dumps``'s C encoder, each Decimal first as a marker (a NUL, its index, a
    NUL: ``"\\u0000i\\u0000"`` in the text) then replaced by its exact text; a value the encoder
    does not take as it is (a Mapping that is not a dict...), or text that holds a NUL of its own,
    is written by the Python encoder instead (``_encode``: the same text, ten times slower)."""
    numbers: list[str] = []

    def number(value: Any) -> str:
        if not isinstance(value, Decimal):
            raise TypeError(f"not JSON serialisable: {type(value).__name__}")
        numbers.append(_decimal_json(value))
        return f"\0{len(numbers) - 1}\0"

    try:
        text = json.dumps(
            document,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=ascii,
            default=number,
            check_circular=not acyclic,
        )
    except (TypeError, ValueError):
        text = None
    if text is not None and numbers:
        # every \u0000 of the text is a marker's: split on their openings, so that each piece
        # after the first starts with a marker's index and end (no regular expression scanning
        # the whole text for quotes, a tenth of the time on a national state)
        pieces = text.split(_OPEN)
        if len(pieces) == len(numbers) + 1 and text.count("\\u0000") == 2 * len(numbers):
            out = [pieces[0]]
            for piece in pieces[1:]:
                end = piece.index(_CLOSE)
                out.append(numbers[int(piece[:end])])
                out.append(piece[end + len(_CLOSE) :])
            return "".join(out)
        text = None
    if text is None or "\\u0000" in text:
        parts: list[str] = []
        _encode(document, parts, False, ascii)
        return "".join(parts)
    return text


_OPEN, _CLOSE = '"\\u0000', '\\u0000"'


def readable_json(value: Any) -> str:
    """A value as error messages show it: JSON with a space after ``,`` and ``:``, numbers as
    given. Raises TypeError for a value that is not JSON data."""
    parts: list[str] = []
    _encode(value, parts, True, False)
    return "".join(parts)


def _encode(value: Any, out: list[str], pretty: bool, ascii: bool) -> None:
    if value is None or isinstance(value, (bool, str)):
        out.append(json.dumps(value, ensure_ascii=ascii))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, Decimal):
        out.append(str(value) if pretty else _decimal_json(value))
    elif isinstance(value, float):
        out.append(repr(value) if pretty else json.dumps(value))  # as json.dumps writes floats
    elif isinstance(value, Mapping):
        out.append("{")
        for i, key in enumerate(sorted(value)):
            if i:
                out.append(", " if pretty else ",")
            out.append(json.dumps(key, ensure_ascii=ascii))
            out.append(": " if pretty else ":")
            _encode(value[key], out, pretty, ascii)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(", " if pretty else ",")
            _encode(item, out, pretty, ascii)
        out.append("]")
    else:
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _decimal_json(value: Decimal) -> str:
    """A Decimal as a JSON number with no exponent; integral values without a fraction part."""
    if not value.is_finite():
        return str(value)  # only ever shown in error messages: valid states hold finite numbers
    if value.is_zero():
        return "0"
    # exact: normalize in a context as precise as the number (the default context's 28 digits
    # would round a longer one); format, not int(), which refuses more than 4300 digits
    exact = value.normalize(Context(prec=len(value.as_tuple().digits), Emax=MAX_EMAX, Emin=MIN_EMIN))
    return format(exact, "f")

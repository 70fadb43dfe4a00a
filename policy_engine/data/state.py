"""The system state: load, validate (every error, with its JSON path) and freeze."""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import gc
import hashlib
import json
import math
import os
import stat
from collections.abc import Callable, Collection, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs
import jsonschema

from .._resources import load_schema
from ..errors import ErrorCode, ErrorDetail, Location, StateError
from ..io.arguments import check_instance, check_path, wrong_argument
from ..io.canonical import canonical_json, readable_json
from ..io.collector import paused
from ..io.schemas import compiled_check, schema_validator, validator_of
from ..language.months import MONTH_FORMAT, format_month, month_complete, parse_date, parse_month
from ..language.numbers import MAX_DECIMAL_PLACES, MAX_INTEGER_DIGITS, NUMBER_LIMITS, bounded_decimal, shown_number

if TYPE_CHECKING:
    from ..rulebook.loader import Rulebook

__all__ = [
    "MAX_STATE_BYTES",
    "CompleteCohort",
    "Fact",
    "Observation",
    "Organisation",
    "Provenance",
    "State",
    "load_state",
    "state_from_dict",
    "state_from_json",
    "validate_state",
]

MAX_STATE_BYTES = 100 * 1024 * 1024
"""Largest state document accepted (bytes); larger input is refused with a StateError."""


@attrs.frozen
class Observation:
    """One month of a metric: counts (numerator/denominator) or a plain value."""

    month: int
    numerator: int | None = None
    denominator: int | None = None
    value: Fraction | None = None

    @property
    def period(self) -> str:
        return format_month(self.month)


@attrs.frozen
class Fact:
    """A dated declaration about an organisation, with a reference to its evidence."""

    name: str
    value: bool | Fraction | str | dt.date
    date: dt.date
    evidence: str | None = None


def _freeze_series(
    value: Mapping[str, Mapping[int, Observation]],
) -> Mapping[str, Mapping[int, Observation]]:
    return MappingProxyType({k: MappingProxyType(dict(v)) for k, v in value.items()})


@attrs.frozen
class Provenance:
    """Where one of an organisation's details came from: ``source`` (a file and line, or how it
    was worked out), ``basis`` (what in it), and whether it is ``confirmed`` (False: assumed)."""

    source: str
    basis: str | None = None
    confirmed: bool = True


def _freeze_provenance(value: Mapping[str, Provenance]) -> Mapping[str, Provenance]:
    return MappingProxyType(dict(value))


@attrs.frozen
class Organisation:
    """A trust, ICB, practice or PCN with its services, metrics and facts.

    ``provenance`` says where its ``type``, ``name``, ``parent`` and ``region`` came from, when
    the state records it (an import does); ``type_confirmed`` is False when the type was assumed.
    """

    id: str
    type: str
    name: str | None = None
    parent: str | None = None
    pcn: str | None = None
    region: str | None = None
    services: frozenset[str] | None = None
    metrics: Mapping[str, Mapping[int, Observation]] = attrs.field(converter=_freeze_series, factory=dict)
    facts: tuple[Fact, ...] = ()
    region_code: str | None = None
    provenance: Mapping[str, Provenance] = attrs.field(converter=_freeze_provenance, factory=dict)

    @property
    def type_confirmed(self) -> bool:
        """False when the state says the organisation's type was assumed, not confirmed."""
        basis = self.provenance.get("type")
        return basis is None or basis.confirmed


@attrs.frozen
class State:
    """A validated, deeply immutable system state, held in one representation.

    The state *is* its canonical JSON text, ``canonical`` (sorted keys, exact numbers, no spaces).
    Everything else is derived from that text when the State is made and cannot be given
    separately: ``organisations``, ``as_of`` and ``cohorts`` (frozen), and ``digest`` (the sha256
    of ``canonical``, the one a decision record names). So no State can carry a digest that is
    not the digest of its own validated content:

    * ``State(text)`` parses and validates ``text`` (the schema and consistency checks of
      ``validate_state``; StateError listing every problem) and derives the rest;
      ``attrs.evolve(state, canonical=text)`` does the same;
    * ``attrs.evolve(state, organisations=...)`` (or ``as_of``, ``cohorts``, ``digest``) is a
      TypeError: change the document and make a new State (``state_from_dict``).

    ``document`` and ``to_dict()`` give a fresh copy of the data, so changing a copy cannot change
    the state. Two States are equal when their digests are.
    """

    organisations: tuple[Organisation, ...] = attrs.field(init=False, eq=False)
    as_of: dt.date | None = attrs.field(init=False, eq=False)
    canonical: str = attrs.field(eq=False, repr=False)
    digest: str = attrs.field(init=False, repr=False)
    cohorts: tuple[CompleteCohort, ...] = attrs.field(init=False, eq=False)
    """The cohorts the state declares it holds completely (see ``CompleteCohort``)."""
    _fits: set[str] = attrs.field(init=False, eq=False, repr=False, hash=False)
    """The digests of the rulebooks whose catalogues the state was checked to fit (internal: the
    mark that it is not checked again, decision 032). Every State passed the schema and the
    consistency checks when it was made (there is no other way to make one)."""

    def __attrs_post_init__(self) -> None:
        with paused(_collect_the_young):
            _derive(self, _validated(_parse_json(self.canonical, "state"), None))

    @classmethod
    def _of_validated(
        cls, doc: Mapping[str, Any], canonical: str | None = None, organisations: Iterable[Organisation] | None = None
    ) -> State:
        """The State of a document ``validate_state`` accepted, numbers normalised (no second
        check); ``canonical`` and ``organisations`` as ``_derive`` takes them."""
        state: State = object.__new__(cls)
        _derive(state, doc, canonical, organisations)
        return state

    @property
    def document(self) -> dict[str, Any]:
        """A fresh copy of the state as plain data (numbers as exact Decimals)."""
        return self.to_dict()

    def organisation(self, org_id: str) -> Organisation:
        """The organisation with this id; StateError if there is none."""
        for org in self.organisations:
            if org.id == org_id:
                return org
        raise StateError(
            "unknown organisation",
            [
                ErrorDetail(
                    "organisations", "no organisation with this id", org_id, code=ErrorCode.STATE_UNKNOWN_ORGANISATION
                )
            ],
        )

    def to_dict(self) -> dict[str, Any]:
        """The state as plain JSON-compatible data (numbers stay exact)."""
        return json.loads(self.canonical, parse_float=Decimal)  # type: ignore[no-any-return]


def _derive(
    state: State,
    doc: Mapping[str, Any],
    canonical: str | None = None,
    organisations: Iterable[Organisation] | None = None,
) -> None:
    """Set every field of ``state`` from ``doc`` (validated, numbers normalised): the only place
    a State's fields are written. ``canonical`` and ``organisations``, when given, are
    ``canonical_json(doc)`` and ``organisations_of(doc)``, already made (``_state_of_text``)."""
    if canonical is None:
        canonical = canonical_json(doc)
    fields = {
        "organisations": tuple(organisations_of(doc) if organisations is None else organisations),
        "as_of": parse_date(doc["as_of"]) if "as_of" in doc else None,
        "canonical": canonical,
        "digest": _sha256(canonical),
        "cohorts": tuple(
            CompleteCohort(c["scope"], tuple(c["types"]), c["source"], parse_date(c["date"]) if "date" in c else None)
            for c in doc.get("cohorts") or ()
        ),
    }
    for name, value in fields.items():
        object.__setattr__(state, name, value)
    object.__setattr__(state, "_fits", set())


def _sha256(text: str) -> str:
    """The sha256 of ``text`` as UTF-8, encoded a slice at a time (a national state's canonical
    text is 70 MB; its whole encoding need not be held beside it). A valid state's text has no
    lone surrogate, so the slices' encodings are the whole text's, cut up."""
    digest = hashlib.sha256()
    for start in range(0, len(text), _HASH_SLICE):
        digest.update(text[start : start + _HASH_SLICE].encode("utf-8"))
    return digest.hexdigest()


_HASH_SLICE = 1 << 22


def _collect_the_young() -> None:
    """What the collector would have done with the objects made while it was paused (``paused``,
    around parsing and freezing a state), done once. It is paused there because the millions of
    dicts, lists and ``Observation`` objects a national state makes form no cycles, and each
    collection they trigger only walks the growing heap (a third of ``load_state``'s time).

    On resuming, the objects made meanwhile (those still alive: the State) are collected
    once, as the collector would have collected them had it run: the young generations (more
    than ``_YOUNG`` objects made), and the whole heap after more than ``_MANY`` (the collector
    walks it all once the objects new to its oldest generation are a quarter of those in it).
    Otherwise the next thousand allocations pay for it: the first ``statuses`` after a national
    load took 0.3 s longer, the collection the load no longer made. Not when an error ends the
    pause (what was made goes with it); callers let go of what they made before the pause ends
    (the parsed document), so that it is not walked. The pause is the process's one
    (``io.collector.paused``: shared by threads and nested calls, resumed when the last ends), so
    this runs when the last pause ends."""
    young = gc.get_count()[0]
    if young > _YOUNG:
        gc.collect(2 if young > _MANY else 1)


_YOUNG = 10_000
"""Objects made while the collector was paused beyond which it collects them on resuming (below
it, the collector's own first collection soon does)."""

_MANY = 1_000_000
"""Objects made while the collector was paused beyond which it collects the whole heap on
resuming (a national state makes 3 million)."""


@attrs.frozen
class CompleteCohort:
    """A declaration that the state holds *every* organisation of ``types`` within ``scope``
    (``"national"``: in England), from ``source`` (the national file it was built from), complete
    for ``date``. Rules that rank organisations against each other are judged only against one."""

    scope: str
    types: tuple[str, ...]
    source: str
    date: dt.date | None = None

    def describe(self) -> str:
        """In words: "national cohort of acute_trust (source, 2025-04-10)"."""
        when = f", {self.date}" if self.date else ""
        return f"{self.scope} cohort of {', '.join(self.types)} ({self.source}{when})"


def complete_cohort(cohorts: Iterable[CompleteCohort], scope: str, types: Iterable[str]) -> CompleteCohort | None:
    """The first declared cohort of ``scope`` covering every one of ``types``."""
    need = set(types)
    return next((c for c in cohorts if c.scope == scope and need <= set(c.types)), None)


@attrs.frozen
class OrgView:
    """An organisation as seen at ``as_of``: complete months only, latest facts dated by then."""

    org: Organisation
    series: Mapping[str, Mapping[int, Observation]]
    facts: Mapping[str, Fact]

    @property
    def services(self) -> frozenset[str] | None:
        return self.org.services


def view_at(org: Organisation, as_of: dt.date, date_facts: frozenset[str] = frozenset()) -> OrgView:
    """What is known about ``org`` at ``as_of``; facts named in ``date_facts`` hold dates."""
    series = {name: {m: o for m, o in obs.items() if month_complete(m, as_of)} for name, obs in org.metrics.items()}
    return OrgView(org, series, facts_at(org, as_of, date_facts))


def facts_at(org: Organisation, as_of: dt.date, date_facts: frozenset[str] = frozenset()) -> dict[str, Fact]:
    """The latest declaration of each fact dated on or before ``as_of`` (date facts parsed)."""
    facts: dict[str, Fact] = {}
    for fact in org.facts:
        if fact.date > as_of:
            continue
        current = facts.get(fact.name)
        if current is None or fact.date > current.date:
            facts[fact.name] = fact
    for name in date_facts & facts.keys():
        fact = facts[name]
        if isinstance(fact.value, str):
            facts[name] = attrs.evolve(fact, value=parse_date(fact.value))
    return facts


# --------------------------------------------------------------------------- JSON in


def _reject_constant(name: str) -> Any:
    # Kept as a non-finite Decimal so the number check reports it with its JSON path.
    return Decimal(name)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):  # some key repeats: name the first that does
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r} in one object")
            seen.add(key)
    return out


def _parse_json(data: bytes | bytearray | str, what: str, irregular: list[str] | None = None) -> Any:
    """The JSON text ``data`` parsed with exact numbers (StateError if it is not JSON, too large,
    not UTF-8...). ``irregular`` (when given) gets a note of anything that makes the parsed
    document differ from its normal form or unfit for the compiled schema check alone (a number
    beyond the limits, NaN or Infinity, an integral decimal such as ``5.0``, a ``\\uD...`` escape,
    which may be a lone surrogate): when it stays empty, the document is already what
    ``_normalise_numbers`` would make of it."""
    raw: bytes | bytearray
    if isinstance(data, str):
        raw = data.encode("utf-8", errors="surrogatepass")
    else:
        raw = data
    if len(raw) > MAX_STATE_BYTES:
        raise StateError(
            f"{what} is too large",
            [
                ErrorDetail(
                    "$",
                    f"at most {MAX_STATE_BYTES} bytes are accepted",
                    f"{len(raw)} bytes",
                    code=ErrorCode.STATE_TOO_LARGE,
                )
            ],
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StateError(
            f"{what} is not UTF-8 text",
            [
                ErrorDetail(
                    "$",
                    f"invalid UTF-8 at byte {exc.start}",
                    repr(bytes(raw[exc.start : exc.start + 4])),
                    code=ErrorCode.STATE_ENCODING,
                )
            ],
        ) from None
    hooks: tuple[Callable[[str], Any], Callable[[str], Any], Callable[[str], Any]]
    hooks = (_json_fraction, _json_integer, _reject_constant)
    if irregular is not None:
        if "\\ud" in text or "\\uD" in text:
            irregular.append("a \\uD... escape")
        hooks = _noting_hooks(irregular)
    try:
        return json.loads(
            text,
            parse_float=hooks[0],
            parse_int=hooks[1],
            parse_constant=hooks[2],
            object_pairs_hook=_no_duplicates,
        )
    except RecursionError:
        raise StateError(
            f"{what} is nested too deeply", [ErrorDetail("$", "nesting too deep", code=ErrorCode.STATE_PARSE)]
        ) from None
    except json.JSONDecodeError as exc:
        raise StateError(
            f"{what} is not valid JSON",
            [ErrorDetail("", exc.msg, code=ErrorCode.STATE_PARSE, line=exc.lineno, column=exc.colno)],
        ) from None
    except ValueError as exc:
        raise StateError(
            f"{what} is not valid JSON", [ErrorDetail("$", str(exc), code=ErrorCode.STATE_PARSE)]
        ) from None


def _noting_hooks(irregular: list[str]) -> tuple[Callable[[str], Any], Callable[[str], Any], Callable[[str], Any]]:
    """The number hooks of ``_parse_json``, each noting in ``irregular`` a number that is not in
    normal form or that the compiled schema check would read otherwise than jsonschema."""

    def fraction(text: str) -> Any:
        value = _json_fraction(text)
        if type(value) is not Decimal or value == value.to_integral_value():
            irregular.append(text)
        return value

    def integer(text: str) -> Any:
        value = _json_integer(text)
        if type(value) is not int:
            irregular.append(text)
        return value

    def constant(name: str) -> Any:
        irregular.append(name)
        return _reject_constant(name)

    return fraction, integer, constant


def _state_of_text(data: bytes | bytearray | str, what: str, *, release: bool = False) -> State:
    """The State of a JSON text (StateError listing every problem), the garbage collector paused.

    Read first by ``_parse_fast`` (no hook for integers or objects), which gives up on anything
    it could read otherwise than ``_parse_json``; a document it reads that the compiled schema
    check accepts is written as canonical text, which shows whether it had a repeated key
    (``_parse_json`` would refuse one), and frozen as it is when ``_frozen`` finds it consistent.
    Any other goes the way ``_parse_json`` and ``state_from_dict`` go, which find every problem
    (a document ``_parse_fast`` read is not walked for its numbers: ``_checked``'s ``regular``).

    ``release``: ``data`` is a bytearray of the caller's own, emptied once it is no longer needed
    (``load_state``: the file's bytes are not held beside the frozen State while it is made)."""
    with paused(_collect_the_young):
        return _read_state(data, what, release)  # its document let go before the pause ends


def _read_state(data: bytes | bytearray | str, what: str, release: bool) -> State:
    """``_state_of_text``, the collector paused."""
    fast = _parse_fast(data)
    if fast is not None:
        doc, colons = fast
        del fast
        if _schema_accepts(doc):
            canonical = _canonical_of(doc)
            if canonical.count(":") == colons:  # no repeated key: the document _parse_json reads
                if release and isinstance(data, bytearray):
                    data.clear()
                try:
                    orgs, consistent = _frozen(doc)
                except ValueError:  # a month or date the consistency checks refuse
                    orgs, consistent = [], False
                if consistent:
                    return State._of_validated(doc, canonical, orgs)
                del orgs, canonical
                return State._of_validated(_validated(doc, None, regular=True))
        elif not _repeats_a_key(doc, colons):
            return State._of_validated(_validated(doc, None, regular=True))
        del doc
    irregular: list[str] = []
    doc = _parse_json(data, what, irregular)
    if not irregular and _schema_accepts(doc):
        errors: list[ErrorDetail] = []
        _check_consistency(doc, errors)
        if not errors:
            return State._of_validated(doc)
    return State._of_validated(_validated(doc, None, regular=not irregular))


_DIGITS = bytes(48 if 48 <= i <= 57 else 32 for i in range(256))
"""A translation table: each ASCII digit to ``0``, every other byte to a space."""


def _parse_fast(data: bytes | bytearray | str) -> tuple[Any, int] | None:
    """``_parse_json(data, what, irregular)`` when that would succeed with nothing noted in
    ``irregular``, read by ``json.loads`` with no hook for integers or objects (2.5 million
    integers and 1.2 million objects in a national state; their hooks were most of the parse),
    with the number of colons in ``data``; None when it might read ``data`` otherwise, or refuse it:

    * no run of more than ``MAX_INTEGER_DIGITS`` digits (so every integer literal is an int
      within the limits: the integer hook's result);
    * no ``\\u003`` escape (``\\u003a`` is a colon: see below) or ``\\uD`` one (a possible
      lone surrogate, noted by ``_parse_json``);
    * fractions and NaN read by the same hooks as ``_parse_json``'s, noting the same;
    * not too large, UTF-8, valid JSON (any error: None, and ``_parse_json`` says it).

    A repeated key is not seen here: the caller compares the colons of ``data`` with those of
    the document's canonical text. Every colon of a JSON text is a key's or inside a string
    (escaped only as ``\\u003a``, excluded), so the counts are equal exactly when no key was
    dropped; the canonical text writes every key and every colon of every string."""
    raw: bytes | bytearray
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError:
            return None
    else:
        raw = data
    if (
        len(raw) > MAX_STATE_BYTES
        or b"0" * (MAX_INTEGER_DIGITS + 1) in raw.translate(_DIGITS)
        or (b"\\u" in raw and (b"\\u003" in raw or b"\\ud" in raw or b"\\uD" in raw))
    ):
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    irregular: list[str] = []
    fraction, _, constant = _noting_hooks(irregular)
    try:
        doc = json.loads(text, parse_float=fraction, parse_constant=constant)
    except (RecursionError, ValueError):  # JSONDecodeError is a ValueError
        return None
    return None if irregular else (doc, raw.count(b":"))


def _canonical_of(doc: dict[str, Any]) -> str:
    """``canonical_json(doc)`` for a document the schema accepted, written an organisation at a
    time: the whole document's encoding would hold its text three times over while the markers of
    its decimals are replaced (200 MB for a national state), the organisations' texts and their
    join hold it twice."""
    head = canonical_json({**doc, "organisations": []}, acyclic=True)
    if not head.endswith('"organisations":[]}'):  # pragma: no cover - the schema's last root key
        return canonical_json(doc, acyclic=True)
    parts = [head[:-2]]
    for i, org in enumerate(doc["organisations"]):
        if i:
            parts.append(",")
        parts.append(canonical_json(org, acyclic=True))
    parts.append("]}")
    return "".join(parts)


def _repeats_a_key(doc: Any, colons: int) -> bool:
    """Whether ``_parse_fast`` may have dropped a repeated key reading ``doc``, with ``colons``
    colons in its text: whether ``doc``'s canonical text has fewer (see ``_parse_fast``)."""
    try:
        return canonical_json(doc, acyclic=True).count(":") != colons
    except (RecursionError, TypeError, ValueError):  # nested too deeply to write
        return True


def load_state(path: str | os.PathLike[str]) -> State:
    """Read and validate a state JSON file.

    Only a regular file is read (a device such as ``/dev/zero``, a FIFO or a folder is refused),
    and at most ``MAX_STATE_BYTES`` + 1 bytes of it, so a file that grows while it is read cannot
    exhaust memory either."""
    p = Path(check_path(path, "path", StateError))
    try:
        # O_NONBLOCK: opening a FIFO does not wait for a writer (it is then refused as one)
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with open(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise StateError(
                    "cannot read the state file",
                    [
                        ErrorDetail(
                            str(p), "expected a regular file", _file_kind(info.st_mode), code=ErrorCode.STATE_READ
                        )
                    ],
                )
            if info.st_size > MAX_STATE_BYTES:
                raise _too_large(p, f"{info.st_size} bytes")
            data = bytearray(fh.read(MAX_STATE_BYTES + 1))  # ours: emptied once read (``release``)
    except OSError as exc:
        raise StateError(
            "cannot read the state file", [ErrorDetail(str(p), exc.strerror or str(exc), code=ErrorCode.STATE_READ)]
        ) from None
    if len(data) > MAX_STATE_BYTES:
        raise _too_large(p, f"more than {MAX_STATE_BYTES} bytes")
    return _state_of_text(data, f"state file {p}", release=True)


def _too_large(p: Path, size: str) -> StateError:
    return StateError(
        "state file is too large",
        [ErrorDetail(str(p), f"at most {MAX_STATE_BYTES} bytes are accepted", size, code=ErrorCode.STATE_TOO_LARGE)],
    )


def _file_kind(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    for test, word in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return word
    return "not a regular file"  # pragma: no cover - every kind open() can open is listed


def state_from_json(text: str | bytes) -> State:
    """Parse and validate a state given as JSON text (``str``, ``bytes`` or ``bytearray``)."""
    if not isinstance(text, (str, bytes, bytearray)):
        raise wrong_argument(StateError, "text", "JSON text (str or bytes)", text)
    return _state_of_text(bytes(text) if isinstance(text, bytearray) else text, "state")


# --------------------------------------------------------------------------- validation


def _at(code: ErrorCode, location: Location, message: str, value: str | None = None) -> ErrorDetail:
    """A problem at ``location`` in the state document (its path reads ``state.organisations[1]...``)."""
    return ErrorDetail("state", message, value, code=code, location=location)


def _short(value: Any) -> str:
    """A value as it appears in an error message: JSON with spaces, numbers exactly as given,
    cut to 80 characters; a lone surrogate shown escaped (``\\udfff``), so the message can be
    printed and written as UTF-8; an integer too long to write, by its size."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return shown_number(value)
    if isinstance(value, str) and len(value) > 80:
        value = value[:77]  # only what is shown is encoded
        cut = True
    else:
        cut = False
    try:
        text = readable_json(value)
    except (TypeError, ValueError, ArithmeticError):
        text = _plain_repr(value)
    if _has_surrogate(text):
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if cut:
        text = text[:-1] + '..."'
    return text if len(text) <= 80 else text[:77] + "..."


def _plain_repr(value: Any) -> str:
    try:
        return repr(value)
    except (TypeError, ValueError, ArithmeticError):  # pragma: no cover - a hostile __repr__
        return f"a {type(value).__name__}"


_SURROGATE = (
    "expected text without lone surrogates (an unpaired \\ud800-\\udfff escape is half of a "
    "UTF-16 pair, not a character, and cannot be written as UTF-8)"
)


def _has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (which no UTF-8 text can hold)."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class _Unreadable:
    """A JSON number literal too long or too large to read (``1e99999999999999999999``, a
    5000-digit integer): kept as a marker so the check reports it at its JSON path."""

    __slots__ = ("shown",)

    def __init__(self, text: str) -> None:
        self.shown = text if len(text) <= 80 else f"{text[:40]}... ({len(text)} characters)"


def _json_integer(text: str) -> Decimal | int | _Unreadable:
    """``_json_number`` of an integer literal, at once when it is short: at most
    ``MAX_INTEGER_DIGITS`` characters (a sign with fewer digits) are always within the limits."""
    return int(text) if len(text) <= MAX_INTEGER_DIGITS else _json_number(text)


def _json_fraction(text: str) -> Decimal | int | _Unreadable:
    """``_json_number`` of a literal with a fraction or an exponent, at once when it is plainly
    within the limits (no exponent, at most ``MAX_INTEGER_DIGITS`` characters before the point
    and ``MAX_DECIMAL_PLACES`` after it): the same Decimal, without counting its digits."""
    if "e" not in text and "E" not in text:
        point = text.find(".")
        if point - text.startswith("-") <= MAX_INTEGER_DIGITS and len(text) - point - 1 <= MAX_DECIMAL_PLACES:
            return Decimal(text)
    return _json_number(text)


def _json_number(text: str) -> Decimal | int | _Unreadable:
    """A JSON number literal, exact, or a marker when it is beyond the limits: never Python's
    4300-digit int error, decimal's InvalidOperation or a Decimal that later hangs."""
    exact = bounded_decimal(text)
    if exact is None:
        return _Unreadable(text)
    if "." in text or "e" in text or "E" in text:
        # a JSON fraction or exponent stays a Decimal (not a count): as given, unless zero-padded
        return Decimal(text) if len(text) <= 64 else exact
    return int(text)


def _validator() -> jsonschema.protocols.Validator:
    return schema_validator("state.schema.json", formats=True)


@attrs.frozen
class _StateSchema:
    """The state schema cut for the happy path (decision 032), built once per process:

    * ``whole``: the compiled check of the whole schema;
    * ``organisation``: the compiled check of one organisation (its ``$defs`` entry, standalone);
    * ``root_check``: the compiled check of the schema without the organisations' items, so that
      ``accepts`` (the root's verdict, then each organisation's) is ``whole``'s verdict: the one
      the happy path asks for, in half the time and with no copy of a national state held by
      jsonschema-rs while it checks it whole (80 MB);
    * ``root`` and ``organisation_validator``: jsonschema validators of the schema without the
      organisations' items and of one organisation, which describe the problems of a refused
      state: the root's own, then those of each organisation the compiled check refuses.

    Together they find exactly the errors the whole schema's validator finds (the organisations'
    ``items`` is the only way into them), at paths made absolute by ``("organisations", i)``.
    """

    whole: Callable[[Any], bool]
    organisation: Callable[[Any], bool]
    root: jsonschema.protocols.Validator
    organisation_validator: jsonschema.protocols.Validator
    root_check: Callable[[Any], bool]

    def accepts(self, doc: Any) -> bool:
        """``whole(doc)``, told by the root's compiled check and each organisation's."""
        return self.root_check(doc) and all(map(self.organisation, doc["organisations"]))


@functools.cache
def _state_schema() -> _StateSchema | None:
    """The compiled parts of the state schema, or None when it cannot be compiled exactly
    (then ``_validator`` checks every state alone)."""
    schema = load_schema("state.schema.json")
    organisation = {"$schema": schema["$schema"], "$defs": schema["$defs"], **schema["$defs"]["organisation"]}
    listed = {k: v for k, v in schema["properties"]["organisations"].items() if k != "items"}
    root = {**schema, "properties": {**schema["properties"], "organisations": listed}}
    whole, one = compiled_check(schema, formats=True), compiled_check(organisation, formats=True)
    root_check = compiled_check(root, formats=True)
    if whole is None or one is None or root_check is None:  # pragma: no cover - the bundled schema compiles
        return None
    return _StateSchema(
        whole, one, validator_of(root, formats=True), validator_of(organisation, formats=True), root_check
    )


def _schema_accepts(doc: Any) -> bool:
    """The compiled check's verdict on a document in normal form holding no integral Decimal
    (False also when there is no compiled check)."""
    parts = _state_schema()
    return parts is not None and parts.accepts(doc)


def _schema_problems(
    doc: Any, compiled: bool = True, refused: list[int] | None = None
) -> list[tuple[Location, jsonschema.ValidationError]]:
    """Every error the state schema's validator finds in ``doc``, each with the location of the
    instance it was validated at (its ``absolute_path`` is relative to it): nothing at all when
    the compiled check accepts ``doc``; otherwise the errors of the root and of each organisation
    the compiled check refuses, by jsonschema (so messages are jsonschema's, and their cost is
    the bad parts'). ``compiled=False`` (the document holds an integral Decimal, which the
    compiled check reads as an integer): jsonschema checks each organisation. ``refused``: the
    indexes of the organisations the compiled check refuses, when the caller has them."""
    parts = _state_schema()
    if parts is None:
        return [((), e) for e in _validator().iter_errors(doc)]
    orgs = doc.get("organisations") if isinstance(doc, dict) else None
    if not isinstance(orgs, list):
        return [((), e) for e in _validator().iter_errors(doc)]
    if refused is None or not compiled:
        refused = [i for i, org in enumerate(orgs) if not compiled or not parts.organisation(org)]
    if compiled and not refused and parts.root_check(doc):  # the whole schema's verdict (``accepts``)
        return []
    found: list[tuple[Location, jsonschema.ValidationError]] = [((), e) for e in parts.root.iter_errors(doc)]
    for i in refused:
        found.extend((("organisations", i), e) for e in parts.organisation_validator.iter_errors(orgs[i]))
    return found


def _normalise_numbers(value: Any, errors: list[ErrorDetail], integral: list[Location] | None = None) -> Any:
    """Floats from Python callers become exact Decimals; NaN/Infinity are refused.

    Walks iteratively (hostile inputs may nest deeply) and returns a copy, never the caller's data.
    ``integral`` (when given) gets the location of each Decimal with an integral value (``5.0``):
    jsonschema does not count one as an integer, the compiled schema check would (decision 032).
    """
    out_root: list[Any] = [None]
    todo: list[tuple[Any, Location, Any, Any]] = [(value, (), out_root, 0)]
    while todo:
        item, where, parent, key = todo.pop()
        if isinstance(item, (Mapping, list, tuple)) and (
            len(where) >= _MAX_DEPTH or (item and len(where) >= _MAX_DEPTH - 1)
        ):
            raise _TooDeep  # the container, or the values in it, more than _MAX_DEPTH levels deep
        if isinstance(item, Mapping):
            d: dict[str, Any] = {}
            parent[key] = d
            for k, v in item.items():
                if not isinstance(k, str):
                    errors.append(_at(ErrorCode.STATE_VALUE, where, "object keys must be strings", repr(k)))
                    continue
                if _has_surrogate(k):  # located at its object: a path through it could not be printed
                    errors.append(_at(ErrorCode.STATE_VALUE, where, f"a key: {_SURROGATE}", _short(k)))
                    continue
                if _plain(v):  # most values: kept as they are, no path made for them
                    d[k] = v
                else:
                    todo.append((v, (*where, k), d, k))
        elif isinstance(item, (list, tuple)):
            lst: list[Any] = [None] * len(item)
            parent[key] = lst
            for i, v in enumerate(item):
                if _plain(v):
                    lst[i] = v
                else:
                    todo.append((v, (*where, i), lst, i))
        else:
            parent[key] = _normalised_leaf(item, where, errors, integral)
    return out_root[0]


_INT_BOUND = 10**MAX_INTEGER_DIGITS
_MAX_DEPTH = 64
"""Most levels of nesting a state document may have (the document itself is level 1)."""


class _TooDeep(Exception):
    """A document nested more than ``_MAX_DEPTH`` levels deep (``_normalise_numbers`` stops)."""


def _plain(value: Any) -> bool:
    """Whether ``value`` is kept as it is with no check that could fail: None, a boolean, ASCII
    text, or an integer well within the limits (everything else goes through ``_normalised_leaf``)."""
    kind = type(value)
    if kind is str:
        return value.isascii()  # type: ignore[no-any-return]
    if kind is int:
        return -_INT_BOUND < value < _INT_BOUND  # type: ignore[no-any-return]
    return value is None or kind is bool


def _normalised_leaf(item: Any, where: Location, errors: list[ErrorDetail], integral: list[Location] | None) -> Any:
    """A value that is not an object or an array, as the normalised document holds it (problems
    with it appended to ``errors``)."""
    if isinstance(item, bool) or item is None:
        return item
    if isinstance(item, str):
        if _has_surrogate(item):
            errors.append(_at(ErrorCode.STATE_VALUE, where, _SURROGATE, _short(item)))
        return item
    if isinstance(item, _Unreadable):
        errors.append(_at(ErrorCode.STATE_VALUE, where, NUMBER_LIMITS, item.shown))
        return None
    if isinstance(item, (int, Decimal)):
        if isinstance(item, Decimal) and not item.is_finite():
            errors.append(_at(ErrorCode.STATE_VALUE, where, "expected a finite number", str(item)))
            return item
        exact = bounded_decimal(item)
        if exact is None:
            errors.append(_at(ErrorCode.STATE_VALUE, where, NUMBER_LIMITS, _short(item)))
        elif integral is not None and isinstance(item, Decimal) and exact == exact.to_integral_value():
            integral.append(where)
        # kept as given (errors show it so), unless padded with a great many zeros
        long = isinstance(item, Decimal) and exact is not None and len(item.as_tuple().digits) > 64
        return exact if long else item
    if isinstance(item, float):
        if not math.isfinite(item):
            errors.append(_at(ErrorCode.STATE_VALUE, where, "expected a finite number", repr(item)))
            return item
        given = Decimal(repr(item))
        exact = bounded_decimal(given)
        if exact is None:
            errors.append(_at(ErrorCode.STATE_VALUE, where, NUMBER_LIMITS, repr(item)))
        elif integral is not None and exact == exact.to_integral_value():
            integral.append(where)
        return given
    if isinstance(item, dt.date) and not isinstance(item, dt.datetime):
        return item.isoformat()
    errors.append(_at(ErrorCode.STATE_VALUE, where, "expected a JSON value", type(item).__name__))
    return None


def validate_state(document: Any, rulebook: Rulebook | None = None) -> list[ErrorDetail]:
    """Every problem with a state document (empty list if it is valid).

    Checks the JSON schema, then consistency: unique organisation ids, parents and PCNs that exist
    and have the right type, one observation per month, no duplicate fact declarations. Given a
    rulebook, also checks metric and fact names, metric kinds (counts vs values), numerator <=
    denominator for proportions, fact value types and service names against its catalogues.
    """
    return _checked(document, rulebook)[0]


def _checked(document: Any, rulebook: Rulebook | None, regular: bool = False) -> tuple[list[ErrorDetail], Any]:
    """``validate_state``'s problems, and the document with its numbers normalised (which is
    what a State is made of when there are none).

    ``regular``: ``document`` was read by ``_parse_fast`` (or by ``_parse_json`` with nothing
    noted), so it is already in normal form, and ours: the number walk, which copies every node,
    is needed only for its depth limit, and only where the schema refuses (an organisation it
    accepts is five levels deep at most), so only the root and the refused organisations are
    walked. Should that walk find anything else, the whole document is walked as for any other."""
    _check_rulebook(rulebook)
    errors: list[ErrorDetail] = []
    integral: list[Location] = []
    refused: list[int] | None = None
    parts = _state_schema() if regular else None
    orgs = document.get("organisations") if isinstance(document, dict) else None
    try:
        if parts is not None and isinstance(orgs, list):
            refused = [i for i, org in enumerate(orgs) if not parts.organisation(org)]
            _normalise_numbers({**document, "organisations": [orgs[i] for i in refused]}, errors, integral)
        if errors or integral or refused is None:
            errors, integral, refused = [], [], None
            doc = _normalise_numbers(document, errors, integral)
        else:
            doc = document
    except _TooDeep:
        return [_at(ErrorCode.STATE_PARSE, (), f"nested more than {_MAX_DEPTH} levels deep")], None
    if not errors:
        seen: set[ErrorDetail] = set()
        found = _schema_problems(doc, compiled=not integral, refused=refused)
        problems = [((*at, *err.absolute_path), err) for at, err in found]
        for where, err in sorted(problems, key=lambda p: (list(map(str, p[0])), p[1].message)):
            detail = _schema_error(err, where)
            if detail not in seen:  # a bad date breaks both its pattern and its format: said once
                seen.add(detail)
                errors.append(detail)
    if not errors:
        _check_consistency(doc, errors)
        if rulebook is not None:
            _check_catalogue(doc, rulebook, errors)
    return _name_organisations(doc, errors), doc


def _check_rulebook(rulebook: Any) -> None:
    """StateError unless ``rulebook`` is a Rulebook or None (the argument, not the state, is wrong)."""
    if rulebook is not None:
        from ..rulebook.loader import Rulebook

        check_instance(rulebook, Rulebook, "rulebook", "a Rulebook (from load_rulebook) or None", StateError)


def rulebook_errors(state: State, rulebook: Rulebook) -> list[ErrorDetail]:
    """The problems of a State against ``rulebook``'s catalogues: the last stage of
    ``validate_state``, the only one a State can fail (it passed the schema and the consistency
    checks when it was made), so evaluating it never validates the schema again. Once a State is
    found to fit a rulebook it is not checked against it again; and a State that fits (the usual
    case) is told so from its frozen organisations, without its document; the problems of one
    that does not are found in its document, as ``validate_state`` finds them."""
    if rulebook.digest in state._fits or _fits_catalogue(state.organisations, rulebook):
        state._fits.add(rulebook.digest)
        return []
    doc = state.document
    errors: list[ErrorDetail] = []
    _check_catalogue(doc, rulebook, errors)
    return _name_organisations(doc, errors)


def _fits_catalogue(organisations: Iterable[Organisation], rulebook: Rulebook) -> bool:
    """Whether ``_check_catalogue`` finds nothing in the document these organisations were frozen
    from (the same checks, read from the frozen values: a number fact is a Fraction, a value
    observation has ``value``, a count observation ``numerator`` and ``denominator``)."""
    services, metrics, facts = rulebook.services, rulebook.metrics, rulebook.facts
    for org in organisations:
        if org.services and not all(s in services for s in org.services):
            return False
        for name, series in org.metrics.items():
            mdef = metrics.get(name)
            if mdef is None:
                return False
            if mdef.kind == "value":
                if any(o.value is None for o in series.values()):
                    return False
                continue
            for o in series.values():
                if o.numerator is None or o.denominator is None:
                    return False
                if mdef.kind == "proportion" and o.numerator > o.denominator:
                    return False
        for fact in org.facts:
            fdef = facts.get(fact.name)
            if fdef is None:
                return False
            value = fact.value
            if not {
                "boolean": isinstance(value, bool),
                "number": isinstance(value, Fraction),
                "string": isinstance(value, str),
                "date": isinstance(value, str) and _is_date(value),
            }[fdef.type]:
                return False
    return True


def _name_organisations(doc: Any, errors: list[ErrorDetail]) -> list[ErrorDetail]:
    """Each problem inside ``organisations[i]`` also names that organisation's id (when it has a
    text id), so that ``str()`` reads ``state.organisations[1] (EXA).metrics...``."""
    orgs = doc.get("organisations") if isinstance(doc, Mapping) else None
    if not isinstance(orgs, list):
        return errors
    out = []
    for detail in errors:
        at = detail.location[:2] if detail.subject == "state" and detail.line is None else ()
        index = at[1] if len(at) == 2 and at[0] == "organisations" else None
        if isinstance(index, int) and detail.org is None and index < len(orgs):
            org = orgs[index]
            org_id = org.get("id") if isinstance(org, Mapping) else None
            if isinstance(org_id, str) and org_id:
                detail = attrs.evolve(detail, org=org_id)
        out.append(detail)
    return out


def _did_you_mean(name: str, known: Collection[str]) -> str:
    """``"; did you mean X?"`` for the closest known name, or ``""`` if none is close."""
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"; did you mean {close[0]}?" if close else ""


def _schema_error(err: jsonschema.ValidationError, where: Location) -> ErrorDetail:
    """The problem ``err`` describes, at ``where`` (its absolute location in the state)."""
    v = err.validator
    if v == "oneOf" and isinstance(err.instance, Mapping) and "period" in err.instance:
        msg = "expected either numerator and denominator (counts) or value, not both or neither"
    elif v == "enum":
        msg = f"expected one of {', '.join(map(str, err.validator_value))}"  # type: ignore[arg-type]
    elif v == "required":
        msg = err.message.replace("is a required property", "is required")
    elif v == "additionalProperties":
        msg = f"unknown field ({err.message})"
    elif v in ("pattern", "format") and isinstance(err.schema, Mapping) and err.schema.get("format") == "date":
        msg = _date_problem(err.instance)
    elif v == "pattern" and where and where[-1] == "period":
        msg = MONTH_FORMAT
    elif v == "pattern":
        msg = f"expected text matching {err.validator_value}"
    elif v == "format":
        msg = f"expected a valid {err.validator_value}"
    elif v == "type":
        msg = f"expected {err.validator_value}"
    elif v in ("minimum", "maximum"):
        msg = f"expected a value {'>=' if v == 'minimum' else '<='} {err.validator_value}"
    else:
        msg = err.message
    return _at(ErrorCode.STATE_SCHEMA, where, msg, _short(err.instance))


def _date_problem(value: Any) -> str:
    """What is wrong with a date (one message, whether its pattern, its format or both failed)."""
    try:
        parse_date(value)
    except ValueError as exc:
        return str(exc)
    return "expected a valid date"  # pragma: no cover - only bad dates get here


def _check_identifiers(doc: Mapping[str, Any], errors: list[ErrorDetail]) -> None:
    """Schema patterns end in ``$``, which Python also matches before a final newline: refuse that
    here, so "RA1\\n" is not a second RA1 and "2025-03\\n" not a second March."""

    def check(value: Any, where: Location) -> None:
        if isinstance(value, str) and (value != value.strip() or "\n" in value):
            errors.append(
                _at(ErrorCode.STATE_SCHEMA, where, "must not contain line breaks or surrounding spaces", _short(value))
            )

    for i, org in enumerate(doc["organisations"]):
        base: Location = ("organisations", i)
        for field in ("id", "parent", "pcn"):
            check(org.get(field), (*base, field))
        for j, service in enumerate(org.get("services", [])):
            check(service, (*base, "services", j))
        for mname, series in org.get("metrics", {}).items():
            check(mname, (*base, "metrics", mname))
            for j, obs in enumerate(series):
                check(obs["period"], (*base, "metrics", mname, j, "period"))
        for j, fact in enumerate(org.get("facts", [])):
            check(fact["name"], (*base, "facts", j, "name"))
            check(fact["date"], (*base, "facts", j, "date"))
    if "as_of" in doc:
        check(doc["as_of"], ("as_of",))


def _check_consistency(doc: Mapping[str, Any], errors: list[ErrorDetail]) -> None:
    _check_identifiers(doc, errors)
    orgs = doc["organisations"]
    by_id: dict[str, tuple[int, str]] = {}
    for i, org in enumerate(orgs):
        if org["id"] in by_id:
            errors.append(
                _at(
                    ErrorCode.STATE_DUPLICATE,
                    ("organisations", i, "id"),
                    f"duplicate organisation id (also organisations[{by_id[org['id']][0]}])",
                    _short(org["id"]),
                )
            )
        else:
            by_id[org["id"]] = (i, org["type"])
    for i, org in enumerate(orgs):
        base: Location = ("organisations", i)
        for field, expected in (("parent", "icb"), ("pcn", "pcn")):
            ref = org.get(field)
            if ref is None:
                continue
            target = by_id.get(ref)
            where = (*base, field)
            if target is None:
                errors.append(
                    _at(ErrorCode.STATE_REFERENCE, where, "refers to no organisation in the state", _short(ref))
                )
            elif target[1] != expected:
                errors.append(
                    _at(
                        ErrorCode.STATE_REFERENCE,
                        where,
                        f"must refer to an organisation of type {expected}",
                        f"{ref} is {target[1]}",
                    )
                )
            elif ref == org["id"]:
                errors.append(_at(ErrorCode.STATE_REFERENCE, where, "an organisation cannot be its own parent", ref))
        for mname, series in org.get("metrics", {}).items():
            seen: dict[str, int] = {}
            for j, obs in enumerate(series):
                try:
                    _month(obs["period"])
                except ValueError as exc:  # the schema's pattern passed: year 0000, which has no dates
                    errors.append(
                        _at(ErrorCode.STATE_SCHEMA, (*base, "metrics", mname, j, "period"), str(exc), obs["period"])
                    )
                if obs["period"] in seen:
                    errors.append(
                        _at(
                            ErrorCode.STATE_DUPLICATE,
                            (*base, "metrics", mname, j, "period"),
                            f"a second observation for this month (first at [{seen[obs['period']]}])",
                            obs["period"],
                        )
                    )
                seen.setdefault(obs["period"], j)
        declared: dict[tuple[str, str], int] = {}
        for j, fact in enumerate(org.get("facts", [])):
            key = (fact["name"], fact["date"])
            if key in declared:
                errors.append(
                    _at(
                        ErrorCode.STATE_DUPLICATE,
                        (*base, "facts", j),
                        f"{fact['name']} is declared twice for {fact['date']} (also facts[{declared[key]}])",
                        _short(fact["value"]),
                    )
                )
            declared.setdefault(key, j)


def _check_catalogue(doc: Mapping[str, Any], rulebook: Rulebook, errors: list[ErrorDetail]) -> None:
    for i, org in enumerate(doc["organisations"]):
        base: Location = ("organisations", i)
        for s in org.get("services", []):
            if s not in rulebook.services:
                errors.append(
                    _at(
                        ErrorCode.STATE_UNKNOWN_SERVICE,
                        (*base, "services"),
                        f"unknown service{_did_you_mean(s, rulebook.services)} (not in the rulebook's catalogue)",
                        _short(s),
                    )
                )
        for mname, series in org.get("metrics", {}).items():
            mdef = rulebook.metrics.get(mname)
            if mdef is None:
                errors.append(
                    _at(
                        ErrorCode.STATE_UNKNOWN_METRIC,
                        (*base, "metrics", mname),
                        f"unknown metric{_did_you_mean(mname, rulebook.metrics)} (not in the rulebook's "
                        "catalogue; a misspelt name would silently read as missing data)",
                    )
                )
                continue
            for j, obs in enumerate(series):
                where = (*base, "metrics", mname, j)
                if mdef.kind == "value":
                    if "value" not in obs:
                        errors.append(
                            _at(
                                ErrorCode.STATE_METRIC_KIND,
                                where,
                                f"{mname} is a value metric: expected value",
                                _short(obs),
                            )
                        )
                    continue
                if "numerator" not in obs:
                    errors.append(
                        _at(
                            ErrorCode.STATE_METRIC_KIND,
                            where,
                            f"{mname} is a {mdef.kind} metric: expected numerator and denominator counts",
                            _short(obs),
                        )
                    )
                    continue
                if mdef.kind == "proportion" and obs["numerator"] > obs["denominator"]:
                    errors.append(
                        _at(
                            ErrorCode.STATE_PROPORTION,
                            where,
                            "expected numerator <= denominator",
                            f"{obs['numerator']} > {obs['denominator']}",
                        )
                    )
        for j, fact in enumerate(org.get("facts", [])):
            where = (*base, "facts", j)
            fdef = rulebook.facts.get(fact["name"])
            if fdef is None:
                hint = _did_you_mean(fact["name"], rulebook.facts)
                errors.append(
                    _at(
                        ErrorCode.STATE_UNKNOWN_FACT,
                        (*where, "name"),
                        f"unknown fact{hint} (not in the rulebook's catalogue)",
                        _short(fact["name"]),
                    )
                )
                continue
            value = fact["value"]
            ok = {
                "boolean": isinstance(value, bool),
                "number": isinstance(value, (int, Decimal)) and not isinstance(value, bool),
                "string": isinstance(value, str),
                "date": isinstance(value, str) and _is_date(value),
            }[fdef.type]
            if not ok:
                expects = f"{fact['name']} expects a {fdef.type}"
                if fdef.type == "date":
                    expects += " as YYYY-MM-DD, e.g. 2025-03-31"
                errors.append(_at(ErrorCode.STATE_FACT_TYPE, (*where, "value"), expects, _short(value)))


def _is_date(text: str) -> bool:
    try:
        parse_date(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- freeze


def state_from_dict(document: Any, rulebook: Rulebook | None = None) -> State:
    """Validate a state given as Python data and freeze it. Raises StateError listing every problem."""
    with paused(_collect_the_young):
        state = State._of_validated(_validated(document, rulebook))
    if rulebook is not None:
        state._fits.add(rulebook.digest)  # checked against its catalogues too: not again
    return state


def _validated(document: Any, rulebook: Rulebook | None, regular: bool = False) -> dict[str, Any]:
    """A copy of ``document`` with exact numbers (``regular``: ``document`` itself, see
    ``_checked``), once ``validate_state`` accepts it (StateError otherwise)."""
    errors, doc = _checked(document, rulebook, regular)
    if errors:
        raise StateError(f"the state is invalid ({len(errors)} problem{'s' if len(errors) != 1 else ''})", errors)
    return doc  # type: ignore[no-any-return]


def _to_fraction(value: Any) -> Fraction:
    try:
        return Fraction(Decimal(value) if not isinstance(value, Decimal) else value)
    except (InvalidOperation, ValueError) as exc:  # pragma: no cover - schema guarantees numbers
        raise StateError("not a number", [_at(ErrorCode.STATE_VALUE, (), str(exc), repr(value))]) from None


_month = functools.lru_cache(maxsize=4096)(parse_month)
"""``parse_month``, remembered: a state names the same few dozen months in every series (a
ValueError is not remembered, so a bad month is refused each time)."""


def organisations_of(doc: Mapping[str, Any]) -> list[Organisation]:
    """The frozen organisations of an already validated, number-normalised state document."""
    return _frozen(doc)[0]


_new = object.__new__
_set_month, _set_numerator, _set_denominator, _set_value = (
    Observation.__dict__[name].__set__ for name in ("month", "numerator", "denominator", "value")
)
"""The slots of ``Observation``, written directly: ``Observation(month, n, d)`` goes through the
frozen class's generated ``__init__`` (a ``object.__setattr__`` looked up per field), a third of
the time of freezing a national state. The same object: no validator or converter is skipped."""

_MONTHS: dict[str, int] = {}
"""Periods seen in a state, each with its month, when it is plain (no surrounding spaces or line
break) and a real month: what ``_check_identifiers`` and ``_check_consistency`` accept."""

_DATES: dict[str, dt.date] = {}
"""Fact dates seen in a state, each parsed, when plain (as ``_MONTHS``)."""


def _plain_text(value: Any) -> bool:
    """What ``_check_identifiers`` accepts: anything but text with surrounding spaces or a line break."""
    return not isinstance(value, str) or (value == value.strip() and "\n" not in value)


def _month_of(period: str) -> int | None:
    """The month of a period ``_check_consistency`` accepts, else None (remembered in ``_MONTHS``)."""
    try:
        month = _month(period)
    except ValueError:
        return None
    if not _plain_text(period):
        return None
    if len(_MONTHS) < 4096:
        _MONTHS[period] = month
    return month


def _date_of(text: str) -> dt.date | None:
    """A fact's date, parsed, or None when ``_check_identifiers`` would refuse it (remembered)."""
    date = parse_date(text)
    if not _plain_text(text):
        return None
    if len(_DATES) < 4096:
        _DATES[text] = date
    return date


def _frozen(doc: Mapping[str, Any]) -> tuple[list[Organisation], bool]:
    """``organisations_of(doc)``, and whether ``_check_consistency(doc)`` certainly finds nothing
    (False: it may; then ask it). One pass over the document: on a state the compiled schema check
    accepted, the consistency checks' verdict costs little more than freezing it.

    The verdict is False for anything the checks refuse (a repeated organisation id, a parent or
    PCN that is missing, of the wrong type or the organisation itself, text with surrounding spaces
    or a line break, a month that is not one, two observations of one month, a fact declared twice
    for one date) and also for two different period texts of one month, which the checks accept:
    a false "maybe" only sends the document the slow way."""
    ok = _plain_text(doc.get("as_of"))
    raw = doc["organisations"]
    types: dict[str, str] = {}
    for org in raw:
        if org["id"] in types:
            ok = False
        else:
            types[org["id"]] = org["type"]
    months, dates = _MONTHS, _DATES
    new, set_month, set_num, set_den, set_value = _new, _set_month, _set_numerator, _set_denominator, _set_value
    orgs: list[Organisation] = []
    for org in raw:
        oid = org["id"]
        parent, pcn = org.get("parent"), org.get("pcn")
        if not _plain_text(oid) or (
            parent is not None and (types.get(parent) != "icb" or parent == oid or not _plain_text(parent))
        ):
            ok = False
        if pcn is not None and (types.get(pcn) != "pcn" or pcn == oid or not _plain_text(pcn)):
            ok = False
        metrics: dict[str, dict[int, Observation]] = {}
        for mname, series in org.get("metrics", {}).items():
            obs_map: dict[int, Observation] = {}
            for obs in series:
                period = obs["period"]
                month = months.get(period)
                if month is None:
                    month = _month_of(period)
                    if month is None:
                        ok = False
                        month = _month(period)  # as organisations_of always did: ValueError
                o = new(Observation)
                set_month(o, month)
                if "value" in obs:
                    set_num(o, None)
                    set_den(o, None)
                    set_value(o, _to_fraction(obs["value"]))
                else:
                    set_num(o, int(obs["numerator"]))
                    set_den(o, int(obs["denominator"]))
                    set_value(o, None)
                obs_map[month] = o
            if len(obs_map) != len(series) or not _plain_text(mname):
                ok = False
            metrics[mname] = obs_map
        facts = []
        declared: set[tuple[str, str]] = set()
        for f in org.get("facts", ()):
            name, when, value = f["name"], f["date"], f["value"]
            if (name, when) in declared or not _plain_text(name):
                ok = False
            declared.add((name, when))
            date = dates.get(when)
            if date is None:
                date = _date_of(when)
                if date is None:
                    ok = False
                    date = parse_date(when)
            if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
                value = _to_fraction(value)
            facts.append(Fact(name, value, date, f.get("evidence")))
        services = org.get("services")
        if services is not None and not all(map(_plain_text, services)):
            ok = False
        frozen = new(Organisation)  # its converters would copy every series: they are ours
        for field, value in (
            ("id", oid),
            ("type", org["type"]),
            ("name", org.get("name")),
            ("parent", parent),
            ("pcn", pcn),
            ("region", org.get("region")),
            ("services", frozenset(services) if services is not None else None),
            ("metrics", MappingProxyType({k: MappingProxyType(v) for k, v in metrics.items()})),
            ("facts", tuple(facts)),
            ("region_code", org.get("region_code")),
            (
                "provenance",
                MappingProxyType(
                    {
                        key: Provenance(p["source"], p.get("basis"), p.get("confirmed", True))
                        for key, p in org.get("provenance", {}).items()
                    }
                ),
            ),
        ):
            object.__setattr__(frozen, field, value)
        orgs.append(frozen)
    return orgs, ok

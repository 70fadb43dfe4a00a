"""Load a rulebook folder: safe YAML, schema validation, expression checking, dependency order."""

from __future__ import annotations

import datetime as dt
import functools
import graphlib
import hashlib
import heapq
import math
import os
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

import attrs
import yaml

from .._resources import bundled_rulebooks, policies_root
from ..errors import ErrorCode, ErrorDetail, ExpressionError, Location, PolicyError, RulebookError
from ..io.arguments import check_path
from ..io.schemas import schema_validator
from ..language.ast import Node
from ..language.checker import BOOL, DATE, CheckContext, CheckError, check
from ..language.months import parse_date, parse_month
from ..language.numbers import NUMBER_LIMITS, bounded_decimal, shown_number
from ..language.parser import ParseError, parse
from ..language.rules import FactDef, MetricDef, Parameter, Period, Rule, ServiceDef, Source, Timing
from .sources import SourceSpec, normalise_source, normalise_text, quote_found

__all__ = ["Rulebook", "load_rulebook", "looks_like_path", "normalise_text"]

MAX_RULE_FILE_BYTES = 2 * 1024 * 1024
MAX_RULES = 5000
_NON_RULE_FILES = frozenset({"rulebook.yaml", "coverage.yaml"})


@attrs.frozen(eq=False, repr=False)
class Rulebook:
    """A loaded, checked rulebook. ``rules`` are in dependency order (a rule after those it reads).

    Two rulebooks are equal when their content digests are (same files, same sources).
    """

    id: str
    title: str
    version: str
    start: dt.date
    end: dt.date
    sources: tuple[str, ...]
    periods: Mapping[str, Period]
    metrics: Mapping[str, MetricDef]
    facts: Mapping[str, FactDef]
    services: Mapping[str, ServiceDef]
    areas: Mapping[str, str]
    rules: tuple[Rule, ...]
    digest: str
    location: str
    source_texts: Mapping[str, str] = attrs.field(repr=False, eq=False)
    """The normalised text of each shipped source (an external one is not here)."""
    source_specs: Mapping[str, SourceSpec] = attrs.field(repr=False, eq=False, factory=dict)
    """How each source is declared: shipped or external (with its sha256), and its normalisation."""
    overlays: tuple[str, ...] = ()
    """Parameter overlays applied (``id@sha256`` each); part of ``digest``."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rulebook) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        return f"<Rulebook {self.id} {self.version} ({len(self.rules)} rules) digest={self.digest[:12]}>"

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id; RulebookError if there is none."""
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise RulebookError(
            "unknown rule",
            [ErrorDetail(self.id, "no rule with this id", rule_id, code=ErrorCode.RULEBOOK_UNKNOWN_RULE)],
        )

    @property
    def source(self) -> str:
        """Where the rulebook was read from: ``"bundled"`` (shipped with the package, loaded by its
        name) or the absolute path of its folder; a decision record's ``rulebook_source``."""
        return "bundled" if self.location.startswith("bundled:") else self.location

    @property
    def folder(self) -> Traversable:
        """The folder the rulebook was read from (the bundled one for a bundled rulebook)."""
        if self.location.startswith("bundled:"):
            return policies_root() / self.location.split(":", 1)[1]
        return cast(Traversable, Path(self.location))

    @property
    def external_sources(self) -> tuple[str, ...]:
        """The sources not shipped with the rulebook, whose quotes are verified by ``verify_sources``."""
        return tuple(n for n in self.sources if not self.source_specs[n].shipped)

    def quote_checked(self, document: str, quote: str) -> bool | None:
        """Whether ``quote`` is in the shipped ``document`` (None: the document is external)."""
        spec = self.source_specs.get(document)
        if spec is None or not spec.shipped:
            return None
        return normalise_source(quote, spec) in self.source_texts.get(document, "")

    @property
    def date_facts(self) -> frozenset[str]:
        return frozenset(name for name, f in self.facts.items() if f.type == "date")


# --------------------------------------------------------------------------- YAML


class _SafeNoAliasLoader(yaml.SafeLoader):
    """SafeLoader (no Python tags) that also refuses anchors/aliases (no 'billion laughs')."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.MarkedYAMLError(None, None, "aliases (*name) are not allowed in rule files", event.start_mark)
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if getattr(event, "anchor", None):
            raise yaml.MarkedYAMLError(None, None, "anchors (&name) are not allowed in rule files", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        _refuse_duplicates(self, node)
        return super().construct_mapping(node, deep=deep)


_CSafeLoader: Any = getattr(yaml, "CSafeLoader", None)


def _refuse_duplicates(loader: Any, node: Any) -> None:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:
            duplicate = False
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} in one mapping", key_node.start_mark
            )
        try:
            seen.add(key)
        except TypeError:
            pass


if _CSafeLoader is not None:

    class _FastLoader(_CSafeLoader):  # type: ignore[misc]
        """libyaml's parser with the safe constructor, refusing duplicate keys as ``_SafeNoAliasLoader``
        does (anchors and aliases are refused by a scan of the events first: see ``_load``)."""

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            _refuse_duplicates(self, node)
            return super().construct_mapping(node, deep=deep)


def _load(text: str) -> Any:
    """The document, read by libyaml where PyYAML has it (about ten times faster) and otherwise by
    ``_SafeNoAliasLoader``. Anything libyaml refuses, and any anchor or alias, is read again by
    ``_SafeNoAliasLoader``, so every error is reported exactly as the pure-Python reader words it."""
    if _CSafeLoader is None:
        return yaml.load(text, Loader=_SafeNoAliasLoader)  # noqa: S506 - SafeLoader subclass
    try:
        if any(
            isinstance(e, yaml.AliasEvent) or getattr(e, "anchor", None) for e in yaml.parse(text, Loader=_CSafeLoader)
        ):
            raise yaml.YAMLError("an anchor or alias")
        return yaml.load(text, Loader=_FastLoader)  # noqa: S506 - CSafeLoader subclass
    except (yaml.YAMLError, ValueError, RecursionError):
        return yaml.load(text, Loader=_SafeNoAliasLoader)  # noqa: S506 - SafeLoader subclass


MAX_YAML_DEPTH = 64
"""The deepest nesting of lists and mappings a YAML file read by ``_read_yaml`` may have (a rule
file needs 5, a scenario file 7)."""


def _depth_ok(value: Any, limit: int = MAX_YAML_DEPTH) -> bool:
    """Whether ``value`` nests at most ``limit`` lists and mappings deep (walked without recursion)."""
    todo: list[tuple[Any, int]] = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return False
            todo.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return True


def _read_yaml(
    name: str,
    text: str,
    code: ErrorCode = ErrorCode.RULEBOOK_PARSE,
    *,
    error: type[PolicyError] = RulebookError,
    what: str = "a rule file",
) -> Any:
    """The YAML document of the file ``name``; ``error`` (its detail coded ``code``) if it is not
    one: a syntax error, an anchor or alias, a key twice in one mapping, an impossible value, or
    nesting deeper than ``MAX_YAML_DEPTH``. The one safe YAML reader of the package: rule files,
    the coverage ledger, overlays and scenario files are read with it."""
    try:
        doc = _load(text)
    except RecursionError:
        raise error(f"{what} is nested too deeply", [ErrorDetail(name, "nesting too deep", code=code)]) from None
    except ValueError as exc:  # e.g. an unquoted impossible date such as 2025-02-30
        raise error(f"{what} holds an invalid value", [ErrorDetail(name, str(exc), code=code)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(
            f"{what} is not valid YAML", [ErrorDetail(name, str(problem), code=code, line=line, column=column)]
        ) from None
    if not _depth_ok(doc):
        raise error(
            f"{what} is nested too deeply",
            [ErrorDetail(name, f"nesting too deep (at most {MAX_YAML_DEPTH} levels)", code=code)],
        )
    return doc


def _plain(value: Any) -> Any:
    """YAML dates -> ISO strings, floats -> Decimal text, so the JSON schema sees JSON data."""
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, (dt.date,)) else k.isoformat(): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, float):
        # A non-finite number stays text, so the schema refuses it as "not a number".
        return Decimal(repr(value)) if math.isfinite(value) else repr(value)
    return value


def _validate(file: str, doc: Any, defn: str) -> list[ErrorDetail]:
    validator = schema_validator("rulebook.schema.json", definition=defn)
    out = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        value = repr(err.instance)
        out.append(
            ErrorDetail(
                file,
                err.message if len(err.message) < 200 else err.message[:200] + "...",
                value if len(value) < 80 else value[:77] + "...",
                code=ErrorCode.RULEBOOK_SCHEMA,
                location=tuple(err.absolute_path),
            )
        )
    return out


# --------------------------------------------------------------------------- folder access


def looks_like_path(name_or_path: str | os.PathLike[str]) -> bool:
    """Whether ``load_rulebook`` reads ``name_or_path`` as a folder: a ``Path`` (any ``PathLike``),
    or text that is absolute or holds a separator (``./nhs-2024-25``, ``rules/mine``), or ``.``/``..``.
    Anything else is the name of a bundled rulebook, whatever folders the current directory holds
    (docs/decisions/021-output-files-and-rulebook-names.md)."""
    if not isinstance(name_or_path, str):
        return True
    text = name_or_path
    seps = {"/", os.sep, *([os.altsep] if os.altsep else [])}
    return os.path.isabs(text) or any(sep in text for sep in seps) or text in (".", "..")


def _open_folder(name_or_path: str | os.PathLike[str]) -> tuple[Traversable, str]:
    text = check_path(name_or_path, "name_or_path", RulebookError)
    if not looks_like_path(name_or_path):
        root = policies_root() / text
        if text and root.is_dir() and (root / "rulebook.yaml").is_file():
            return root, f"bundled:{text}"
        hint = f"; to read the folder {text} here, write ./{text}" if Path(text).is_dir() else ""
        raise RulebookError(
            "unknown rulebook",
            [
                ErrorDetail(
                    text,
                    f"no bundled rulebook of this name (bundled: {', '.join(bundled_rulebooks())}){hint}",
                    code=ErrorCode.RULEBOOK_NOT_FOUND,
                )
            ],
        )
    path = Path(text)
    if not path.is_dir():
        raise RulebookError(
            "rulebook folder not found",
            [ErrorDetail(text, "expected a folder holding rulebook.yaml", code=ErrorCode.RULEBOOK_NOT_FOUND)],
        )
    return cast(Traversable, path), os.path.abspath(text)  # the same folder whatever the directory later


def _files(root: Traversable) -> list[tuple[str, str]]:
    out = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.is_file() and entry.name.endswith((".yaml", ".yml")):
            with entry.open("rb") as fh:  # no more than the limit is read, however large the file
                raw = fh.read(MAX_RULE_FILE_BYTES + 1)
            if len(raw) > MAX_RULE_FILE_BYTES:
                raise RulebookError(
                    "a rule file is too large",
                    [
                        ErrorDetail(
                            entry.name,
                            f"at most {MAX_RULE_FILE_BYTES} bytes",
                            f"more than {MAX_RULE_FILE_BYTES} bytes",
                            code=ErrorCode.RULEBOOK_TOO_LARGE,
                        )
                    ],
                )
            try:
                out.append((entry.name, raw.decode("utf-8")))
            except UnicodeDecodeError as exc:
                raise RulebookError(
                    "a rule file is not UTF-8",
                    [ErrorDetail(entry.name, f"invalid UTF-8 at byte {exc.start}", code=ErrorCode.RULEBOOK_ENCODING)],
                ) from None
    return out


# --------------------------------------------------------------------------- loading

_EXPRESSION_CODES = frozenset(
    {
        ErrorCode.EXPRESSION_PARSE,
        ErrorCode.EXPRESSION_UNKNOWN_NAME,
        ErrorCode.EXPRESSION_TYPE,
        ErrorCode.EXPRESSION_SELF_REFERENCE,
        ErrorCode.RULE_COMPLETED_ON,
    }
)
"""The problems that make an ``ExpressionError`` when every problem of a rulebook is one of them
(a misplaced ``completed_on`` among them: it is judged with the rule's expressions)."""


@attrs.frozen
class _RawRule:
    """One rule as written: its file, its index in the file's ``rules`` and its area."""

    file: str
    index: int
    doc: Mapping[str, Any]
    area: str

    @property
    def id(self) -> Any:
        return self.doc["id"]

    def problem(
        self, code: ErrorCode, field: Location, message: str, value: str | None = None, column: int | None = None
    ) -> ErrorDetail:
        """A problem with ``field`` of this rule: ``area.yaml: rules[0] (id).field``."""
        return ErrorDetail(
            self.file,
            message,
            value,
            code=code,
            location=("rules", self.index, *field),
            label=self.id,
            column=column,
            in_file=True,
        )


@attrs.frozen
class _Catalogue:
    """Everything a rule is checked against: the catalogues, the other rules and the planning year."""

    metrics: Mapping[str, MetricDef]
    facts: Mapping[str, FactDef]
    services: Mapping[str, ServiceDef]
    areas: Mapping[str, str]
    periods: Mapping[str, Period]
    source_texts: Mapping[str, str]
    """The raw text of each shipped source."""
    source_specs: Mapping[str, SourceSpec]
    rule_types: Mapping[str, tuple[str, ...]]
    year: tuple[dt.date, dt.date]


def load_rulebook(name_or_path: str | os.PathLike[str] = "nhs-2024-25") -> Rulebook:
    """Load a bundled rulebook by name (``"nhs-2024-25"``) or a rulebook folder by path.

    Raises RulebookError (ExpressionError for conditions) listing every problem with its file,
    rule id and position.
    """
    root, location = _open_folder(name_or_path)
    files = _files(root)
    known = _LOADED.get(location)
    if known is not None and _digest_of(root, files, _shipped(known.source_specs)) == known.digest:
        return known  # the same files, byte for byte: the same (immutable) rulebook
    book = _build(root, location, files)
    _LOADED.pop(location, None)
    _LOADED[location] = book
    while len(_LOADED) > _LOADED_MAX:
        _LOADED.pop(next(iter(_LOADED)))
    return book


_LOADED: dict[str, Rulebook] = {}
"""The rulebook last loaded from each location (at most ``_LOADED_MAX``), returned again while its
digest, over every file it was read from, is unchanged."""
_LOADED_MAX = 16


def _digest_file(digest: Any, name: str, text: str) -> None:
    digest.update(name.encode() + b"\0" + text.encode() + b"\0")


def _digest_source(digest: Any, doc_name: str, raw: bytes) -> None:
    digest.update(b"source:" + doc_name.encode() + b"\0" + raw + b"\0")


def _shipped(specs: Mapping[str, SourceSpec]) -> tuple[str, ...]:
    return tuple(name for name, spec in specs.items() if spec.shipped)


def _vocabulary_files(files: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The shared vocabulary's files (``vocabulary/<area>.yaml``) when the manifest asks for it."""
    text = next((text for name, text in files if name == "rulebook.yaml"), None)
    manifest = _read_yaml("rulebook.yaml", text) if text is not None else None
    meta = manifest.get("rulebook") if isinstance(manifest, dict) else None
    if not isinstance(meta, dict) or meta.get("vocabulary") != "bundled":
        return []  # (a wrong value is reported by the schema when the manifest is checked)
    return [(f"vocabulary/{name}", text) for name, text in _files(policies_root() / "vocabulary")]


def _digest_of(root: Traversable, files: list[tuple[str, str]], sources: tuple[str, ...]) -> str | None:
    """The digest a rulebook read from these files and sources would have (None: a source is missing)."""
    digest = hashlib.sha256()
    for name, text in files + _vocabulary_files(files):
        _digest_file(digest, name, text)
    for doc_name in sources:
        entry = root / "sources" / doc_name
        if not entry.is_file():
            return None
        _digest_source(digest, doc_name, entry.read_bytes())
    return digest.hexdigest()


def _build(root: Traversable, location: str, files: list[tuple[str, str]]) -> Rulebook:
    """Read, check and compile the rulebook in ``files`` (every problem listed in one RulebookError)."""
    digest = hashlib.sha256()
    docs = _documents(files + _vocabulary_files(files), location, digest)
    manifest = docs.pop("rulebook.yaml")
    errors: list[ErrorDetail] = []
    year = _year(manifest["rulebook"], errors)
    periods = _periods(manifest["periods"], errors)
    specs = _source_specs(manifest["rulebook"]["sources"], errors)
    source_texts = _source_texts(root, specs, digest, errors)
    metrics, facts, services, areas, raw_rules = _catalogues(docs, errors)
    rule_types = _rule_types(raw_rules, location, errors)
    if errors:
        raise RulebookError("the rulebook is inconsistent", errors)
    meta = manifest["rulebook"]
    assert year is not None  # no errors: both dates parsed
    catalogue = _Catalogue(metrics, facts, services, areas, periods, source_texts, specs, rule_types, year)
    rules = _build_rules(raw_rules, catalogue)
    return Rulebook(
        id=meta["id"],
        title=meta["title"],
        version=meta["version"],
        start=year[0],
        end=year[1],
        sources=tuple(specs),
        periods=MappingProxyType(periods),
        metrics=MappingProxyType(metrics),
        facts=MappingProxyType(facts),
        services=MappingProxyType(services),
        areas=MappingProxyType(areas),
        rules=_order(rules),
        digest=digest.hexdigest(),
        location=location,
        source_texts=MappingProxyType({n: normalise_source(t, specs[n]) for n, t in source_texts.items()}),
        source_specs=MappingProxyType(specs),
    )


def _documents(files: list[tuple[str, str]], location: str, digest: Any) -> dict[str, Any]:
    """Every rule file's document (``rulebook.yaml`` included; not ``coverage.yaml``), each checked
    against the rulebook schema; every file, the ledger included, goes into ``digest``."""
    if "rulebook.yaml" not in (name for name, _ in files):
        raise RulebookError(
            "not a rulebook folder",
            [ErrorDetail(location, "rulebook.yaml is missing", code=ErrorCode.RULEBOOK_NOT_FOUND)],
        )
    errors: list[ErrorDetail] = []
    docs: dict[str, Any] = {}
    for name, text in files:
        _digest_file(digest, name, text)
        if name == "coverage.yaml":
            continue
        doc = _plain(_read_yaml(name, text))
        kind = "manifest" if name == "rulebook.yaml" else "vocabulary" if name.startswith("vocabulary/") else "area"
        errors.extend(_validate(name, doc, kind))
        docs[name] = doc
    if errors:
        raise RulebookError("rule files do not match the rulebook schema", errors)
    return docs


def _year(meta: Mapping[str, Any], errors: list[ErrorDetail]) -> tuple[dt.date, dt.date] | None:
    """The planning year's ``start`` and ``end``; a date that does not exist (``2025-02-30``, which
    the schema's pattern lets through) is a problem at ``rulebook.start`` or ``.end``."""
    dates: list[dt.date] = []
    for field in ("start", "end"):
        try:
            dates.append(parse_date(meta[field]))
        except ValueError as exc:
            errors.append(
                ErrorDetail(
                    "rulebook.yaml",
                    str(exc),
                    repr(meta[field]),
                    code=ErrorCode.RULEBOOK_SCHEMA,
                    location=("rulebook", field),
                )
            )
    if len(dates) != 2:
        return None
    if dates[1] < dates[0]:
        errors.append(
            ErrorDetail(
                "rulebook.yaml",
                "end is before start",
                f"{meta['start']}..{meta['end']}",
                code=ErrorCode.RULEBOOK_INCONSISTENT,
                location=("rulebook", "end"),
            )
        )
        return None
    return dates[0], dates[1]


def _periods(doc: Mapping[str, Any], errors: list[ErrorDetail]) -> dict[str, Period]:
    periods: dict[str, Period] = {}
    for pname, p in doc.items():
        try:
            start, end = parse_month(p["start"]), parse_month(p["end"])
        except ValueError as exc:  # the schema's pattern passed: a month of year 0000
            where = ("periods", pname)
            shown = f"{p['start']}..{p['end']}"
            errors.append(
                ErrorDetail("rulebook.yaml", str(exc), shown, code=ErrorCode.RULEBOOK_INCONSISTENT, location=where)
            )
            continue
        if end < start:
            errors.append(
                ErrorDetail(
                    "rulebook.yaml",
                    "end is before start",
                    f"{p['start']}..{p['end']}",
                    code=ErrorCode.RULEBOOK_INCONSISTENT,
                    location=("periods", pname),
                )
            )
        periods[pname] = Period(pname, start, end)
    return periods


def _source_specs(declared: list[Any], errors: list[ErrorDetail]) -> dict[str, SourceSpec]:
    """Each source the manifest declares (a name: shipped plain text), in order; a ``table_of``
    naming no other source of the rulebook, or a name twice, is a problem."""
    specs: dict[str, SourceSpec] = {}
    for i, item in enumerate(declared):
        fields = {"document": item} if isinstance(item, str) else dict(item)
        spec = SourceSpec(**fields)
        if spec.document in specs:
            errors.append(
                ErrorDetail(
                    "rulebook.yaml",
                    "this source is declared twice",
                    spec.document,
                    code=ErrorCode.RULEBOOK_SOURCE,
                    location=("rulebook", "sources", i),
                )
            )
        specs[spec.document] = spec
    for i, spec in enumerate(specs.values()):
        if spec.table_of is not None and (spec.table_of == spec.document or spec.table_of not in specs):
            errors.append(
                ErrorDetail(
                    "rulebook.yaml",
                    "table_of must name another source of the rulebook",
                    spec.table_of,
                    code=ErrorCode.RULEBOOK_SOURCE,
                    location=("rulebook", "sources", i, "table_of"),
                )
            )
    return specs


def _source_texts(
    root: Traversable, specs: Mapping[str, SourceSpec], digest: Any, errors: list[ErrorDetail]
) -> dict[str, str]:
    """The text of each shipped source in ``sources/``, into ``digest``. An external
    source is not read: its declaration (with its sha256) is in the manifest, which is digested."""
    sources_dir = root / "sources"
    source_texts: dict[str, str] = {}
    for doc_name, spec in specs.items():
        if not spec.shipped:
            continue
        entry = sources_dir / doc_name
        if not entry.is_file():
            errors.append(
                ErrorDetail(
                    "rulebook.yaml",
                    "source document not found in sources/",
                    doc_name,
                    code=ErrorCode.RULEBOOK_SOURCE,
                    location=("rulebook", "sources"),
                )
            )
            continue
        raw = entry.read_bytes()
        _digest_source(digest, doc_name, raw)
        try:
            source_texts[doc_name] = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.append(
                ErrorDetail(
                    f"sources/{doc_name}",
                    f"invalid UTF-8 at byte {exc.start}; expected UTF-8 text",
                    repr(raw[exc.start : exc.start + 4]),
                    code=ErrorCode.RULEBOOK_ENCODING,
                )
            )
    return source_texts


def _catalogues(
    docs: Mapping[str, Any], errors: list[ErrorDetail]
) -> tuple[dict[str, MetricDef], dict[str, FactDef], dict[str, ServiceDef], dict[str, str], list[_RawRule]]:
    """The metrics, facts, services and areas the area files declare, and their rules as written."""
    metrics: dict[str, MetricDef] = {}
    facts: dict[str, FactDef] = {}
    services: dict[str, ServiceDef] = {}
    areas: dict[str, str] = {}
    raw_rules: list[_RawRule] = []

    def problem(code: ErrorCode, fname: str, location: Location, message: str, value: str | None = None) -> ErrorDetail:
        return ErrorDetail(fname, message, value, code=code, location=location)

    duplicate, inconsistent = ErrorCode.RULEBOOK_DUPLICATE, ErrorCode.RULEBOOK_INCONSISTENT
    declared_in: dict[tuple[str, str], str] = {}

    def again(section: str, name: str, fname: str) -> bool:
        """Whether ``name`` is already declared in ``section`` (a problem in ``fname`` if so)."""
        first = declared_in.setdefault((section, name), fname)
        if first != fname:
            errors.append(problem(duplicate, fname, (section, name), f"already declared in {first}"))
        return first != fname

    # The shared vocabulary first, so that an area file declaring one of its entries again is the problem.
    for fname, doc in sorted(docs.items(), key=lambda item: not item[0].startswith("vocabulary/")):
        area = doc["area"]
        if area != fname.rsplit("/", 1)[-1].rsplit(".", 1)[0]:
            errors.append(problem(inconsistent, fname, ("area",), "must equal the file name without .yaml", area))
        if "rules" in doc:
            areas[area] = doc["title"]
        for mname, m in (doc.get("metrics") or {}).items():
            if again("metrics", mname, fname):
                continue
            unit = "percent" if m["kind"] == "proportion" else m["unit"]
            if m["kind"] == "proportion" and m["unit"] != "percent":
                errors.append(
                    problem(
                        inconsistent, fname, ("metrics", mname, "unit"), "a proportion's unit is percent", m["unit"]
                    )
                )
            metrics[mname] = MetricDef(mname, m["kind"], unit, m["description"], area, m["label"])
        for fact_name, f in (doc.get("facts") or {}).items():
            if again("facts", fact_name, fname):
                continue
            facts[fact_name] = FactDef(fact_name, f["type"], f["description"], area, f.get("unit"), f["label"])
        for sname, svc in (doc.get("services") or {}).items():
            if again("services", sname, fname):
                continue
            services[sname] = ServiceDef(sname, svc["description"], area, svc["label"])
        raw_rules.extend(_RawRule(fname, i, r, area) for i, r in enumerate(doc.get("rules", ())))
    return metrics, facts, services, areas, raw_rules


def _rule_types(raw_rules: list[_RawRule], location: str, errors: list[ErrorDetail]) -> dict[str, tuple[str, ...]]:
    """Each rule id with the organisation types it applies to; a repeated id, a measure named by two
    rules (diff pairs the rules of two years by it) or too many rules is a problem."""
    rule_types: dict[str, tuple[str, ...]] = {}
    measured_by: dict[str, str] = {}
    for raw in raw_rules:
        measure = raw.doc.get("measure")
        if measure is not None and measured_by.setdefault(measure, raw.id) != raw.id:
            errors.append(
                raw.problem(
                    ErrorCode.RULEBOOK_DUPLICATE,
                    ("measure",),
                    f"measure already named by {measured_by[measure]}: each measure is one rule of a rulebook",
                    measure,
                )
            )
        if raw.id in rule_types:
            errors.append(
                ErrorDetail(
                    raw.file,
                    "duplicate rule id",
                    raw.id,
                    code=ErrorCode.RULEBOOK_DUPLICATE,
                    location=("rules", raw.index, "id"),
                )
            )
        rule_types[raw.id] = tuple(raw.doc["applies_to"])
    if len(raw_rules) > MAX_RULES:
        errors.append(
            ErrorDetail(
                location,
                f"at most {MAX_RULES} rules are supported",
                str(len(raw_rules)),
                code=ErrorCode.RULEBOOK_TOO_LARGE,
            )
        )
    return rule_types


def _build_rules(raw_rules: list[_RawRule], catalogue: _Catalogue) -> dict[str, Rule]:
    """Every rule checked and built; RulebookError (ExpressionError if only expressions are wrong)
    listing the problems of all of them."""
    errors: list[ErrorDetail] = []
    rules: dict[str, Rule] = {}
    for raw in raw_rules:
        rule = _build_rule(raw, catalogue, errors)
        if rule is not None:
            rules[rule.id] = rule
    if errors:
        if all(e.code in _EXPRESSION_CODES for e in errors):
            raise ExpressionError("rule expressions do not parse or type-check", errors)
        raise RulebookError("the rulebook has invalid rules", errors)
    return rules


@attrs.frozen
class _Schedule:
    """When a rule is judged: its deadline, its timing and the date a standing obligation is in force from."""

    deadline: dt.date | None
    timing: Timing | None
    in_force: dt.date | None


def _schedule(raw: _RawRule, year: tuple[dt.date, dt.date], errors: list[ErrorDetail]) -> _Schedule:
    r = raw.doc
    deadline = None
    if "deadline" in r:
        try:
            deadline = parse_date(r["deadline"])
        except ValueError as exc:
            errors.append(raw.problem(ErrorCode.RULE_DEADLINE, ("deadline",), str(exc), r["deadline"]))
    timing, in_force = r.get("timing"), None
    if deadline is not None and not (year[0] <= deadline <= year[1]):
        errors.append(
            raw.problem(
                ErrorCode.RULE_DEADLINE,
                ("deadline",),
                f"outside the planning year {year[0]}..{year[1]}: a rule of this rulebook is judged by the year's end",
                r["deadline"],
            )
        )
    if r["kind"] != "obligation":
        if timing is not None:
            errors.append(
                raw.problem(
                    ErrorCode.RULE_TIMING,
                    ("timing",),
                    "only obligations have a timing (other kinds are judged after their deadline)",
                    timing,
                )
            )
    elif timing == "dated" and "deadline" not in r:
        errors.append(
            raw.problem(
                ErrorCode.RULE_TIMING, ("timing",), "a dated obligation needs the deadline the text gives", timing
            )
        )
    elif timing in ("standing", "within_year") and "deadline" in r:
        errors.append(
            raw.problem(
                ErrorCode.RULE_DEADLINE,
                ("deadline",),
                f"a {timing} obligation has no deadline of its own (use timing: dated for a date the text gives)",
                r["deadline"],
            )
        )
    elif timing == "within_year":
        deadline = year[1]
    elif timing == "standing":
        in_force = year[0]
    if "completed_on" in r and timing == "standing":
        errors.append(
            raw.problem(
                ErrorCode.RULE_COMPLETED_ON, ("completed_on",), "a standing obligation has no completion date", timing
            )
        )
    return _Schedule(deadline, timing, in_force)


@attrs.frozen
class _Expressions:
    """A rule's checked expressions, the rules they read and whether the condition ranks."""

    condition: Node | None
    applicable_if: Node | None
    completed_on: Node | None
    depends_on: frozenset[str]
    rank_calls: int


def _expressions(
    raw: _RawRule, catalogue: _Catalogue, params: Mapping[str, Parameter], has_deadline: bool, errors: list[ErrorDetail]
) -> _Expressions:
    r = raw.doc
    ctx = CheckContext(
        catalogue.metrics,
        catalogue.facts,
        frozenset(catalogue.services),
        catalogue.periods,
        params,
        catalogue.rule_types,
        tuple(r["applies_to"]),
        has_deadline=has_deadline,
    )
    condition = _expr(raw, "condition", ctx, BOOL, errors)
    guard_ctx = attrs.evolve(ctx, allow_rank=False, depends_on=set(), rank_calls=0)
    guard = None
    if "applicable_if" in r:
        guard = _expr(raw, "applicable_if", guard_ctx, BOOL, errors)
    completed = None
    if "completed_on" in r:
        if r["kind"] != "obligation":
            errors.append(
                raw.problem(
                    ErrorCode.RULE_COMPLETED_ON, ("completed_on",), "only obligations have completed_on", r["kind"]
                )
            )
        done_ctx = attrs.evolve(ctx, allow_rank=False, depends_on=set(), rank_calls=0)
        completed = _expr(raw, "completed_on", done_ctx, DATE, errors)
        guard_ctx.depends_on |= done_ctx.depends_on
    depends_on = frozenset(ctx.depends_on | guard_ctx.depends_on)
    if raw.id in depends_on:
        errors.append(
            raw.problem(
                ErrorCode.EXPRESSION_SELF_REFERENCE, ("condition",), "a rule cannot read its own outcome", raw.id
            )
        )
    return _Expressions(condition, guard, completed, depends_on, ctx.rank_calls)


def _expr(raw: _RawRule, field: str, ctx: CheckContext, expect: Any, errors: list[ErrorDetail]) -> Node | None:
    text = raw.doc[field]
    try:
        node = parse(text)
        typ = check(node, ctx)
    except ParseError as exc:
        errors.append(
            raw.problem(ErrorCode.EXPRESSION_PARSE, (field,), exc.message, _caret(text, exc.pos), column=exc.pos + 1)
        )
        return None
    except CheckError as exc:
        code = ErrorCode.EXPRESSION_UNKNOWN_NAME if exc.unknown else ErrorCode.EXPRESSION_TYPE
        errors.append(raw.problem(code, (field,), exc.message, _caret(text, exc.pos), column=exc.pos + 1))
        return None
    if typ != expect:
        errors.append(
            raw.problem(
                ErrorCode.EXPRESSION_TYPE, (field,), f"must be a {expect.kind} expression, but it is {typ}", text
            )
        )
        return None
    return node


def _caret(text: str, pos: int) -> str:
    lo = max(0, pos - 30)
    return f"...{text[lo:pos]} >>> {text[pos : pos + 30]}" if lo else f"{text[:pos]} >>> {text[pos : pos + 30]}"


def _check_citation(raw: _RawRule, catalogue: _Catalogue, errors: list[ErrorDetail]) -> None:
    """The rule's source is one of the rulebook's, its quote is found there verbatim when the text
    is shipped (an external text's quotes are checked by ``verify_sources``), and a rule that is not
    quoted cites an objectives table."""
    src = raw.doc["source"]
    spec = catalogue.source_specs.get(src["document"])
    if spec is None:
        errors.append(
            raw.problem(
                ErrorCode.RULE_SOURCE, ("source", "document"), "not one of the rulebook's sources", src["document"]
            )
        )
    elif spec.document in catalogue.source_texts and (spec.table_of is None or spec.table_of in catalogue.source_texts):
        found, why = quote_found(src["quote"], spec.document, catalogue.source_texts, catalogue.source_specs)
        if not found:
            errors.append(raw.problem(ErrorCode.RULE_SOURCE, ("source", "quote"), why, src["quote"][:80]))
    confidence = raw.doc.get("confidence", "quoted")
    is_table = spec is not None and (
        spec.format == "markdown-table" or spec.document == "national-objectives-2024-25.md"
    )
    if confidence != "quoted" and not is_table:
        errors.append(
            raw.problem(
                ErrorCode.RULE_SOURCE,
                ("confidence",),
                f"{confidence} rules cite the national objectives table",
                src["document"],
            )
        )


def _check_cohort(raw: _RawRule, exprs: _Expressions, errors: list[ErrorDetail]) -> None:
    """A rule that ranks says which cohort it ranks within; only such a rule has a cohort."""
    if exprs.condition is not None and exprs.rank_calls and "cohort" not in raw.doc:
        errors.append(
            raw.problem(
                ErrorCode.RULE_COHORT,
                ("cohort",),
                "a rule that uses rank() must say which cohort it ranks within",
                "missing",
            )
        )
    elif not exprs.rank_calls and "cohort" in raw.doc:
        errors.append(
            raw.problem(
                ErrorCode.RULE_COHORT, ("cohort",), "only rules that use rank() have a cohort", raw.doc["cohort"]
            )
        )


def _build_rule(raw: _RawRule, catalogue: _Catalogue, errors: list[ErrorDetail]) -> Rule | None:
    """The rule, checked against the catalogue; None (its problems added to ``errors``) if it has any."""
    r = raw.doc
    before = len(errors)
    params: dict[str, Parameter] = {}
    for n, p in (r.get("parameters") or {}).items():
        exact = bounded_decimal(p["value"])
        if exact is None:  # every evaluator must hold it: the columnar one as a float, too
            where = ("parameters", n, "value")
            errors.append(raw.problem(ErrorCode.RULEBOOK_SCHEMA, where, NUMBER_LIMITS, shown_number(p["value"])))
            exact = Decimal(0)  # only so the expressions are still checked: the rule is not built
        params[n] = Parameter(n, Fraction(exact), p["unit"], p.get("wording"))
    schedule = _schedule(raw, catalogue.year, errors)
    period = None
    if "period" in r:
        period = catalogue.periods.get(r["period"])
        if period is None:
            errors.append(raw.problem(ErrorCode.RULE_PERIOD, ("period",), "unknown period", r["period"]))
    exprs = _expressions(raw, catalogue, params, schedule.deadline is not None, errors)
    _check_citation(raw, catalogue, errors)
    _check_cohort(raw, exprs, errors)
    if len(errors) > before or exprs.condition is None:
        return None
    src = r["source"]
    return Rule(
        id=raw.id,
        title=r["title"],
        kind=r["kind"],
        area=raw.area,
        applies_to=tuple(r["applies_to"]),
        condition_text=r["condition"],
        condition=exprs.condition,
        source=Source(src["document"], src["section"], src["quote"]),
        file=raw.file,
        parameters=params,
        applicable_if_text=r.get("applicable_if"),
        applicable_if=exprs.applicable_if,
        completed_on_text=r.get("completed_on"),
        completed_on=exprs.completed_on,
        period=period,
        deadline=schedule.deadline,
        timing=schedule.timing,
        in_force=schedule.in_force,
        objective=r.get("objective"),
        measure=r.get("measure"),
        confidence=r.get("confidence", "quoted"),
        assumptions=tuple(r.get("assumptions") or ()),
        depends_on=tuple(sorted(exprs.depends_on)),
        uses_rank=exprs.rank_calls > 0,
        cohort=r.get("cohort"),
    )


# --------------------------------------------------------------------------- order


def _order(rules: Mapping[str, Rule]) -> tuple[Rule, ...]:
    """Dependency order, the ready rule with the smallest id first, each with its stratum (one more
    than its dependencies' for a rule that ranks); a cycle is an error naming it.

    graphlib says which rules are ready; a heap picks the smallest of them each time, which makes
    the order the same on every run (graphlib alone gives its ready rules in insertion order).
    """
    graph = {rid: r.depends_on for rid, r in rules.items()}
    sorter = graphlib.TopologicalSorter(graph)
    try:
        sorter.prepare()
    except graphlib.CycleError:
        cycle = _find_cycle(_blocked(graph))
        raise RulebookError(
            "rules depend on each other in a cycle, so no fixpoint exists",
            [ErrorDetail(rules[cycle[0]].file, "cycle: " + " -> ".join(cycle), cycle[0], code=ErrorCode.RULE_CYCLE)],
        ) from None
    ready: list[str] = []
    out: list[Rule] = []
    strata: dict[str, int] = {}
    while sorter.is_active():
        for rid in sorter.get_ready():
            heapq.heappush(ready, rid)
        rid = heapq.heappop(ready)
        rule = rules[rid]
        strata[rid] = max((strata[d] for d in rule.depends_on), default=0) + (1 if rule.uses_rank else 0)
        out.append(attrs.evolve(rule, stratum=strata[rid]))
        sorter.done(rid)
    return tuple(out)


def _blocked(graph: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """The rules that no order reaches: those on a cycle or depending on one."""
    left = dict(graph)
    while True:
        free = [rid for rid, deps in left.items() if not any(d in left for d in deps)]
        if not free:
            return left
        for rid in free:
            del left[rid]


def _find_cycle(graph: Mapping[str, tuple[str, ...]]) -> list[str]:
    start = min(graph)
    path: list[str] = []
    seen: dict[str, int] = {}
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = min(d for d in graph[node] if d in graph)
    return [*path[seen[node] :], node]


@functools.cache
def default_rulebook() -> Rulebook:
    """The bundled ``nhs-2024-25`` rulebook, loaded once per process."""
    return load_rulebook("nhs-2024-25")

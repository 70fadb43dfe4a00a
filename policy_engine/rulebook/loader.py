"""Load a rulebook folder: safe YAML, schema validation, expression checking, dependency order."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import re
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
from ..data.schemas import schema_validator
from ..errors import ErrorDetail, ExpressionError, RulebookError
from ..language.ast import Node
from ..language.checker import BOOL, DATE, CheckContext, CheckError, check
from ..language.months import parse_date, parse_month
from ..language.parser import ParseError, parse
from ..language.rules import FactDef, MetricDef, Parameter, Period, Rule, ServiceDef, Source

__all__ = ["Rulebook", "load_rulebook", "normalise_text"]

MAX_RULE_FILE_BYTES = 2 * 1024 * 1024
MAX_RULES = 5000
_NON_RULE_FILES = frozenset({"rulebook.yaml", "coverage.yaml"})


def normalise_text(text: str) -> str:
    """Every run of whitespace (non-breaking spaces included) becomes one space."""
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ")).strip()


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
        raise RulebookError("unknown rule", [ErrorDetail(self.id, "no rule with this id", rule_id)])

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
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
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
        return super().construct_mapping(node, deep=deep)


def _read_yaml(name: str, text: str) -> Any:
    try:
        return yaml.load(text, Loader=_SafeNoAliasLoader)  # noqa: S506 - SafeLoader subclass
    except RecursionError:
        raise RulebookError("a rule file is nested too deeply", [ErrorDetail(name, "nesting too deep")]) from None
    except ValueError as exc:  # e.g. an unquoted impossible date such as 2025-02-30
        raise RulebookError("a rule file holds an invalid value", [ErrorDetail(name, str(exc))]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark is not None else name
        problem = getattr(exc, "problem", None) or str(exc)
        raise RulebookError("a rule file is not valid YAML", [ErrorDetail(where, str(problem))]) from None


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


def _path(file: str, parts: Any) -> str:
    out = file
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def _validate(file: str, doc: Any, defn: str) -> list[ErrorDetail]:
    validator = schema_validator("rulebook.schema.json", definition=defn)
    out = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        value = repr(err.instance)
        out.append(
            ErrorDetail(
                _path(file, err.absolute_path),
                err.message if len(err.message) < 200 else err.message[:200] + "...",
                value if len(value) < 80 else value[:77] + "...",
            )
        )
    return out


# --------------------------------------------------------------------------- folder access


def _open_folder(name_or_path: str | os.PathLike[str]) -> tuple[Traversable, str]:
    text = os.fspath(name_or_path)
    if os.sep not in text and "/" not in text and not Path(text).exists():
        root = policies_root() / text
        if root.is_dir():
            return root, f"bundled:{text}"
        raise RulebookError(
            "unknown rulebook",
            [ErrorDetail(text, f"no bundled rulebook of this name (bundled: {', '.join(bundled_rulebooks())})")],
        )
    path = Path(text)
    if not path.is_dir():
        raise RulebookError("rulebook folder not found", [ErrorDetail(text, "expected a folder holding rulebook.yaml")])
    return cast(Traversable, path), str(path)


def _files(root: Traversable) -> list[tuple[str, str]]:
    out = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.is_file() and entry.name.endswith((".yaml", ".yml")):
            raw = entry.read_bytes()
            if len(raw) > MAX_RULE_FILE_BYTES:
                raise RulebookError(
                    "a rule file is too large",
                    [ErrorDetail(entry.name, f"at most {MAX_RULE_FILE_BYTES} bytes", str(len(raw)))],
                )
            try:
                out.append((entry.name, raw.decode("utf-8")))
            except UnicodeDecodeError as exc:
                raise RulebookError(
                    "a rule file is not UTF-8", [ErrorDetail(entry.name, f"invalid UTF-8 at byte {exc.start}")]
                ) from None
    return out


# --------------------------------------------------------------------------- loading


def load_rulebook(name_or_path: str | os.PathLike[str] = "nhs-2024-25") -> Rulebook:
    """Load a bundled rulebook by name (``"nhs-2024-25"``) or a rulebook folder by path.

    Raises RulebookError (ExpressionError for conditions) listing every problem with its file,
    rule id and position.
    """
    root, location = _open_folder(name_or_path)
    files = _files(root)
    names = [n for n, _ in files]
    if "rulebook.yaml" not in names:
        raise RulebookError("not a rulebook folder", [ErrorDetail(location, "rulebook.yaml is missing")])
    digest = hashlib.sha256()
    errors: list[ErrorDetail] = []
    docs: dict[str, Any] = {}
    for name, text in files:
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
        if name == "coverage.yaml":
            continue
        doc = _plain(_read_yaml(name, text))
        errors.extend(_validate(name, doc, "manifest" if name == "rulebook.yaml" else "area"))
        docs[name] = doc
    if errors:
        raise RulebookError("rule files do not match the rulebook schema", errors)

    manifest_doc = docs.pop("rulebook.yaml")
    manifest, periods_doc = manifest_doc["rulebook"], manifest_doc["periods"]
    periods: dict[str, Period] = {}
    for pname, p in periods_doc.items():
        start, end = parse_month(p["start"]), parse_month(p["end"])
        if end < start:
            errors.append(
                ErrorDetail(f"rulebook.yaml.periods.{pname}", "end is before start", f"{p['start']}..{p['end']}")
            )
        periods[pname] = Period(pname, start, end)
    sources_dir = root / "sources"
    source_texts: dict[str, str] = {}
    for doc_name in manifest["sources"]:
        entry = sources_dir / doc_name
        if not entry.is_file():
            errors.append(
                ErrorDetail("rulebook.yaml.rulebook.sources", "source document not found in sources/", doc_name)
            )
            continue
        raw = entry.read_bytes()
        digest.update(b"source:" + doc_name.encode() + b"\0" + raw + b"\0")
        source_texts[doc_name] = normalise_text(raw.decode("utf-8"))

    metrics: dict[str, MetricDef] = {}
    facts: dict[str, FactDef] = {}
    services: dict[str, ServiceDef] = {}
    areas: dict[str, str] = {}
    raw_rules: list[tuple[str, int, dict[str, Any], str]] = []
    for fname, doc in docs.items():
        area = doc["area"]
        if area != fname.rsplit(".", 1)[0]:
            errors.append(ErrorDetail(f"{fname}.area", "must equal the file name without .yaml", area))
        areas[area] = doc["title"]
        for mname, m in (doc.get("metrics") or {}).items():
            if mname in metrics:
                errors.append(
                    ErrorDetail(f"{fname}.metrics.{mname}", f"already declared in {metrics[mname].area}.yaml")
                )
                continue
            unit = "percent" if m["kind"] == "proportion" else m["unit"]
            if m["kind"] == "proportion" and m["unit"] != "percent":
                errors.append(ErrorDetail(f"{fname}.metrics.{mname}.unit", "a proportion's unit is percent", m["unit"]))
            metrics[mname] = MetricDef(mname, m["kind"], unit, m["description"], area, m["label"])
        for fact_name, f in (doc.get("facts") or {}).items():
            if fact_name in facts:
                errors.append(
                    ErrorDetail(f"{fname}.facts.{fact_name}", f"already declared in {facts[fact_name].area}.yaml")
                )
                continue
            facts[fact_name] = FactDef(fact_name, f["type"], f["description"], area, f.get("unit"), f["label"])
        for sname, svc in (doc.get("services") or {}).items():
            if sname in services:
                errors.append(ErrorDetail(f"{fname}.services.{sname}", "already declared in another file"))
                continue
            services[sname] = ServiceDef(sname, svc["description"], area, svc["label"])
        for i, r in enumerate(doc["rules"]):
            raw_rules.append((fname, i, r, area))

    rule_types: dict[str, tuple[str, ...]] = {}
    for fname, i, r, _ in raw_rules:
        if r["id"] in rule_types:
            errors.append(ErrorDetail(f"{fname}.rules[{i}].id", "duplicate rule id", r["id"]))
        rule_types[r["id"]] = tuple(r["applies_to"])
    if len(raw_rules) > MAX_RULES:
        errors.append(ErrorDetail(location, f"at most {MAX_RULES} rules are supported", str(len(raw_rules))))
    if errors:
        raise RulebookError("the rulebook is inconsistent", errors)

    book_start, book_end = parse_date(manifest["start"]), parse_date(manifest["end"])
    rules: dict[str, Rule] = {}
    for fname, i, r, area in raw_rules:
        rule = _build_rule(
            fname,
            i,
            r,
            area,
            metrics,
            facts,
            services,
            periods,
            rule_types,
            source_texts,
            (book_start, book_end),
            errors,
        )
        if rule is not None:
            rules[rule.id] = rule
    if errors:
        if all(
            " at column " in e.path or e.path.endswith((".condition", ".applicable_if", ".completed_on"))
            for e in errors
        ):
            raise ExpressionError("rule expressions do not parse or type-check", errors)
        raise RulebookError("the rulebook has invalid rules", errors)
    ordered = _order(rules)
    return Rulebook(
        id=manifest["id"],
        title=manifest["title"],
        version=manifest["version"],
        start=book_start,
        end=book_end,
        sources=tuple(manifest["sources"]),
        periods=MappingProxyType(periods),
        metrics=MappingProxyType(metrics),
        facts=MappingProxyType(facts),
        services=MappingProxyType(services),
        areas=MappingProxyType(areas),
        rules=ordered,
        digest=digest.hexdigest(),
        location=location,
        source_texts=MappingProxyType(source_texts),
    )


def _expr(
    fname: str, rid: str, i: int, field: str, text: str, ctx: CheckContext, expect: Any, errors: list[ErrorDetail]
) -> Node | None:
    where = f"{fname}: rules[{i}] ({rid}).{field}"
    try:
        node = parse(text)
        typ = check(node, ctx)
    except ParseError as exc:
        errors.append(ErrorDetail(f"{where} at column {exc.pos + 1}", exc.message, _caret(text, exc.pos)))
        return None
    except CheckError as exc:
        errors.append(ErrorDetail(f"{where} at column {exc.pos + 1}", exc.message, _caret(text, exc.pos)))
        return None
    if typ != expect:
        errors.append(ErrorDetail(where, f"must be a {expect.kind} expression, but it is {typ}", text))
        return None
    return node


def _caret(text: str, pos: int) -> str:
    lo = max(0, pos - 30)
    return f"...{text[lo:pos]} >>> {text[pos : pos + 30]}" if lo else f"{text[:pos]} >>> {text[pos : pos + 30]}"


def _build_rule(
    fname: str,
    i: int,
    r: dict[str, Any],
    area: str,
    metrics: Mapping[str, MetricDef],
    facts: Mapping[str, FactDef],
    services: Mapping[str, ServiceDef],
    periods: Mapping[str, Period],
    rule_types: Mapping[str, tuple[str, ...]],
    source_texts: Mapping[str, str],
    year: tuple[dt.date, dt.date],
    errors: list[ErrorDetail],
) -> Rule | None:
    rid = r["id"]
    before = len(errors)
    where = f"{fname}: rules[{i}] ({rid})"
    params = {
        n: Parameter(n, Fraction(Decimal(str(p["value"]))), p["unit"], p.get("wording"))
        for n, p in (r.get("parameters") or {}).items()
    }
    deadline = None
    if "deadline" in r:
        try:
            deadline = parse_date(r["deadline"])
        except ValueError as exc:
            errors.append(ErrorDetail(f"{where}.deadline", str(exc), r["deadline"]))
    timing, in_force = r.get("timing"), None
    if deadline is not None and not (year[0] <= deadline <= year[1]):
        errors.append(
            ErrorDetail(
                f"{where}.deadline",
                f"outside the planning year {year[0]}..{year[1]}: a rule of this rulebook is judged by the year's end",
                r["deadline"],
            )
        )
    if r["kind"] != "obligation":
        if timing is not None:
            errors.append(
                ErrorDetail(
                    f"{where}.timing",
                    "only obligations have a timing (other kinds are judged after their deadline)",
                    timing,
                )
            )
    elif timing == "dated" and "deadline" not in r:
        errors.append(ErrorDetail(f"{where}.timing", "a dated obligation needs the deadline the text gives", timing))
    elif timing in ("standing", "within_year") and "deadline" in r:
        errors.append(
            ErrorDetail(
                f"{where}.deadline",
                f"a {timing} obligation has no deadline of its own (use timing: dated for a date the text gives)",
                r["deadline"],
            )
        )
    elif timing == "within_year":
        deadline = year[1]
    elif timing == "standing":
        in_force = year[0]
    if "completed_on" in r and timing == "standing":
        errors.append(ErrorDetail(f"{where}.completed_on", "a standing obligation has no completion date", timing))
    period = None
    if "period" in r:
        period = periods.get(r["period"])
        if period is None:
            errors.append(ErrorDetail(f"{where}.period", "unknown period", r["period"]))
    applies_to = tuple(r["applies_to"])
    ctx = CheckContext(
        metrics, facts, frozenset(services), periods, params, rule_types, applies_to, has_deadline=deadline is not None
    )
    condition = _expr(fname, rid, i, "condition", r["condition"], ctx, BOOL, errors)
    guard_ctx = attrs.evolve(ctx, allow_rank=False, depends_on=set(), rank_calls=0)
    guard = None
    if "applicable_if" in r:
        guard = _expr(fname, rid, i, "applicable_if", r["applicable_if"], guard_ctx, BOOL, errors)
    completed = None
    if "completed_on" in r:
        if r["kind"] != "obligation":
            errors.append(ErrorDetail(f"{where}.completed_on", "only obligations have completed_on", r["kind"]))
        done_ctx = attrs.evolve(ctx, allow_rank=False, depends_on=set(), rank_calls=0)
        completed = _expr(fname, rid, i, "completed_on", r["completed_on"], done_ctx, DATE, errors)
        guard_ctx.depends_on |= done_ctx.depends_on
    if rid in ctx.depends_on | guard_ctx.depends_on:
        errors.append(ErrorDetail(f"{where}.condition", "a rule cannot read its own outcome", rid))
    src = r["source"]
    doc_text = source_texts.get(src["document"])
    if doc_text is None:
        errors.append(ErrorDetail(f"{where}.source.document", "not one of the rulebook's sources", src["document"]))
    elif normalise_text(src["quote"]) not in doc_text:
        errors.append(
            ErrorDetail(f"{where}.source.quote", f"not found verbatim in {src['document']}", src["quote"][:80])
        )
    confidence = r.get("confidence", "quoted")
    if confidence != "quoted" and src["document"] != "national-objectives-2024-25.md":
        errors.append(
            ErrorDetail(
                f"{where}.confidence", f"{confidence} rules cite the national objectives table", src["document"]
            )
        )
    if condition is not None and ctx.rank_calls and "cohort" not in r:
        errors.append(
            ErrorDetail(f"{where}.cohort", "a rule that uses rank() must say which cohort it ranks within", "missing")
        )
    elif not ctx.rank_calls and "cohort" in r:
        errors.append(ErrorDetail(f"{where}.cohort", "only rules that use rank() have a cohort", r["cohort"]))
    if len(errors) > before or condition is None:
        return None
    return Rule(
        id=rid,
        title=r["title"],
        kind=r["kind"],
        area=area,
        applies_to=applies_to,
        condition_text=r["condition"],
        condition=condition,
        source=Source(src["document"], src["section"], src["quote"]),
        file=fname,
        parameters=params,
        applicable_if_text=r.get("applicable_if"),
        applicable_if=guard,
        completed_on_text=r.get("completed_on"),
        completed_on=completed,
        period=period,
        deadline=deadline,
        timing=timing,
        in_force=in_force,
        objective=r.get("objective"),
        confidence=confidence,
        assumptions=tuple(r.get("assumptions") or ()),
        depends_on=tuple(sorted(ctx.depends_on | guard_ctx.depends_on)),
        uses_rank=ctx.rank_calls > 0,
        cohort=r.get("cohort"),
    )


def _order(rules: Mapping[str, Rule]) -> tuple[Rule, ...]:
    """Topological order (ties by id) with strata; a cycle is an error naming it."""
    indegree = {rid: len(r.depends_on) for rid, r in rules.items()}
    users: dict[str, list[str]] = {rid: [] for rid in rules}
    for rid, r in rules.items():
        for dep in r.depends_on:
            users[dep].append(rid)
    ready = sorted(rid for rid, n in indegree.items() if n == 0)
    out: list[Rule] = []
    strata: dict[str, int] = {}
    import heapq

    heapq.heapify(ready)
    while ready:
        rid = heapq.heappop(ready)
        rule = rules[rid]
        stratum = max((strata[d] for d in rule.depends_on), default=0) + (1 if rule.uses_rank else 0)
        strata[rid] = stratum
        out.append(attrs.evolve(rule, stratum=stratum))
        for user in users[rid]:
            indegree[user] -= 1
            if indegree[user] == 0:
                heapq.heappush(ready, user)
    if len(out) != len(rules):
        cycle = _find_cycle({rid: r.depends_on for rid, r in rules.items() if rid not in strata})
        raise RulebookError(
            "rules depend on each other in a cycle, so no fixpoint exists",
            [ErrorDetail(rules[cycle[0]].file, "cycle: " + " -> ".join(cycle), cycle[0])],
        )
    return tuple(out)


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

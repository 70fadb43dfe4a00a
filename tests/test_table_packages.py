"""The table packages keep the layout their docstrings draw: one module per job, each importing
only the modules listed above it, and the public names they had as single modules."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

pytest.importorskip("polars")

PACKAGES = ("policy_engine.tabular", "policy_engine.evaluation.columnar")


def _listed(package: str) -> list[str]:
    doc = importlib.import_module(package).__doc__ or ""
    return re.findall(r"^``(\w+)``\s", doc.split("The package, one module per job", 1)[1], re.M)


@pytest.mark.parametrize("package", PACKAGES)
def test_modules_import_only_those_above_them(package: str) -> None:
    folder = Path(importlib.import_module(package).__file__ or "").parent
    order = _listed(package)
    assert sorted(order) == sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
    for position, name in enumerate(order):
        tree = ast.parse((folder / f"{name}.py").read_text(encoding="utf-8"))
        siblings = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 1 and n.module}
        assert siblings <= set(order[:position]), f"{name} imports {sorted(siblings - set(order[:position]))}"


def test_the_public_names_are_unchanged() -> None:
    from policy_engine import tabular
    from policy_engine.evaluation import columnar

    assert tabular.__all__ == [
        "DEFAULT_CHUNK_ROWS",
        "KEY_COLUMNS",
        "TableResult",
        "TableSummary",
        "evaluate_frame",
        "evaluate_table",
        "frame_to_states",
        "normalise_frame",
        "states_to_frame",
    ]
    for name in ("MAX_ERRORS", "STATUS_DTYPE", "RowNames", "Format", "table_format", *tabular.__all__):
        assert getattr(tabular, name) is not None
    for name in (*columnar.__all__, "_FACT_DTYPES", "_groups"):
        assert getattr(columnar, name) is not None
    assert {"run", "ViewsOfRows", "COHORTS_COLUMN", "STATUS_ENUM", "cohorts_of_cells"} <= set(columnar.__all__)

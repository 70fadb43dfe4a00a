"""``tests/README.md`` maps every part of the package to the test files that test it, and stays true."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "policy_engine"
TABLE = (ROOT / "tests" / "README.md").read_text(encoding="utf-8")
ROWS = [line for line in TABLE.splitlines() if line.startswith("| `") or line.startswith("| the whole project")]


def _cells(row: str) -> tuple[str, str]:
    _, module, tests, _ = row.split("|")
    return module, tests


def _units() -> set[str]:
    """The package's folders (``language/``) and top-level modules (``cli.py``).

    A module that becomes a package of the same name (``tabular.py`` -> ``tabular/``) is still the
    same row: the table may name either form."""
    units = set()
    for path in PACKAGE.iterdir():
        if path.name == "__pycache__" or path.name.startswith("."):
            continue
        if path.is_dir() and (path / "__init__.py").exists():
            units.add(path.name)
        elif path.suffix == ".py":
            units.add(path.stem)
    return units


def _named_units() -> set[str]:
    named = set()
    for row in ROWS:
        module, _ = _cells(row)
        for name in re.findall(r"`([^`]+)`", module):
            named.add(name.removesuffix("/").removesuffix(".py"))
    return named


def test_every_folder_and_module_of_the_package_has_a_row() -> None:
    missing = sorted(_units() - _named_units())
    assert not missing, f"tests/README.md has no row for {missing}"
    gone = sorted(_named_units() - _units())
    assert not gone, f"tests/README.md names {gone}, which policy_engine/ no longer has"


def test_every_test_file_is_in_the_table_and_every_file_named_exists() -> None:
    named = {name for row in ROWS for name in re.findall(r"`(test_\w+\.py)`", _cells(row)[1])}
    files = {p.name for p in (ROOT / "tests").glob("test_*.py")}
    assert sorted(files - named) == [], "test files missing from tests/README.md"
    assert sorted(named - files) == [], "tests/README.md names test files that do not exist"


def test_no_test_pins_its_own_number_of_hypothesis_examples() -> None:
    # The profile (tests/conftest.py) decides: a literal count would not follow `ci` or `deep`.
    pinned = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted((ROOT / "tests").glob("test_*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if re.search(r"max_examples\s*=\s*\d+\s*[,)]", line)
    ]
    assert not pinned, "take the count from the profile (settings().max_examples):\n" + "\n".join(pinned)

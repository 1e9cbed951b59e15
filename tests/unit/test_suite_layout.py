"""No module under ``tests/`` imports a test module (``test_*.py``) or a ``conftest.py``: what
several test files share lives in ``tests/support/`` (or ``tests/fakes/``, ``tests/oracles/``),
so a test file can be moved, renamed or run alone without breaking another."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent


def imported_modules(tree: ast.Module, module: str) -> set[str]:
    """Every dotted name an ``import`` anywhere in ``tree`` (the module ``module``) may load:
    the module of each ``from`` import and, since ``from package import name`` can load a
    module ``name``, each name under it; relative imports resolved."""
    package = module.rsplit(".", 1)[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                origin = f"{base}.{node.module}" if node.module else base
            else:
                origin = node.module or ""
            names.add(origin)
            names.update(f"{origin}.{alias.name}" for alias in node.names)
    return names


def is_test_module(name: str) -> bool:
    """Whether the dotted ``name`` is a module file under ``tests/`` that pytest collects or
    loads as configuration."""
    parts = name.split(".")
    if parts[0] != "tests" or not (parts[-1].startswith("test_") or parts[-1] == "conftest"):
        return False
    return ROOT.joinpath(*parts).with_suffix(".py").is_file()


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def imported_test_modules(path: Path, source: str) -> list[str]:
    module = module_name(path)
    tree = ast.parse(source, filename=str(path))
    return sorted(name for name in imported_modules(tree, module) if is_test_module(name))


def test_no_module_under_tests_imports_a_test_module() -> None:
    found = {
        str(path.relative_to(ROOT)): imported
        for path in sorted(TESTS.rglob("*.py"))
        if "node_modules" not in path.parts
        and (imported := imported_test_modules(path, path.read_text(encoding="utf-8")))
    }
    assert found == {}, f"move what they share into tests/support/: {found}"


@pytest.mark.parametrize(
    "source",
    [
        "from tests.pwa.test_staff import qr_picture",
        "from tests.pwa import test_staff",
        "import tests.pwa.test_staff",
        "from .test_staff import qr_picture",
        "from . import test_staff",
        "from ..pwa.test_staff import qr_picture",
        "from tests.conftest import START",
        "def helper():\n    from tests.pwa.test_staff import qr_picture\n",
    ],
)
def test_the_check_sees_each_way_of_importing_a_test_module(source: str) -> None:
    importer = TESTS / "pwa" / "test_member_card.py"
    assert imported_test_modules(importer, source) != []


def test_the_check_lets_shared_helpers_through() -> None:
    importer = TESTS / "pwa" / "test_member_card.py"
    source = "from tests.support.barcodes import qr_picture\nfrom tests.fakes import push\nimport tests\n"
    assert imported_test_modules(importer, source) == []

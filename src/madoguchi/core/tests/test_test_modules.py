"""No test module imports another: shared fixtures live in the root conftest, factories in
``madoguchi.testing`` and a few helper modules (not named ``test_*``) beside the tests."""

from __future__ import annotations

import ast
from pathlib import Path

import madoguchi

ROOT = Path(madoguchi.__file__).parent


def test_no_test_module_imports_another():
    offenders = []
    for path in sorted(ROOT.rglob("tests/test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if isinstance(node, ast.stmt) and any(
                ".tests.test_" in name or name.startswith("test_") for name in names
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders

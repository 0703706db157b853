"""The layers contract and the no-circles rule (pyproject.toml, ``[tool.importlinter]``) hold
for the tree, and each of them fails on an import against it: checked on a copy of the packages
with one import added, by the same ``lint-imports`` that ``./scripts/dev test`` runs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("fellesdrift", "register", "sla", "servicedesk", "billing", "collectors", "dashboards")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
NAMES = {
    "layers": "The layers: each package imports only the layers below it BROKEN",
    "standalone": "collectors and dashboards stand alone (they talk to the rest over HTTP) BROKEN",
}


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    assert LINT_IMPORTS.exists(), "lint-imports is missing: pip install import-linter"
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", "pyproject.toml"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the packages' Python files and pyproject.toml."""
    tree = tmp_path_factory.mktemp("layers")
    shutil.copy(ROOT / "pyproject.toml", tree)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            tree / package,
            ignore=lambda _d, names: [
                n for n in names if (not n.endswith(".py") and "." in n) or n == "__pycache__"
            ],
        )
    return tree


def _with_module(pristine: Path, tmp_path: Path, path: str, source: str) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(pristine, tree)
    (tree / path).write_text(source)
    return tree


def test_the_tree_keeps_every_contract(pristine: Path) -> None:
    result = _lint(pristine)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("path", "source", "broken"),
    [
        # The register may not know the tickets that build on it.
        ("register/upward.py", "import servicedesk.tickets.models\n", "layers"),
        # The kernel's bottom imports no domain.
        ("fellesdrift/kernel/upward.py", "from register import models\n", "layers"),
        # sla sits below the service desk.
        ("sla/upward.py", "import servicedesk.tickets.service.core\n", "layers"),
        # Nothing below the assembly imports it.
        ("billing/upward.py", "import fellesdrift.assembly.app\n", "layers"),
        # The collectors talk to the rest over HTTP only.
        ("collectors/upward.py", "import register.models\n", "standalone"),
    ],
)
def test_an_import_against_the_layers_fails(
    pristine: Path, tmp_path: Path, path: str, source: str, broken: str
) -> None:
    result = _lint(_with_module(pristine, tmp_path, path, source))
    assert result.returncode != 0
    assert "Contracts: 2 kept, 1 broken." in result.stdout, result.stdout
    assert NAMES[broken] in result.stdout
    module = path.removesuffix(".py").replace("/", ".")
    assert module in result.stdout


def test_an_import_circle_fails(pristine: Path, tmp_path: Path) -> None:
    # core is imported by lifecycle; lifecycle imported back by core closes a circle.
    tree = _with_module(
        pristine,
        tmp_path,
        "servicedesk/tickets/service/core.py",
        (pristine / "servicedesk/tickets/service/core.py").read_text()
        + "\n\ndef _circle() -> None:\n"
        "    from servicedesk.tickets.service import lifecycle  # noqa: F401\n",
    )
    result = _lint(tree)
    assert result.returncode != 0
    assert "No cycles are allowed in servicedesk.tickets.service" in result.stdout, result.stdout

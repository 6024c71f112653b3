"""Layering (DESIGN.md "Layers"): each package imports only the ones above it, sweeps/ imports no Ray, pruning/
imports neither Ray nor MLflow, and no source file outgrows ~400 lines. Read from the sources' import statements."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
ORDER = ["pruning", "sweeps", "cluster", "jobs", "dashboards"]       # each may import only those before it
FORBIDDEN = {"pruning": {"ray", "mlflow"}, "sweeps": {"ray"}}
# entry points (jobs/) may call the dashboards (results docs, reports); dashboards never import jobs or cluster
BELOW = {"jobs": set(), "dashboards": {"jobs", "cluster"}}


def imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


SOURCES = [p for pkg in ORDER for p in sorted((ROOT / pkg).rglob("*.py"))]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_upward_imports_and_no_forbidden_frameworks(path):
    pkg = path.relative_to(ROOT).parts[0]
    above = BELOW.get(pkg, set(ORDER[ORDER.index(pkg) + 1:]))
    got = imports(path)
    assert not got & above, f"{path.relative_to(ROOT)} imports a layer above it: {sorted(got & above)}"
    assert not got & FORBIDDEN.get(pkg, set()), f"{path.relative_to(ROOT)} imports {sorted(got & FORBIDDEN[pkg])}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_source_file_outgrows_about_400_lines(path):
    assert len(path.read_text().splitlines()) <= 420


def test_sweep_config_holds_no_model_name_patterns():
    src = (ROOT / "sweeps" / "config.py").read_text() + (ROOT / "sweeps" / "config_checks.py").read_text()
    for pattern in ("ignorecase", 'r"7b"', 'r"13b"', "patterns", "model_family(", "model_families"):
        assert pattern not in src.lower(), pattern

"""The students' bundle (python -m autograder release): everything students need, nothing of the grader."""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.release import release

ROOT = Path(__file__).resolve().parents[1]
SOLUTION_BLOCK = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)


def _code_sources(path: Path) -> list[str]:
    """Python sources in a file: the file itself, or a notebook's code cells."""
    if path.suffix == ".py":
        return [path.read_text()]
    if path.suffix == ".ipynb":
        return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    return []


def _function_bodies(source: str) -> set[str]:
    """Each function's body as an AST dump, docstring left out (so a renamed copy is still found)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    bodies = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            if body:
                bodies.add(ast.dump(ast.Module(body=body, type_ignores=[])))
    return bodies


def _squeeze(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _solution_blocks() -> list[str]:
    blocks = []
    for nb in sorted((ROOT / "solutions").glob("*.ipynb")):
        for cell in _code_sources(nb):
            blocks += [_squeeze(b) for b in SOLUTION_BLOCK.findall(cell) if _squeeze(b)]
    return blocks


def _solution_bodies() -> set[str]:
    return {b for nb in (ROOT / "solutions").glob("*.ipynb") for cell in _code_sources(nb)
            if "BEGIN SOLUTION" in cell for b in _function_bodies(cell.replace("### BEGIN SOLUTION", "")
                                                                  .replace("### END SOLUTION", ""))}


def _grader_bodies() -> set[str]:
    """Function bodies of the hidden-check generators and known-mistake helpers."""
    return {b for path in (ROOT / "autograder").rglob("*.py") for b in _function_bodies(path.read_text())}


def leaks(bundle: Path) -> list[str]:
    """Everything of the grader or the solutions found in ``bundle``."""
    found = [f"{p}: a folder students must not get" for p in bundle.rglob("*")
             if p.is_dir() and p.name in {"solutions", "autograder", "tests", "benchmarks"}]
    solution_files = {p.read_bytes() for p in (ROOT / "solutions").rglob("*") if p.is_file()}
    blocks, solution_bodies, grader_bodies = _solution_blocks(), _solution_bodies(), _grader_bodies()
    for path in (p for p in bundle.rglob("*") if p.is_file()):
        if path.read_bytes() in solution_files:
            found.append(f"{path}: a file of solutions/")
        for source in _code_sources(path):
            squeezed = _squeeze(source)
            found += [f"{path}: a reference solution block" for b in blocks if b in squeezed]
            bodies = _function_bodies(source)
            found += [f"{path}: a reference function body" for _ in bodies & solution_bodies]
            found += [f"{path}: a function of the grader" for _ in bodies & grader_bodies]
    return found


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "bundle"
    release(out)
    return out


def test_bundle_holds_what_students_need(bundle):
    assert sorted(p.name for p in bundle.iterdir()) == ["README.md", "course", "data", "ddcourse", "pyproject.toml",
                                                         "requirements.txt"]
    notebooks = sorted(p.name for p in (bundle / "course").glob("*.ipynb"))
    assert notebooks and notebooks == sorted(p.name for p in (ROOT / "course").glob("*.ipynb"))
    assert list((bundle / "ddcourse" / "check_data").glob("*.pt"))
    assert list((bundle / "data" / "MNIST" / "raw").glob("*.gz"))
    assert not list(bundle.rglob("*-ubyte")) and not list(bundle.rglob("__pycache__"))


def test_bundle_readme_says_how_to_install_and_names_every_notebook_with_what_it_loads(bundle):
    readme = (bundle / "README.md").read_text()
    assert "pip install -r requirements.txt" in readme
    assert "pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu" in readme
    assert 'check("name", name)' in readme and "<!--" not in readme
    rows = {line.split("`")[1]: line for line in readme.splitlines() if line.startswith("| `")}
    assert sorted(rows) == sorted(p.name for p in (ROOT / "course").glob("*.ipynb"))
    for name, row in rows.items():
        loaded = sorted(set(re.findall(r'own_functions\(\s*"(\d\d_\w+)"', (ROOT / "course" / name).read_text())))
        assert [n for n in loaded if f"`{n}.ipynb`" not in row] == [], row
    assert "`03_defensive_distillation.ipynb`, `04_carlini_wagner.ipynb`" in rows["06_breaking_the_defense.ipynb"]
    assert rows["01_softmax_temperature.ipynb"].endswith("| — |")


def test_bundle_has_no_solution_or_grader_code(bundle):
    assert leaks(bundle) == []


def test_the_scan_finds_a_planted_solution_and_a_renamed_grader_function(bundle, tmp_path):
    planted = tmp_path / "planted"
    planted.mkdir()
    cell = next(c for c in _code_sources(ROOT / "solutions" / "03_defensive_distillation.ipynb")
                if "def temperature_cross_entropy" in c)
    (planted / "helpers.py").write_text(cell.replace("temperature_cross_entropy", "loss_at_t"))
    grader = (ROOT / "autograder" / "checks" / "softmax_temperature.py").read_text()
    (planted / "cases.py").write_text(grader.replace("def ", "def renamed_"))
    found = leaks(planted)
    assert any("reference solution block" in f for f in found)
    assert any("reference function body" in f for f in found)
    assert any("function of the grader" in f for f in found)


def test_students_install_ddcourse_alone(bundle, tmp_path):
    target = tmp_path / "site"
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                             "--no-index", "--target", str(target), str(bundle)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    packages = {p.name for p in target.iterdir() if p.is_dir() and not p.name.endswith((".dist-info", "-info"))}
    assert packages == {"ddcourse"}
    assert (target / "ddcourse" / "check_data").is_dir()


def test_release_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "homework.txt").write_text("mine")
    with pytest.raises(ValueError, match="out must be a new or empty folder"):
        release(tmp_path)

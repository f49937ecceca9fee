"""The solved notebooks run top to bottom (smoke profile), widgets included; their hidden test cells
decide no points in the kernel (python -m autograder nbgrader-grade grades outside), and the direct
autograder gives them full points."""
import nbformat
import pytest
import torch
from nbclient import NotebookClient

from autograder.checks import NOTEBOOKS
from autograder.engine import grade_notebook
from ddcourse.notebook import grade_id
from autograder.reference import solution_path
from ddcourse.widgets import temperature_explorer

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def execute(path, tmp_path):
    """Run the notebook in tmp_path beside copies of every solved notebook: notebooks 05 and 06 read the
    student's own functions from the earlier ones in their folder, as in a student's course folder."""
    for solved in path.parent.glob("*.ipynb"):
        (tmp_path / solved.name).write_bytes(solved.read_bytes())
    nb = nbformat.read(str(path), as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


def errors(nb):
    return [(i, o.ename, o.evalue) for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.get("outputs", []) if o.output_type == "error"]


def kernel_results(nb):
    """What each test cell leaves in the kernel: its execute_result values (nbgrader would read them as points)."""
    return {grade_id(c): [o for o in c.outputs if o.output_type == "execute_result"]
            for c in nb.cells if (grade_id(c) or "").startswith("test_")}


@pytest.mark.parametrize("notebook", list(NOTEBOOKS))
def test_solved_notebook_executes_with_full_points_and_widgets(notebook, tmp_path):
    nb = execute(solution_path(notebook), tmp_path)
    assert not errors(nb), errors(nb)
    report = grade_notebook(solution_path(notebook))
    assert all(e.points == e.max_points for e in report.exercises)
    results = kernel_results(nb)
    assert sorted(results) == sorted(f"test_{e.id}" for e in report.exercises)
    assert not any(results.values()), "a hidden test cell returned a value nbgrader would take as points"
    stderr = [o.text for c in nb.cells if (grade_id(c) or "").startswith("test_") for o in c.outputs
              if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, f"nbgrader gives 0 points to a test cell that writes to stderr: {stderr}"
    if notebook == "01_softmax_temperature":
        assert any(WIDGET_MIME in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


def test_temperature_slider_redraws_with_the_students_functions():
    calls = []

    def softmax(z, T):
        calls.append(T)
        return torch.softmax(z / T, dim=-1)

    def entropy(p):
        return -(p * p.clamp_min(1e-30).log()).sum(-1)

    box = temperature_explorer(torch.linspace(-2, 3, 10), softmax, entropy, label=9)
    slider = box.children[0]
    slider.value = 42.0
    assert calls[0] == 1.0 and calls[-1] == pytest.approx(42.0)
    with pytest.raises(ValueError, match="logits"):
        temperature_explorer(torch.zeros(2, 10), softmax, entropy)

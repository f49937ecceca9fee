"""The solved notebooks run top to bottom (smoke profile), widgets included; their hidden test cells
decide no points in the kernel (python -m autograder nbgrader-grade grades outside), and the direct
autograder gives them full points."""
import pytest
import torch

from autograder.checks import NOTEBOOKS
from benchmarks.notebooks import errors, execute_beside_solutions
from autograder.engine import grade_notebook
from ddcourse.notebook import grade_id
from autograder.reference import solution_path
from ddcourse.widgets import temperature_explorer

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def kernel_results(nb):
    """What each test cell leaves in the kernel: its execute_result values (nbgrader would read them as points)."""
    return {grade_id(c): [o for o in c.outputs if o.output_type == "execute_result"]
            for c in nb.cells if (grade_id(c) or "").startswith("test_")}


@pytest.mark.slow
@pytest.mark.parametrize("notebook", list(NOTEBOOKS))
def test_solved_notebook_executes_with_full_points_and_widgets(notebook, tmp_path):
    nb = execute_beside_solutions(solution_path(notebook), tmp_path)
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

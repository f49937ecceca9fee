"""One mistake costs points once: an exercise is graded with the reference versions of the exercises it
calls (each notebook's DEPENDS table), with the helpers the submission defines in other cells, and
check() makes a cell red (nbgrader's Validate fails) exactly when a public check fails."""
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.checks import NOTEBOOKS, exercises_of
from autograder.generate import COURSE_DIR
from ddcourse.notebook import grade_id
from autograder.engine import dependencies, grade_sources
from ddcourse.checking.public import check, names_from_other_cells
from tests.submissions import solved_cells, with_cells

BROKEN = '''
def {name}(*args, **kwargs):
    raise RuntimeError("deliberately wrong")
'''


def test_every_dependency_is_an_earlier_exercise_of_the_same_notebook():
    for notebook, module in NOTEBOOKS.items():
        order = exercises_of(notebook)
        for exercise, needed in getattr(module, "DEPENDS", {}).items():
            for name in needed:
                assert order.index(name) < order.index(exercise), (notebook, exercise, name)


def test_dependencies_are_followed_through_other_exercises():
    assert dependencies("02_knowledge_distillation", "distillation_step") == ["soft_targets", "distillation_loss"]


@pytest.mark.parametrize("notebook,exercise", [
    ("01_softmax_temperature", "softmax_jacobian"),
    ("02_knowledge_distillation", "distillation_loss"),
])
def test_a_wrong_earlier_exercise_does_not_cost_a_later_correct_one(notebook, exercise):
    broken = {name: BROKEN.format(name=name) for name in dependencies(notebook, exercise)}
    report = grade_sources(notebook, with_cells(notebook, **broken), only=[*broken, exercise])
    points = {e.id: e for e in report.exercises}
    assert points[exercise].passed, points[exercise].feedback
    assert all(points[name].points == 0 for name in broken)


def test_an_exercise_that_calls_another_is_graded_with_the_reference_of_the_one_it_calls():
    notebook = "01_softmax_temperature"
    own = """
def log_softmax_with_temperature(logits, T=1.0):
    return softmax_with_temperature(logits, T).log()   # unstable, but it calls another exercise
"""
    assert dependencies(notebook, "log_softmax_with_temperature", own) == ["softmax_with_temperature"]
    assert dependencies(notebook, "log_softmax_with_temperature") == []
    # a later exercise's reference never enters the sandbox, whatever the cell names
    assert dependencies(notebook, "softmax_with_temperature", "softmax_jacobian(logits, T)") == []
    cells = with_cells(notebook, log_softmax_with_temperature=own,
                       softmax_with_temperature=BROKEN.format(name="softmax_with_temperature"))
    report = grade_sources(notebook, cells, only=["log_softmax_with_temperature"])
    feedback = report.exercises[0].feedback
    # judged on its own merits: the reference softmax ran (no RuntimeError), and the log of it overflows
    assert "deliberately wrong" not in feedback and "nan or inf" in feedback, feedback
    assert 0 < report.exercises[0].points < report.exercises[0].max_points


def test_a_helper_in_another_cell_is_found():
    notebook = "01_softmax_temperature"
    helper = "def stable_exp(z):\n    return (z - z.amax(-1, keepdim=True)).exp()\n"
    own = '''
def softmax_with_temperature(logits, T=1.0):
    if T <= 0:
        raise ValueError(f"T must be positive, got T={T}")
    e = stable_exp(logits / T)
    return e / e.sum(-1, keepdim=True)
'''
    report = grade_sources(notebook, with_cells(notebook, softmax_with_temperature=own),
                           only=["softmax_with_temperature"], helper_cells=[helper])
    assert report.exercises[0].passed, report.exercises[0].feedback


def _define(namespace: dict, cell: str, source: str) -> None:
    exec(compile(source, f"<cell {cell}>", "exec"), namespace)


def test_check_names_a_helper_from_another_cell_and_passes_a_solved_exercise(capsys):
    namespace = {"__name__": "__main__"}
    _define(namespace, "1", "import torch\ndef stable_exp(z):\n    return (z - z.amax(-1, keepdim=True)).exp()\n")
    _define(namespace, "2", solved_cells("01_softmax_temperature")["entropy"])
    _define(namespace, "3", "def entropy(p):\n    return -(p * torch.log(p.clamp_min(1e-30))).sum(-1) + 0 * stable_exp(p).sum(-1)\n")
    assert names_from_other_cells(namespace["entropy"]) == ["stable_exp"]
    check("entropy", namespace["entropy"])
    assert "stable_exp, defined in another cell" in capsys.readouterr().out


def test_check_does_not_name_an_earlier_exercise_as_a_helper(capsys):
    """softmax_jacobian calls softmax_with_temperature from its own cell; the grader supplies its reference."""
    solved = solved_cells("01_softmax_temperature")
    namespace = {"__name__": "__main__"}
    _define(namespace, "1", "import torch\n" + solved["softmax_with_temperature"])
    _define(namespace, "2", solved["softmax_jacobian"])
    assert "softmax_with_temperature" in namespace["softmax_jacobian"].__code__.co_names
    assert names_from_other_cells(namespace["softmax_jacobian"]) == []
    check("softmax_jacobian", namespace["softmax_jacobian"])
    assert "another cell" not in capsys.readouterr().out


def test_check_raises_after_its_report_when_a_check_fails(capsys):
    namespace = {"__name__": "__main__"}
    _define(namespace, "1", "def entropy(p):\n    raise NotImplementedError()\n")
    with pytest.raises(AssertionError, match="public checks failed"):
        check("entropy", namespace["entropy"])
    assert "✗" in capsys.readouterr().out


# correct but not the reference's way: they must get full points whatever their float32 rounding
DIFFERENT_BUT_CORRECT = {
    "01_softmax_temperature": {
        "log_softmax_with_temperature": '''
def log_softmax_with_temperature(logits, T=1.0):
    if T <= 0:
        raise ValueError(f"T must be positive, got T={T}")
    z = logits / T
    return z - torch.logsumexp(z, dim=-1, keepdim=True)
''',
        "softmax_with_temperature": '''
def softmax_with_temperature(logits, T=1.0):
    if T <= 0:
        raise ValueError(f"T must be positive, got T={T}")
    z = logits / T
    return torch.exp(z - torch.logsumexp(z, dim=-1, keepdim=True))
''',
    },
}


@pytest.mark.parametrize("notebook", sorted(DIFFERENT_BUT_CORRECT))
def test_correct_but_different_implementations_get_full_points(notebook):
    submitted = DIFFERENT_BUT_CORRECT[notebook]
    report = grade_sources(notebook, with_cells(notebook, **submitted), only=list(submitted))
    for result in report.exercises:
        assert result.passed, result.feedback


def _validate(path, cwd):
    env = {**os.environ, "DDCOURSE_PROFILE": "smoke",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(["nbgrader", "validate", str(path)], cwd=cwd, capture_output=True, text=True,
                            timeout=900, env=env)
    return result.stdout + result.stderr


@pytest.mark.slow
def test_nbgrader_validate_fails_on_stubs_and_passes_when_solved(tmp_path):
    notebook = "01_softmax_temperature"
    stubs = tmp_path / "stubs.ipynb"
    stubs.write_bytes((COURSE_DIR / f"{notebook}.ipynb").read_bytes())
    nb = nbformat.read(str(stubs), as_version=4)
    solved = solved_cells(notebook)
    for cell in nb.cells:
        if grade_id(cell) in solved:
            cell.source = solved[grade_id(cell)]
    nbformat.write(nb, str(tmp_path / "solved.ipynb"))
    assert "VALIDATION FAILED" in _validate(stubs, tmp_path)
    output = _validate(tmp_path / "solved.ipynb", tmp_path)
    assert "Success! Your notebook passes all the tests." in output, output[-3000:]

"""ddcourse.earlier: a later notebook gets the student's own functions from an earlier notebook file."""
from pathlib import Path

import nbformat
import pytest
import torch

from ddcourse.earlier import EarlierNotebookError, is_stub, own_functions

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"


def _write(folder, name, cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src, metadata=meta) for src, meta in cells]
    nbformat.write(nb, str(folder / f"{name}.ipynb"))


SETUP = ("import torch\nSCALE = 2.0", {"nbgrader": {"grade_id": "setup"}})


def test_functions_come_from_definition_cells_only(tmp_path):
    _write(tmp_path, "03_x", [
        SETUP,
        ("def helper(x):\n    return x * SCALE", {}),
        ("def doubled(x):\n    return helper(x)", {"nbgrader": {"grade_id": "doubled"}}),
        ("raise RuntimeError('a training cell must not run')", {}),
    ])
    fns = own_functions("03_x", ["doubled"], tmp_path)
    assert fns["doubled"](3.0) == 6.0


def test_missing_notebook_names_the_file(tmp_path):
    with pytest.raises(EarlierNotebookError, match="04_y.ipynb"):
        own_functions("04_y", ["f"], tmp_path)


def test_missing_function_names_it_and_the_broken_cell(tmp_path):
    _write(tmp_path, "03_x", [SETUP, ("def other():\n    return 1 / 0\nimport not_a_module", {})])
    with pytest.raises(EarlierNotebookError, match=r"no function 'fgsm'.*ModuleNotFoundError"):
        own_functions("03_x", ["fgsm"], tmp_path)


def test_a_stub_is_refused_when_loading_before_anything_calls_it(tmp_path):
    _write(tmp_path, "03_x", [SETUP, ("def fgsm(x):\n    \"\"\"Doc.\"\"\"\n    # YOUR CODE HERE\n"
                                      "    raise NotImplementedError()", {})])
    with pytest.raises(EarlierNotebookError, match="fgsm in your notebook 03_x.ipynb is not implemented"):
        own_functions("03_x", ["fgsm"], tmp_path, run_checks=False)


def test_a_function_that_returns_before_its_raise_is_no_stub(tmp_path):
    source = "def fgsm(x):\n    if x > 0:\n        return x\n    raise NotImplementedError()"
    assert not is_stub("fgsm", [source])
    assert is_stub("fgsm", ["def fgsm(x):\n    y = x\n    raise NotImplementedError"])
    assert not is_stub("fgsm", ["def fgsm(x):\n    raise NotImplementedError()", "def fgsm(x):\n    return x"])


def test_unfinished_branch_says_where_to_finish_it_when_called(tmp_path):
    _write(tmp_path, "03_x", [SETUP, ("def shrink(x):\n    if x < 0:\n        raise NotImplementedError()\n"
                                      "    return x", {})])
    shrink = own_functions("03_x", ["shrink"], tmp_path)["shrink"]
    assert shrink(1) == 1
    with pytest.raises(EarlierNotebookError, match="shrink in your notebook 03_x.ipynb is not implemented"):
        shrink(-1)


FORGOT_T = "def softmax_with_temperature(logits, T):\n    return torch.softmax(logits, dim=-1)"
RIGHT = ("def softmax_with_temperature(logits, T=1.0):\n    if T <= 0:\n        raise ValueError('T must be positive')\n"
         "    return torch.softmax(logits / T, dim=-1)")


def test_a_function_failing_its_public_checks_is_refused_with_the_report(tmp_path):
    _write(tmp_path, "01_x", [SETUP, (FORGOT_T, {})])
    with pytest.raises(EarlierNotebookError) as raised:
        own_functions("01_x", ["softmax_with_temperature"], tmp_path)
    message = str(raised.value)
    assert "softmax_with_temperature in your notebook 01_x.ipynb does not pass its public checks" in message
    assert "public checks passed" in message and "✗" in message and "divide the logits by T" in message


def test_a_function_passing_its_public_checks_is_returned(tmp_path):
    _write(tmp_path, "01_x", [SETUP, (RIGHT, {})])
    softmax = own_functions("01_x", ["softmax_with_temperature"], tmp_path)["softmax_with_temperature"]
    assert softmax(torch.tensor([0.0, 0.0]), 2.0).tolist() == [0.5, 0.5]


def test_checks_can_be_skipped(tmp_path):
    _write(tmp_path, "01_x", [SETUP, (FORGOT_T, {})])
    assert callable(own_functions("01_x", ["softmax_with_temperature"], tmp_path, run_checks=False)
                    ["softmax_with_temperature"])


def test_the_solved_notebooks_pass_the_checks_later_notebooks_run():
    found = own_functions("04_carlini_wagner", ["cw_l2_attack", "minimal_perturbation"], SOLUTIONS)
    assert sorted(found) == ["cw_l2_attack", "minimal_perturbation"]

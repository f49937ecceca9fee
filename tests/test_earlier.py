"""ddcourse.earlier: a later notebook gets the student's own functions from an earlier notebook file."""
import nbformat
import pytest

from ddcourse.earlier import EarlierNotebookError, own_functions


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


def test_unfinished_function_says_where_to_finish_it(tmp_path):
    _write(tmp_path, "03_x", [SETUP, ("def fgsm(x):\n    raise NotImplementedError()", {})])
    fgsm = own_functions("03_x", ["fgsm"], tmp_path)["fgsm"]
    with pytest.raises(EarlierNotebookError, match="fgsm in your notebook 03_x.ipynb is not implemented"):
        fgsm(1)

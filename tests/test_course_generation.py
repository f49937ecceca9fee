"""course/ and the public check data are derived from solutions/ and must not drift from them."""
import json

import nbformat
import torch

from autograder.checks import NOTEBOOKS
from autograder.generate import COURSE_DIR, render, student_version
from ddcourse.notebook import grade_id
from autograder.public_data import public_data
from autograder.reference import solutions_dir
from ddcourse.checking.judges import value_difference
from ddcourse.checking.public import CHECK_DATA

SOLVED = sorted(solutions_dir().glob("*.ipynb"))


def test_every_contract_notebook_has_a_solution_and_a_student_version():
    assert {p.stem for p in SOLVED} == set(NOTEBOOKS)
    assert {p.stem for p in COURSE_DIR.glob("*.ipynb")} == set(NOTEBOOKS)


def test_course_is_exactly_what_generation_produces():
    for source in SOLVED:
        expected = render(student_version(nbformat.read(str(source), as_version=4)))
        assert (COURSE_DIR / source.name).read_text() == expected, (
            f"course/{source.name} drifted from solutions/: run `python -m autograder generate`")


def test_student_notebooks_hold_no_solution_and_no_outputs():
    for path in COURSE_DIR.glob("*.ipynb"):
        text = path.read_text()
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "grade_in_kernel"):
            assert marker not in text, f"{path.name} contains {marker!r}"
        nb = json.loads(text)
        for cell in nb["cells"]:
            assert not cell.get("outputs"), f"{path.name} has outputs"


def test_exercise_cells_become_stubs_and_keep_their_grade_ids():
    for path in COURSE_DIR.glob("*.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        solved = nbformat.read(str(solutions_dir() / path.name), as_version=4)
        ids = {grade_id(c) for c in nb.cells} - {None}
        assert ids == {grade_id(c) for c in solved.cells} - {None}
        for exercise in NOTEBOOKS[path.stem].EXERCISES:
            (cell,) = [c for c in nb.cells if grade_id(c) == exercise]
            assert f"def {exercise}(" in cell.source and "raise NotImplementedError()" in cell.source
            (test_cell,) = [c for c in nb.cells if grade_id(c) == f"test_{exercise}"]
            assert f'check("{exercise}", {exercise})' in test_cell.source


def test_public_check_data_matches_the_reference():
    for notebook in NOTEBOOKS:
        stored = torch.load(CHECK_DATA / f"{notebook}.pt", weights_only=True)
        fresh = public_data(notebook)
        assert len(stored["cases"]) == len(fresh["cases"])
        for old, new in zip(stored["cases"], fresh["cases"]):
            assert old["case"]["name"] == new["case"]["name"]
            assert value_difference(new["expected"], old["expected"], 1e-6, 1e-7) is None, (
                f"{notebook}: public data for {old['case']['name']!r} is stale: run `python -m autograder build-checks`")

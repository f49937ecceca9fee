"""What every notebook's checks must do, asserted the same way for each: the reference passes them all,
stubs fail them, correct code written another way keeps every point, and a realistic mistake costs points
on its own exercise only, with feedback a student can act on. The tests/test_checks_<notebook>.py files
hold each notebook's mistakes and other ways of writing it, and subclass StandardChecks with them."""
from __future__ import annotations

import pytest

from autograder.checks import exercises_of
from autograder.engine import grade_sources
from autograder.reference import reference_namespace
from ddcourse.checking.public import format_report, run_public_checks
from tests.submissions import with_cells

STUB = '''
def {name}(*args, **kwargs):
    raise NotImplementedError()
'''

# A grading run's mistakes: {exercise: (label, source, phrase the feedback must contain)}.
Round = dict[str, tuple[str, str, str]]


def assert_full_points(notebook: str, only: list[str] | None = None, **replacements: str) -> None:
    """The solved cells, with `replacements` (correct versions written otherwise), get every point."""
    report = grade_sources(notebook, with_cells(notebook, **replacements), only=only)
    assert report.total == report.max_total, [(e.id, e.feedback) for e in report.exercises if not e.passed]


class StandardChecks:
    """The tests every notebook's checks must pass. Each tests/test_checks_<notebook>.py subclasses it:

        class TestStandardChecks(StandardChecks):
            notebook = NB
            written_otherwise = {exercise: a correct source written another way, ...}
            rounds = mistake_rounds(WRONG)
    """
    notebook: str
    written_otherwise: dict[str, str] = {}
    rounds: list[Round] = []
    rounds_are_slow = False     # the rounds run with the end-to-end tests (pytest -m slow)
    rounds_graded_alone = False  # a round grades its own exercises only (where the others take long)

    def pytest_generate_tests(self, metafunc):
        if "round_" in metafunc.fixturenames:
            marks = [pytest.mark.slow] if self.rounds_are_slow else []
            metafunc.parametrize("round_", [pytest.param(r, id=round_id(r), marks=marks) for r in self.rounds])

    def test_reference_passes_every_public_check(self):
        namespace = reference_namespace(self.notebook)
        for exercise in exercises_of(self.notebook):
            results = run_public_checks(exercise, namespace[exercise])
            assert results and all(v.passed for _, v in results), format_report(exercise, results)

    def test_reference_gets_full_points(self):
        assert_full_points(self.notebook)

    def test_correct_implementations_written_otherwise_get_full_points(self):
        assert self.written_otherwise, f"{self.notebook} has no correct implementation written another way"
        assert_full_points(self.notebook, only=list(self.written_otherwise), **self.written_otherwise)

    def test_stubs_fail_every_public_check(self):
        for exercise in exercises_of(self.notebook):
            namespace = {}
            exec(STUB.format(name=exercise), namespace)
            results = run_public_checks(exercise, namespace[exercise])
            assert not any(v.passed for _, v in results)
            assert "not implemented" in format_report(exercise, results)

    def test_untouched_stubs_score_zero_with_not_implemented(self):
        report = grade_sources(self.notebook, {ex: STUB.format(name=ex) for ex in exercises_of(self.notebook)})
        for result in report.exercises:
            assert result.points == 0 and "not implemented" in result.feedback, (result.id, result.feedback)

    def test_realistic_mistakes_lose_points_on_their_own_exercise(self, round_):
        assert_mistakes_cost_their_own_exercise(self.notebook, round_,
                                                only=list(round_) if self.rounds_graded_alone else None)


def mistake_rounds(wrong: dict[str, dict[str, tuple[str, str]]]) -> list[Round]:
    """Zip {exercise: {label: (source, feedback)}} into grading runs with at most one mistake per exercise.
    Exercises that call others are graded with the reference versions of those, so one run may hold a
    mistake in an exercise and in one it calls."""
    rounds: list[Round] = []
    for exercise, mistakes in wrong.items():
        for i, (label, (source, feedback)) in enumerate(mistakes.items()):
            if len(rounds) <= i:
                rounds.append({})
            rounds[i][exercise] = (label, source, feedback)
    return rounds


def round_id(round_: Round) -> str:
    return "+".join(label for label, _, _ in round_.values())


def assert_mistakes_cost_their_own_exercise(notebook: str, round_: Round, only: list[str] | None = None) -> None:
    """Each mistaken exercise loses points with its feedback phrase; every other exercise keeps all of its."""
    report = grade_sources(notebook, with_cells(notebook, **{ex: src for ex, (_, src, _) in round_.items()}),
                           only=only)
    for result in report.exercises:
        if result.id in round_:
            label, _, feedback = round_[result.id]
            assert result.points < result.max_points, f"{label}: {result.id} kept full points"
            assert feedback in result.feedback, f"{label}: feedback lacks {feedback!r}:\n{result.feedback}"
        else:
            assert result.passed, f"{result.id} lost points for a mistake elsewhere:\n{result.feedback}"

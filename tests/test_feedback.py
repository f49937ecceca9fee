"""What a student reads when a check fails: no traceback through the checking code, each hint once, and the
arguments the probe supplies itself described in words."""
import torch
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from autograder.engine import grade_sources
from ddcourse.checking.cases import Case
from ddcourse.checking.judges import Verdict
from ddcourse.checking.public import format_report, run_public_checks
from tests.submissions import with_cells

NB = "01_softmax_temperature"
HINT = "hint: your output equals softmax(logits): did you forget to divide the logits by T?"


FORGOT_T = '''
def softmax_with_temperature(logits, T=1.0):
    if T <= 0:
        raise ValueError("T must be positive")
    return torch.softmax(logits, dim=-1)
'''


def test_a_failing_check_cell_shows_the_report_and_one_line_not_the_checking_code():
    shell = InteractiveShell.instance()
    shell.run_cell("import torch\nfrom ddcourse.checking import check")
    shell.run_cell(FORGOT_T)
    with capture_output() as captured:
        result = shell.run_cell('check("softmax_with_temperature", softmax_with_temperature)')
    assert isinstance(result.error_in_exec, AssertionError)
    assert "public checks passed" in captured.stdout
    assert "PublicChecksFailed: softmax_with_temperature:" in captured.stdout
    assert "public.py" not in captured.stdout and "raise PublicChecksFailed" not in captured.stdout


def test_a_hint_shared_by_several_failing_cases_is_printed_once():
    logits = torch.randn(2, 10)
    cases = [Case.close("softmax_with_temperature", f"case {i}", logits, 2.0) for i in range(3)]
    verdicts = [Verdict(False, f"output: wrong\n{HINT}"), Verdict(True), Verdict(False, f"output: wrong too\n{HINT}")]
    report = format_report("softmax_with_temperature", list(zip(cases, verdicts)))
    assert report.count(HINT) == 1 and report.count("✗") == 2 and "output: wrong too" in report


def test_the_graders_feedback_gives_a_repeated_hint_once():
    report = grade_sources(NB, with_cells(NB, softmax_with_temperature=FORGOT_T), only=["softmax_with_temperature"])
    (result,) = report.exercises
    assert result.feedback.count("✗") >= 2 and result.feedback.count(HINT) == 1, result.feedback


def test_stand_in_arguments_are_described_by_name():
    def stub(make_models, x, y, T, train_fn):
        raise NotImplementedError()

    report = format_report("distill_chain", run_public_checks("distill_chain", stub))
    assert "called distill_chain(make_models=[3 model constructors], " in report
    assert "train_fn=<a train_fn that records its calls instead of training>)" in report
    assert "recording" not in report.replace("records", "")

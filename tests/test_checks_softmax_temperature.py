"""Notebook 01's checks: the reference passes them all; stubs and realistic mistakes lose points
on the exercise they belong to, with a feedback line a student can act on."""
import pytest

from autograder.checks import exercises_of
from autograder.engine import grade_sources
from autograder.reference import reference_namespace
from ddcourse.checking.public import format_report, run_public_checks
from tests.submissions import with_cells

NB = "01_softmax_temperature"

STUB = '''
def {name}(*args, **kwargs):
    raise NotImplementedError()
'''

WRONG = {
    "softmax_with_temperature": {
        "forgot T": ('''
def softmax_with_temperature(logits, T=1.0):
    if T <= 0:
        raise ValueError("T must be positive")
    e = (logits - logits.amax(-1, keepdim=True)).exp()
    return e / e.sum(-1, keepdim=True)
''', "divide the logits by T"),
        "unstable exp": ('''
def softmax_with_temperature(logits, T=1.0):
    if T <= 0:
        raise ValueError("T must be positive")
    e = (logits / T).exp()
    return e / e.sum(-1, keepdim=True)
''', "nan or inf"),
        "wrong dim": ('''
def softmax_with_temperature(logits, T=1.0):
    if T <= 0:
        raise ValueError("T must be positive")
    z = logits / T
    e = (z - z.amax(0, keepdim=True)).exp()
    return e / e.sum(0, keepdim=True)
''', "first dimension"),
        "modifies input": ('''
def softmax_with_temperature(logits, T=1.0):
    if T <= 0:
        raise ValueError("T must be positive")
    logits.div_(T)
    e = (logits - logits.amax(-1, keepdim=True)).exp()
    return e / e.sum(-1, keepdim=True)
''', "was modified in place"),
        "detached": ('''
def softmax_with_temperature(logits, T=1.0):
    if T <= 0:
        raise ValueError("T must be positive")
    z = logits.detach() / T
    e = (z - z.amax(-1, keepdim=True)).exp()
    return e / e.sum(-1, keepdim=True)
''', "gradients must flow"),
        "no validation": ('''
def softmax_with_temperature(logits, T=1.0):
    z = logits / T
    e = (z - z.amax(-1, keepdim=True)).exp()
    return e / e.sum(-1, keepdim=True)
''', "expected ValueError"),
        "float32 always": ('''
def softmax_with_temperature(logits, T=1.0):
    if T <= 0:
        raise ValueError("T must be positive")
    z = logits.float() / T
    e = (z - z.amax(-1, keepdim=True)).exp()
    return e / e.sum(-1, keepdim=True)
''', "expected dtype float64"),
    },
    "log_softmax_with_temperature": {
        "log of softmax": ('''
def log_softmax_with_temperature(logits, T=1.0):
    return softmax_with_temperature(logits, T).log()
''', "nan or inf"),
    },
    "entropy": {
        "nan at zero": ('''
def entropy(probs):
    return -(probs * probs.log()).sum(-1)
''', "nan or inf"),
        "bits": ('''
def entropy(probs):
    return -(probs * probs.log2()).nan_to_num(0.0).sum(-1)
''', "nats"),
        "keeps dim": ('''
def entropy(probs):
    return -(probs * probs.log()).nan_to_num(0.0).sum(-1, keepdim=True)
''', "shape"),
    },
    "softmax_jacobian": {
        "no 1/T": ('''
def softmax_jacobian(logits, T=1.0):
    p = softmax_with_temperature(logits, T)
    return torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)
''', "without the factor 1/T"),
        "only 2-D": ('''
def softmax_jacobian(logits, T=1.0):
    p = softmax_with_temperature(logits, T)
    return (torch.stack([torch.diag(r) for r in p]) - torch.einsum("bi,bk->bik", p, p)) / T
''', "leading dimensions"),
    },
}


def test_reference_passes_every_public_check():
    namespace = reference_namespace(NB)
    for exercise in exercises_of(NB):
        results = run_public_checks(exercise, namespace[exercise])
        assert results and all(v.passed for _, v in results), format_report(exercise, results)


def test_reference_passes_every_hidden_check():
    report = grade_sources(NB, with_cells(NB))
    assert report.total == report.max_total, [e.feedback for e in report.exercises]


def test_stubs_fail_every_public_check():
    for exercise in exercises_of(NB):
        namespace = {}
        exec(STUB.format(name=exercise), namespace)
        results = run_public_checks(exercise, namespace[exercise])
        assert not any(v.passed for _, v in results)
        assert "not implemented" in format_report(exercise, results)


def _rounds():
    """Group the mistakes into grading runs of at most one per exercise. The other exercises
    call softmax_with_temperature, so its mistakes get runs of their own."""
    def zipped(exercises):
        rounds = []
        for exercise in exercises:
            for i, (label, (source, feedback)) in enumerate(WRONG[exercise].items()):
                if len(rounds) <= i:
                    rounds.append({})
                rounds[i][exercise] = (label, source, feedback)
        return rounds

    return zipped(["softmax_with_temperature"]) + zipped(["log_softmax_with_temperature", "entropy",
                                                          "softmax_jacobian"])


@pytest.mark.parametrize("round_", _rounds(), ids=lambda r: "+".join(label for label, _, _ in r.values()))
def test_realistic_mistakes_lose_points_on_their_own_exercise(round_):
    report = grade_sources(NB, with_cells(NB, **{ex: src for ex, (_, src, _) in round_.items()}))
    for result in report.exercises:
        if result.id in round_:
            label, _, feedback = round_[result.id]
            assert result.points < result.max_points, f"{label}: {result.id} kept full points"
            assert feedback in result.feedback, f"{label}: feedback lacks {feedback!r}:\n{result.feedback}"
        elif "softmax_with_temperature" not in round_:
            assert result.passed, f"{result.id} lost points for a mistake elsewhere:\n{result.feedback}"

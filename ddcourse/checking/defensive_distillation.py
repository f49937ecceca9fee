"""The probe and the judge of ``defensive_distillation`` (notebook 03).

defensive_distillation(make_model, x, y, T, train_fn) is judged by what it does
with the two functions it is given: a make_model that builds the case's models in
turn and a train_fn that records instead of training (training_record). The judge,
in the grader's process, reads that record.
"""
from __future__ import annotations

from torch import nn

from ddcourse.checking.cases import Case
from ddcourse.checking.judges import Verdict
from ddcourse.checking.probes import to_device
from ddcourse.checking.training_record import TrainingRecorder, judge_training_record, training_call_problem


def probe_defensive_distillation(fn, case: Case, device) -> dict:
    """Call fn(make_model, x, y, T, train_fn) with recording stand-ins; return the record as plain data.

    case.args: [stand-ins (cases.stand_in) for make_model, x, y, T, and train_fn];
    case.options["models"]: model_arg data, handed out by make_model in turn.
    """
    specs = case.options["models"]
    x, y, T = to_device(case.args[1:4], device)
    recorder = TrainingRecorder(specs, x, device)
    constructors = [recorder.constructor(i) for i in range(len(specs))]

    def make_model() -> nn.Module:
        return constructors[len(recorder.made) % len(specs)]()

    return recorder.record(fn(make_model, x, y, T, recorder.train_fn), returned_as=recorder.index)


def _call_problem(role: str, expected: dict, got: dict) -> str | None:
    """What is wrong with the train_fn call that trained the teacher or the student, or None."""
    wanted = {"teacher": "the hard labels y (int64 class indices [B])",
              "student": "the teacher's soft labels (probability rows [B, K])"}[role]
    if got["model"] != expected["model"]:
        if role == "student" and got["model"] == 0:
            return "the student is the teacher trained a second time: the student must be a fresh make_model()"
        if got["model"] is None:
            return (f"train_fn was given a model that make_model() did not return (a copy?) to train the {role}: "
                    f"the {role} must be a fresh make_model()")
        return (f"the {role} should be model number {expected['model'] + 1} that make_model() returned, "
                f"got model number {got['model'] + 1}")
    if role == "student" and got["starts_from_trained_model"] is not None:
        return ("the student starts from the trained teacher's weights: it must start from a fresh initialisation "
                "(make_model()), and learn from the teacher's soft labels only")
    return training_call_problem(
        f"the {role}", wanted, expected, got, same_t="both models are", soft_hint=(
            "compute them after train_fn has trained the teacher, in eval mode, at the same T (soft_labels does both)"
            if role == "student" else None),
        detach="teacher's autograd graph: compute them under torch.no_grad() (your soft_labels does)")


def judge_defensive_distillation(case: Case, expected: dict, got: dict, mistakes: dict | None = None) -> Verdict:
    """Two fresh models; the teacher trained on y at T, then the student on the trained teacher's soft
    labels at T (computed in eval mode); (teacher, student) returned, both in eval mode."""
    roles = ("teacher", "student")
    return judge_training_record(
        expected, got, call_problem=lambda i, exp, obs: _call_problem(roles[i], exp, obs),
        made_wrong=lambda made: f"make_model() was called {made} time(s); defensive distillation makes exactly "
                                f"{expected['made']} fresh models: the teacher, then the student",
        calls_wrong=lambda calls: f"train_fn was called {calls} time(s); expected {len(expected['train_calls'])}: "
                                  f"once for the teacher, then once for the student",
        returned_wrong=lambda got: "expected the pair (teacher, student): the first and the second model of "
                                   f"make_model(); got {got['output_info'].get('type')} holding "
                                   + ", ".join("model number " + str(i + 1) if i is not None else "something else"
                                               for i in got["returned"]),
        returned_training=lambda i: f"the {roles[i]} was returned in train mode: return both models in eval mode "
                                    f"(model.eval()), ready to be deployed")

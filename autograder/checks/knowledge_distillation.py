"""Checks of notebook 02_knowledge_distillation."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ddcourse.checking.cases import Case, model_arg
from ddcourse.checking.knowledge_distillation import (OPTIMIZER_SLOT, judge_distillation_step, judge_loss_gradients,
                                                     probe_distillation_step, probe_loss_gradients)

EXERCISES = ["soft_targets", "soft_cross_entropy", "distillation_loss", "distillation_step"]
# exercise -> the earlier exercises it calls: it is graded with their reference versions, so that one
# mistake costs points once (tests/test_fairness.py checks each entry)
DEPENDS = {"distillation_loss": ["soft_targets"], "distillation_step": ["distillation_loss"]}

LOSS_GRADIENTS = {"probe": probe_loss_gradients, "judge": judge_loss_gradients}
STEP = {"probe": probe_distillation_step, "judge": judge_distillation_step}
STEP_OPTIONS = {"lr": 0.5, "stale_grad": 0.25}   # plain SGD, and the stale gradients a step must clear first
STUDENT, TEACHER = "mlp", "tiny"   # the teacher has dropout, so running it in train mode shows


def _raises(exercise, name, args, names, **options):
    return Case.raises(exercise, f"{name} is rejected with a ValueError naming {' or '.join(names)}", args, names,
                       **options)


def _loss_gradients(name, *args):
    return Case("distillation_loss", name, args=list(args), **LOSS_GRADIENTS)


def _step_args(g, T, alpha, batch=8, teacher_training=True, seed=0):
    student, teacher = model_arg(STUDENT, seed, training=True), model_arg(TEACHER, seed + 1, teacher_training)
    x = torch.rand(batch, 1, 28, 28, generator=g)
    return [student, teacher, x, _labels(g, batch), OPTIMIZER_SLOT, T, alpha]


def _step(name, args):
    return Case("distillation_step", name, args=args, options=dict(STEP_OPTIONS), **STEP)


def _labels(g, batch):
    return torch.randint(0, 10, (batch,), generator=g)


def public_cases() -> list[Case]:
    g = torch.Generator().manual_seed(2)
    small = torch.tensor([[3.0, 1.0, 0.2]])
    student, teacher = torch.randn(4, 10, generator=g) * 2, torch.randn(4, 10, generator=g) * 4
    probs, labels = torch.softmax(teacher / 2, dim=-1), _labels(g, 4)
    worked_student, worked_teacher = torch.tensor([[1.0, 2.0, 0.0]]), torch.tensor([[4.0, 2.0, 0.0]])
    return [
        Case.close("soft_targets", "three logits at T=1", small, 1.0),
        Case.close("soft_targets", "three logits at T=10 (nearly uniform)", small, 10.0),
        Case.close("soft_targets", "a batch of 4 ten-class logit vectors at T=4, output detached",
                   teacher, 4.0, grad=torch.randn(4, 10, generator=g)),
        _raises("soft_targets", "T=0", [teacher, 0.0], ["T"]),
        Case.close("soft_cross_entropy", "the worked example: one student row and its target at T=2",
                   worked_student, torch.tensor([[0.7, 0.2, 0.1]]), 2.0),
        Case.close("soft_cross_entropy", "a batch of 4 at T=2, with the gradient to the student's logits",
                   student, probs, 2.0, grad=torch.tensor(1.0)),
        _raises("soft_cross_entropy", "T=-1", [student, probs, -1.0], ["T"]),
        _raises("soft_cross_entropy", "target_probs of another shape", [student, probs[:, :9], 2.0],
                ["target_probs", "student_logits"]),
        Case.close("distillation_loss", "the worked example at T=2, alpha=0.5",
                   worked_student, worked_teacher, torch.tensor([0]), 2.0, 0.5),
        Case.close("distillation_loss", "a batch of 4 at T=4, alpha=0.9, with the gradient to the student's logits",
                   student, teacher, labels, 4.0, 0.9, grad=torch.tensor(1.0)),
        Case.close("distillation_loss", "alpha=1 at T=10: the soft term alone", student, teacher, labels, 10.0, 1.0),
        Case.close("distillation_loss", "alpha=0 at T=5: the hard-label cross-entropy alone, at T=1",
                   student, teacher, labels, 5.0, 0.0),
        _loss_gradients("no gradient reaches the teacher's logits (T=4, alpha=0.9)", student, teacher, labels, 4.0, 0.9),
        _raises("distillation_loss", "alpha=1.5", [student, teacher, labels, 4.0, 1.5], ["alpha"]),
        _raises("distillation_loss", "T=0", [student, teacher, labels, 0.0, 0.5], ["T"]),
        _raises("distillation_loss", "teacher_logits of another shape", [student, teacher[:3], labels, 4.0, 0.5],
                ["teacher_logits", "student_logits"]),
        _step("one SGD step at T=4, alpha=0.7 on 8 images; the teacher comes in train mode",
              _step_args(g, 4.0, 0.7)),
    ]


def hidden_cases(g: torch.Generator) -> list[Case]:
    def randn(*shape, scale=1.0, dtype=torch.float32):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype)

    def probs(*shape, scale=2.0, dtype=torch.float32):
        return torch.softmax(randn(*shape, scale=scale, dtype=torch.float64), dim=-1).to(dtype)

    cases = []
    for T in (0.5, 1.0, 4.0, 20.0, 100.0):
        cases.append(Case.close("soft_targets", f"random logits [64, 10] at T={T:g}", randn(64, 10, scale=5), T))
    cases += [
        Case.close("soft_targets", "leading dimensions [2, 3, 10] at T=3", randn(2, 3, 10, scale=3), 3.0),
        Case.close("soft_targets", "float64 logits at T=2 (the dtype must be kept)", randn(8, 10, dtype=torch.float64), 2.0),
        Case.close("soft_targets", "logits of size 1e4 at T=1 (must stay finite)", randn(16, 10, scale=1e4), 1.0),
        Case.close("soft_targets", "the output is detached from the teacher's graph (T=5)", randn(6, 10, scale=3), 5.0,
                   grad=randn(6, 10)),
        _raises("soft_targets", "T=-2", [randn(3, 10), -2.0], ["T"]),
    ]
    for T in (1.0, 2.0, 7.0, 50.0):
        cases.append(Case.close("soft_cross_entropy", f"random logits and targets [32, 10] at T={T:g}",
                                randn(32, 10, scale=4), probs(32, 10), T, grad=torch.tensor(1.0)))
    one_hot = F.one_hot(_labels(g, 16), 10).float()
    cases += [
        Case.close("soft_cross_entropy", "one-hot targets, student logits of size 1e3 at T=1 (must stay finite)",
                   randn(16, 10, scale=1e3), one_hot, 1.0, atol=1e-3),
        Case.close("soft_cross_entropy", "a batch of one at T=3", randn(1, 10), probs(1, 10), 3.0),
        Case.close("soft_cross_entropy", "float64 at T=4 (the dtype must be kept)", randn(8, 10, dtype=torch.float64),
                   probs(8, 10, dtype=torch.float64), 4.0),
        _raises("soft_cross_entropy", "T=0", [randn(4, 10), probs(4, 10), 0.0], ["T"]),
        _raises("soft_cross_entropy", "target_probs with fewer rows", [randn(4, 10), probs(3, 10), 2.0],
                ["target_probs", "student_logits"]),
    ]
    for T, alpha in ((1.0, 0.5), (2.0, 0.9), (5.0, 0.1), (20.0, 0.7), (3.5, 1.0), (8.0, 0.0)):
        cases.append(Case.close("distillation_loss", f"random logits [64, 10] at T={T:g}, alpha={alpha:g}",
                                randn(64, 10, scale=3), randn(64, 10, scale=6), _labels(g, 64), T, alpha,
                                grad=torch.tensor(1.0)))
    cases += [
        Case.close("distillation_loss", "a confident teacher (logits of size 20) at T=10, alpha=0.9",
                   randn(32, 10, scale=2), randn(32, 10, scale=20), _labels(g, 32), 10.0, 0.9),
        Case.close("distillation_loss", "student logits of size 1e3 at T=1, alpha=0.5 (must stay finite)",
                   randn(16, 10, scale=1e3), randn(16, 10, scale=5), _labels(g, 16), 1.0, 0.5, rtol=1e-4),
        Case.close("distillation_loss", "a batch of one at T=4, alpha=0.6", randn(1, 10), randn(1, 10, scale=4),
                   _labels(g, 1), 4.0, 0.6),
        Case.close("distillation_loss", "float64 at T=3, alpha=0.8 (the dtype must be kept)",
                   randn(8, 10, dtype=torch.float64), randn(8, 10, scale=4, dtype=torch.float64), _labels(g, 8), 3.0, 0.8),
        _loss_gradients("no gradient reaches the teacher's logits (T=2, alpha=0.5)",
                        randn(16, 10, scale=2), randn(16, 10, scale=5), _labels(g, 16), 2.0, 0.5),
        _loss_gradients("no gradient reaches the teacher's logits (T=20, alpha=1)",
                        randn(16, 10, scale=2), randn(16, 10, scale=5), _labels(g, 16), 20.0, 1.0),
    ]
    student, teacher, labels = randn(8, 10), randn(8, 10), _labels(g, 8)
    cases += [
        _raises("distillation_loss", "T=-1", [student, teacher, labels, -1.0, 0.5], ["T"]),
        _raises("distillation_loss", "alpha=-0.1", [student, teacher, labels, 2.0, -0.1], ["alpha"]),
        _raises("distillation_loss", "teacher_logits with 9 classes", [student, teacher[:, :9], labels, 2.0, 0.5],
                ["teacher_logits", "student_logits"]),
        _raises("distillation_loss", "labels of another length", [student, teacher, labels[:7], 2.0, 0.5],
                ["labels"]),
    ]
    for i, (T, alpha) in enumerate(((1.0, 0.5), (10.0, 0.9), (3.0, 0.0), (20.0, 1.0))):
        cases.append(_step(f"one SGD step at T={T:g}, alpha={alpha:g}; the teacher comes in train mode",
                           _step_args(g, T, alpha, batch=16, seed=10 * i)))
    cases += [
        _step("one SGD step at T=5, alpha=0.8; the teacher comes in eval mode and must stay there",
              _step_args(g, 5.0, 0.8, teacher_training=False, seed=50)),
        _raises("distillation_step", "T=0", _step_args(g, 0.0, 0.5), ["T"], probe=STEP["probe"], **STEP_OPTIONS),
    ]
    return cases


def _kl(log_q, p, reduction="batchmean"):
    return F.kl_div(log_q, p, reduction=reduction)


def _loss(student_logits, teacher_logits, labels, T, alpha, *, soft=None, factor=None, hard_T=1.0, swap=False):
    """The distillation loss with one thing changed: the soft term, T's power, the hard term's T, or alpha's side."""
    log_q, p = torch.log_softmax(student_logits / T, dim=-1), torch.softmax(teacher_logits / T, dim=-1)
    soft_term = (soft or _kl)(log_q, p) * (T ** 2 if factor is None else factor)
    hard_term = F.cross_entropy(student_logits / hard_T, labels)
    a = 1 - alpha if swap else alpha
    return a * soft_term + (1 - a) * hard_term


def _soft_ce(student_logits, target_probs, T, log=torch.log_softmax, reduce=lambda rows: rows.mean()):
    return reduce(-(target_probs * log(student_logits / T, dim=-1)).sum(dim=-1))


MISTAKES = {
    "soft_targets": {
        "your output equals softmax(logits): did you forget to divide the logits by T?":
            lambda logits, T: torch.softmax(logits, dim=-1),
        "your output equals softmax(logits * T): divide by T, do not multiply":
            lambda logits, T: torch.softmax(logits * T, dim=-1),
        "you returned log-probabilities: soft targets are the probabilities softmax(z / T)":
            lambda logits, T: torch.log_softmax(logits / T, dim=-1),
    },
    "soft_cross_entropy": {
        "you summed over the batch: sum over the classes, then average over the samples":
            lambda s, p, T: _soft_ce(s, p, T, reduce=lambda rows: rows.sum()),
        "you averaged over the classes as well: sum over the classes, average over the samples only":
            lambda s, p, T: _soft_ce(s, p, T) / s.shape[-1],
        "your value ignores T: divide the student's logits by T before the log-softmax":
            lambda s, p, T: _soft_ce(s, p, 1.0),
        "you used softmax where log-softmax belongs: the cross-entropy is −Σ p · log softmax(z / T)":
            lambda s, p, T: _soft_ce(s, p, T, log=torch.softmax),
    },
    "distillation_loss": {
        "the soft term lacks the factor T²: without it, its gradient shrinks like 1/T² as T grows":
            lambda s, t, y, T, alpha: _loss(s, t, y, T, alpha, factor=1.0),
        "the soft term is multiplied by T: the factor that keeps its gradient scale is T²":
            lambda s, t, y, T, alpha: _loss(s, t, y, T, alpha, factor=T),
        "your KL goes the wrong way, KL(student ‖ teacher): the loss is KL(teacher ‖ student), and F.kl_div "
        "takes the student's log-probabilities first and the teacher's probabilities second":
            lambda s, t, y, T, alpha: _loss(s, t, y, T, alpha, soft=lambda log_q, p: _kl(p.log(), log_q.exp())),
        "reduction='mean' divides by batch × classes, K times too small: use reduction='batchmean'":
            lambda s, t, y, T, alpha: _loss(s, t, y, T, alpha, soft=lambda log_q, p: _kl(log_q, p, "sum") / p.numel()),
        "F.kl_div's first argument must be log-probabilities: you passed probabilities (softmax where log_softmax "
        "belongs)":
            lambda s, t, y, T, alpha: _loss(s, t, y, T, alpha, soft=lambda log_q, p: _kl(log_q.exp(), p)),
        "alpha weighs the wrong term: alpha multiplies the soft (KL) term, 1 − alpha the hard-label cross-entropy":
            lambda s, t, y, T, alpha: _loss(s, t, y, T, alpha, swap=True),
        "your hard-label term is taken at T: it is the ordinary cross-entropy of the student's logits, at T=1":
            lambda s, t, y, T, alpha: _loss(s, t, y, T, alpha, hard_T=T),
    },
}

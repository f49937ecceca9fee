"""Notebook 02's checks: the reference passes them all; stubs and realistic mistakes lose points
on the exercise they belong to, with a feedback line a student can act on."""

from tests.check_suite import StandardChecks, mistake_rounds

NB = "02_knowledge_distillation"

# Each wrong loss keeps the reference's argument checks, so that only the mistake itself is graded.
LOSS_START = '''
def distillation_loss(student_logits, teacher_logits, labels, T, alpha):
    if not 0 <= alpha <= 1:
        raise ValueError("alpha must be in [0, 1]")
    if teacher_logits.shape != student_logits.shape:
        raise ValueError("teacher_logits and student_logits differ in shape")
    if labels.shape != student_logits.shape[:1]:
        raise ValueError("labels must hold one class per row")
'''
STEP_START = '''
def distillation_step(student, teacher, x, y, optimizer, T, alpha):
'''

WRONG = {
    "soft_targets": {
        "not detached": ('''
def soft_targets(teacher_logits, T):
    if T <= 0:
        raise ValueError("T must be positive")
    return torch.softmax(teacher_logits / T, dim=-1)
''', "must be detached"),
        "forgot T": ('''
def soft_targets(teacher_logits, T):
    if T <= 0:
        raise ValueError("T must be positive")
    return torch.softmax(teacher_logits.detach(), dim=-1)
''', "divide the logits by T"),
    },
    "soft_cross_entropy": {
        "sum over the batch": ('''
def soft_cross_entropy(student_logits, target_probs, T):
    if T <= 0 or target_probs.shape != student_logits.shape:
        raise ValueError("bad T or target_probs")
    return -(target_probs * torch.log_softmax(student_logits / T, dim=-1)).sum()
''', "summed over the batch"),
        "log of softmax": ('''
def soft_cross_entropy(student_logits, target_probs, T):
    if T <= 0 or target_probs.shape != student_logits.shape:
        raise ValueError("bad T or target_probs")
    return -(target_probs * torch.softmax(student_logits / T, dim=-1).log()).sum(-1).mean()
''', "nan or inf"),
        "softmax for log-softmax": ('''
def soft_cross_entropy(student_logits, target_probs, T):
    if T <= 0 or target_probs.shape != student_logits.shape:
        raise ValueError("bad T or target_probs")
    return -(target_probs * torch.softmax(student_logits / T, dim=-1)).sum(-1).mean()
''', "softmax where log-softmax belongs"),
        "forgot T": ('''
def soft_cross_entropy(student_logits, target_probs, T):
    if T <= 0 or target_probs.shape != student_logits.shape:
        raise ValueError("bad T or target_probs")
    return -(target_probs * torch.log_softmax(student_logits, dim=-1)).sum(-1).mean()
''', "ignores T"),
    },
    "distillation_loss": {
        "no T²": (LOSS_START + '''
    p = soft_targets(teacher_logits, T)
    soft = F.kl_div(torch.log_softmax(student_logits / T, dim=-1), p, reduction="batchmean")
    return alpha * soft + (1 - alpha) * F.cross_entropy(student_logits, labels)
''', "lacks the factor T²"),
        "reverse KL": (LOSS_START + '''
    p = soft_targets(teacher_logits, T)
    soft = F.kl_div(p.log(), torch.softmax(student_logits / T, dim=-1), reduction="batchmean")
    return alpha * T ** 2 * soft + (1 - alpha) * F.cross_entropy(student_logits, labels)
''', "KL goes the wrong way"),
        "mean reduction": (LOSS_START + '''
    p = soft_targets(teacher_logits, T)
    soft = (p * (p.log() - torch.log_softmax(student_logits / T, dim=-1))).mean()
    return alpha * T ** 2 * soft + (1 - alpha) * F.cross_entropy(student_logits, labels)
''', "use reduction='batchmean'"),
        "teacher gets gradients": (LOSS_START + '''
    p = torch.softmax(teacher_logits / T, dim=-1)
    soft = F.kl_div(torch.log_softmax(student_logits / T, dim=-1), p, reduction="batchmean")
    return alpha * T ** 2 * soft + (1 - alpha) * F.cross_entropy(student_logits, labels)
''', "a gradient reaches the teacher's logits"),
        "softmax for log-softmax": (LOSS_START + '''
    p = soft_targets(teacher_logits, T)
    soft = F.kl_div(torch.softmax(student_logits / T, dim=-1), p, reduction="batchmean")
    return alpha * T ** 2 * soft + (1 - alpha) * F.cross_entropy(student_logits, labels)
''', "first argument must be log-probabilities"),
        "alpha on the wrong term": (LOSS_START + '''
    p = soft_targets(teacher_logits, T)
    soft = F.kl_div(torch.log_softmax(student_logits / T, dim=-1), p, reduction="batchmean")
    return (1 - alpha) * T ** 2 * soft + alpha * F.cross_entropy(student_logits, labels)
''', "alpha weighs the wrong term"),
        "hard term at T": (LOSS_START + '''
    p = soft_targets(teacher_logits, T)
    soft = F.kl_div(torch.log_softmax(student_logits / T, dim=-1), p, reduction="batchmean")
    return alpha * T ** 2 * soft + (1 - alpha) * F.cross_entropy(student_logits / T, labels)
''', "hard-label term is taken at T"),
    },
    "distillation_step": {
        "no zero_grad": (STEP_START + '''
    was_training = teacher.training
    teacher.eval()
    with torch.no_grad():
        teacher_logits = teacher(x)
    teacher.train(was_training)
    loss = distillation_loss(student(x), teacher_logits, y, T, alpha)
    loss.backward()
    optimizer.step()
    return loss.item()
''', "call optimizer.zero_grad() before loss.backward()"),
        "returns the tensor": (STEP_START + '''
    was_training = teacher.training
    teacher.eval()
    with torch.no_grad():
        teacher_logits = teacher(x)
    teacher.train(was_training)
    loss = distillation_loss(student(x), teacher_logits, y, T, alpha)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss
''', "expected the loss as a Python float, got a Tensor (loss.item())"),
        "teacher in train mode": (STEP_START + '''
    with torch.no_grad():
        teacher_logits = teacher(x)
    loss = distillation_loss(student(x), teacher_logits, y, T, alpha)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()
''', "the teacher ran in train mode"),
        "mode not restored": (STEP_START + '''
    teacher.eval()
    with torch.no_grad():
        teacher_logits = teacher(x)
    loss = distillation_loss(student(x), teacher_logits, y, T, alpha)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()
''', "the teacher was left in eval mode"),
        "teacher with gradients on": (STEP_START + '''
    was_training = teacher.training
    teacher.eval()
    teacher_logits = teacher(x)
    teacher.train(was_training)
    loss = distillation_loss(student(x), teacher_logits, y, T, alpha)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()
''', "wrap it in torch.no_grad()"),
    },
}

# soft targets under no_grad; the cross-entropy and the KL written out; the hard term through nll_loss; the
# teacher's mode set and restored without try/finally
WRITTEN_OTHERWISE = {
    "soft_targets": """
def soft_targets(teacher_logits, T):
    if T <= 0:
        raise ValueError(f"T={T}: the temperature must be positive")
    with torch.no_grad():
        return F.softmax(teacher_logits / T, dim=-1)
""",
    "soft_cross_entropy": """
def soft_cross_entropy(student_logits, target_probs, T):
    if T <= 0:
        raise ValueError("T must be positive")
    if target_probs.shape != student_logits.shape:
        raise ValueError("target_probs must have the shape of student_logits")
    return torch.mean(torch.sum(-target_probs * F.log_softmax(student_logits / T, dim=-1), dim=-1))
""",
    "distillation_loss": LOSS_START + """
    p = soft_targets(teacher_logits, T)
    log_q = F.log_softmax(student_logits / T, dim=-1)
    kl = (torch.special.xlogy(p, p) - p * log_q).sum(dim=-1).mean()
    hard = F.nll_loss(F.log_softmax(student_logits, dim=-1), labels)
    return alpha * T * T * kl + (1 - alpha) * hard
""",
    "distillation_step": STEP_START + """
    mode = teacher.training
    teacher.eval()
    with torch.no_grad():
        teacher_logits = teacher(x)
    teacher.train(mode)
    optimizer.zero_grad(set_to_none=True)
    loss = distillation_loss(student(x), teacher_logits, y, T, alpha)
    loss.backward()
    optimizer.step()
    return float(loss)
""",
}


class TestStandardChecks(StandardChecks):
    notebook = NB
    written_otherwise = WRITTEN_OTHERWISE
    rounds = mistake_rounds(WRONG)

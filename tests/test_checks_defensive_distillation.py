"""Notebook 03's checks: the reference passes them all; stubs and realistic mistakes lose points
on the exercise they belong to, with a feedback line a student can act on."""

from tests.check_suite import StandardChecks, mistake_rounds
from tests.submissions import X_Y_T_CHECKS

NB = "03_defensive_distillation"

DISTILLATION = '''
def defensive_distillation(make_model, x, y, T, train_fn):''' + X_Y_T_CHECKS + '''{body}
'''

WRONG = {
    "temperature_cross_entropy": {
        "forgot T": ('''
def temperature_cross_entropy(logits, targets, T):
    if T <= 0:
        raise ValueError("T must be positive")
    return F.cross_entropy(logits, targets)
''', "divide the logits by T"),
        "mean over classes": ('''
def temperature_cross_entropy(logits, targets, T):
    if T <= 0:
        raise ValueError("T must be positive")
    if targets.dim() == 1:
        targets = F.one_hot(targets, logits.shape[-1]).to(logits.dtype)
    return -(targets * torch.log_softmax(logits / T, dim=-1)).mean()
''', "K times too small"),
        "Hinton's T squared": ('''
def temperature_cross_entropy(logits, targets, T):
    if T <= 0:
        raise ValueError("T must be positive")
    return F.cross_entropy(logits / T, targets) * T * T
''', "T² factor"),
        "log of softmax": ('''
def temperature_cross_entropy(logits, targets, T):
    if T <= 0:
        raise ValueError("T must be positive")
    if targets.dim() == 1:
        targets = F.one_hot(targets, logits.shape[-1]).to(logits.dtype)
    return -(targets * torch.softmax(logits / T, dim=-1).log()).sum(-1).mean()
''', "nan or inf"),
        "no shape check": ('''
def temperature_cross_entropy(logits, targets, T):
    if T <= 0:
        raise ValueError("T must be positive")
    return F.cross_entropy(logits / T, targets)
''', "naming targets"),
    },
    "soft_labels": {
        "mode not restored": ('''
def soft_labels(model, x, T, batch_size=1024):
    if T <= 0 or batch_size < 1:
        raise ValueError("T and batch_size must be positive")
    model.eval()
    with torch.no_grad():
        return torch.softmax(torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]) / T, -1)
''', "left in eval mode"),
        "train mode": ('''
def soft_labels(model, x, T, batch_size=1024):
    if T <= 0 or batch_size < 1:
        raise ValueError("T and batch_size must be positive")
    with torch.no_grad():
        return torch.softmax(torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]) / T, -1)
''', "its dropout must be off"),
        "forgot T": ('''
def soft_labels(model, x, T, batch_size=1024):
    if T <= 0 or batch_size < 1:
        raise ValueError("T and batch_size must be positive")
    return torch.softmax(predict_logits(model, x, batch_size), -1)
''', "divide the logits by T"),
        "with grad": ('''
def soft_labels(model, x, T, batch_size=1024):
    if T <= 0 or batch_size < 1:
        raise ValueError("T and batch_size must be positive")
    was_training = model.training
    model.eval()
    logits = torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return torch.softmax(logits / T, -1)
''', "still attached to the autograd graph"),
    },
    "defensive_distillation": {
        "student from the teacher's weights": (DISTILLATION.format(body='''
    teacher = make_model()
    train_fn(teacher, x, y, T)
    student = make_model()
    student.load_state_dict(teacher.state_dict())
    train_fn(student, x, soft_labels(teacher, x, T), T)
    return teacher.eval(), student.eval()'''), "starts from the trained teacher's weights"),
        "teacher trained twice": (DISTILLATION.format(body='''
    teacher = make_model()
    train_fn(teacher, x, y, T)
    train_fn(teacher, x, soft_labels(teacher, x, T), T)
    return teacher.eval(), make_model().eval()'''), "the teacher trained a second time"),
        "soft labels before training": (DISTILLATION.format(body='''
    teacher, student = make_model(), make_model()
    targets = soft_labels(teacher, x, T)
    train_fn(teacher, x, y, T)
    train_fn(student, x, targets, T)
    return teacher.eval(), student.eval()'''), "compute them after train_fn has trained the teacher"),
        "student on hard labels": (DISTILLATION.format(body='''
    teacher, student = make_model(), make_model()
    train_fn(teacher, x, y, T)
    train_fn(student, x, y, T)
    return teacher.eval(), student.eval()'''), "must be trained on the teacher's soft labels"),
        "student at T=1": (DISTILLATION.format(body='''
    teacher = make_model()
    train_fn(teacher, x, y, T)
    student = make_model()
    train_fn(student, x, soft_labels(teacher, x, T), 1.0)
    return teacher.eval(), student.eval()'''), "both models are trained at the same T"),
        "left in train mode": (DISTILLATION.format(body='''
    teacher = make_model()
    train_fn(teacher, x, y, T)
    student = make_model()
    train_fn(student, x, soft_labels(teacher, x, T), T)
    return teacher, student'''), "returned in train mode"),
        "soft labels in train mode": (DISTILLATION.format(body='''
    teacher = make_model()
    train_fn(teacher, x, y, T)
    with torch.no_grad():
        targets = torch.softmax(teacher(x) / T, dim=-1)
    student = make_model()
    train_fn(student, x, targets, T)
    return teacher.eval(), student.eval()'''), "in eval mode, at the same T"),
        "pair reversed": (DISTILLATION.format(body='''
    teacher = make_model()
    train_fn(teacher, x, y, T)
    student = make_model()
    train_fn(student, x, soft_labels(teacher, x, T), T)
    return student.eval(), teacher.eval()'''), "expected the pair (teacher, student)"),
    },
    "input_gradient": {
        "gradient of the mean": ('''
def input_gradient(model, x, y):
    if y.shape != x.shape[:1]:
        raise ValueError("y must have one label per sample")
    was_training = model.training
    model.eval()
    x = x.detach().requires_grad_(True)
    (gradient,) = torch.autograd.grad(F.cross_entropy(model(x), y), x)
    model.train(was_training)
    return gradient
''', "B times too small"),
        "backward": ('''
def input_gradient(model, x, y):
    if y.shape != x.shape[:1]:
        raise ValueError("y must have one label per sample")
    was_training = model.training
    model.eval()
    x = x.detach().requires_grad_(True)
    F.cross_entropy(model(x), y, reduction="sum").backward()
    model.train(was_training)
    return x.grad
''', "gradients were left on the parameters"),
        "mode not restored": ('''
def input_gradient(model, x, y):
    if y.shape != x.shape[:1]:
        raise ValueError("y must have one label per sample")
    model.eval()
    x = x.detach().requires_grad_(True)
    return torch.autograd.grad(F.cross_entropy(model(x), y, reduction="sum"), x)[0]
''', "left in eval mode"),
    },
    "fgsm": {
        "no clipping": ('''
def fgsm(model, x, y, eps):
    if eps < 0:
        raise ValueError("eps must be >= 0")
    if ((x < 0) | (x > 1)).any():
        raise ValueError("x must be in [0, 1]")
    return (x + eps * input_gradient(model, x, y).sign()).detach()
''', "not clipped"),
        "no sign": ('''
def fgsm(model, x, y, eps):
    if eps < 0:
        raise ValueError("eps must be >= 0")
    if ((x < 0) | (x > 1)).any():
        raise ValueError("x must be in [0, 1]")
    return (x + eps * input_gradient(model, x, y)).clamp(0, 1).detach()
''', "eps·sign(gradient)"),
        "no validation": ('''
def fgsm(model, x, y, eps):
    return (x + eps * input_gradient(model, x, y).sign()).clamp(0, 1).detach()
''', "expected ValueError"),
    },
    "attack_success_rate": {
        "counts the already wrong": ('''
def attack_success_rate(model, x, x_adv, y):
    if x_adv.shape != x.shape or y.shape != x.shape[:1]:
        raise ValueError("x_adv and y must match x")
    return (predict_logits(model, x_adv).argmax(1) != y).float().mean().item()
''', "including those already wrong"),
        "a tensor": ('''
def attack_success_rate(model, x, x_adv, y):
    if x_adv.shape != x.shape or y.shape != x.shape[:1]:
        raise ValueError("x_adv and y must match x")
    correct = predict_logits(model, x).argmax(1) == y
    return (correct & (predict_logits(model, x_adv).argmax(1) != y)).sum() / correct.sum()
''', "expected a float"),
    },
}

# F.cross_entropy, which takes class indices and probability rows alike; batches by torch.split; the
# gradient through nll_loss of log_softmax; the success rate as the mean over the correct samples
WRITTEN_OTHERWISE = {
    "temperature_cross_entropy": """
def temperature_cross_entropy(logits, targets, T):
    if T <= 0:
        raise ValueError("T must be positive")
    if targets.dim() == 1:
        if targets.dtype != torch.int64 or len(targets) != len(logits):
            raise ValueError("targets: expected int64 class indices, one per row of logits")
    elif targets.shape != logits.shape:
        raise ValueError("targets: expected probability rows of the logits' shape")
    return F.cross_entropy(logits / T, targets if targets.dim() == 1 else targets.to(logits.dtype))
""",
    "soft_labels": """
def soft_labels(model, x, T, batch_size=1024):
    if T <= 0:
        raise ValueError("T must be positive")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    mode = model.training
    model.train(False)
    with torch.no_grad():
        probs = [F.softmax(model(batch) / T, dim=1) for batch in torch.split(x, batch_size)]
    model.train(mode)
    return torch.cat(probs)
""",
    "input_gradient": """
def input_gradient(model, x, y):
    if y.dim() != 1 or len(y) != len(x):
        raise ValueError("y must hold one label per sample of x")
    mode = model.training
    model.eval()
    leaf = x.clone().detach().requires_grad_()
    loss = F.nll_loss(F.log_softmax(model(leaf), dim=1), y, reduction="sum")
    grad = torch.autograd.grad(loss, [leaf])[0]
    model.train(mode)
    return grad.detach()
""",
    "fgsm": """
def fgsm(model, x, y, eps):
    if eps < 0:
        raise ValueError("eps must be non-negative")
    if x.min() < 0 or x.max() > 1:
        raise ValueError("x must lie in [0, 1]")
    return torch.clamp(x + eps * torch.sign(input_gradient(model, x, y)), 0, 1).detach()
""",
    "attack_success_rate": """
def attack_success_rate(model, x, x_adv, y):
    if x_adv.shape != x.shape:
        raise ValueError("x_adv must have the shape of x")
    if y.dim() != 1 or len(y) != len(x):
        raise ValueError("y must hold one label per sample of x")
    right = predict_logits(model, x).argmax(1) == y
    fooled = predict_logits(model, x_adv).argmax(1) != y
    return fooled[right].float().mean().item()
""",
}


class TestStandardChecks(StandardChecks):
    notebook = NB
    written_otherwise = WRITTEN_OTHERWISE
    rounds = mistake_rounds(WRONG)

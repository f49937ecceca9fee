"""Notebook 07's checks: the reference passes them all; stubs score 0; realistic mistakes lose points on
their own exercise with feedback a student can act on; correct implementations written another way (other
noise draws, other PGD bookkeeping) keep full points."""

from tests.check_suite import StandardChecks, mistake_rounds

NB = "07_distilling_robustness"

SMOOTHED = '''
def smoothed_probabilities(model, x, sigma, m, T=1.0):
    if sigma < 0 or m < 1 or T <= 0:
        raise ValueError("sigma >= 0, m >= 1 and T > 0")
    was_training = model.training
    model.{mode}()
    noisy = x.repeat(m, *[1] * (x.dim() - 1)) + sigma * torch.randn(m * len(x), *x.shape[1:])
{body}
    model.train(was_training)
    return p
'''


def _smoothed(body: str, mode: str = "eval") -> str:
    return SMOOTHED.format(mode=mode, body="\n".join("    " + line for line in body.strip().splitlines()))


MEAN_OF_PROBABILITIES = "p = torch.softmax(model(noisy) / T, dim=1).view(m, len(x), -1).mean(0)"

LOSS = '''
def smoothed_distillation_loss(student_logits, teacher_probabilities, y, T, w):
    if T <= 0 or not 0 <= w <= 1 or y.shape != student_logits.shape[:1] \\
            or teacher_probabilities.shape != student_logits.shape:
        raise ValueError("T > 0, w in [0, 1], y one label per row, teacher_probabilities like student_logits")
    p_t = teacher_probabilities{detach}
    log_p_s = torch.log_softmax(student_logits / T, dim=1)
    return {result}
'''
CORRECT_LOSS = "(1 - w) * F.cross_entropy(student_logits, y) - w * T * T * (p_t * log_p_s).sum(1).mean()"

STEP = '''
def adversarial_distillation_step(student, teacher, x, y, optimizer, eps, alpha, steps, T, w, random_start=True):
    if eps < 0 or alpha <= 0 or steps < 0 or ((x < 0) | (x > 1)).any() or y.shape != x.shape[:1]:
        raise ValueError("eps >= 0, alpha > 0, steps >= 0, x in [0, 1], one label y per image")
    with torch.no_grad():
        p_t = {targets}
    was_training = student.training
    student.eval()
    x_adv = {start}
    for _ in range(steps):
        x_adv = x_adv.detach().requires_grad_(True)
        g, = torch.autograd.grad(F.cross_entropy({attacked}(x_adv){log}, y, reduction="sum"), x_adv)
        x_adv = x_adv + alpha * g.sign()
        x_adv = {project}
    student.train()
    loss = (1 - w) * F.cross_entropy(student(x), y) \\
        - w * T * T * (p_t * torch.log_softmax(student(x_adv.detach()) / T, dim=1)).sum(1).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    student.train(was_training)
    return loss.item()
'''
UNIFORM_START = "(x + torch.empty_like(x).uniform_(-eps, eps) * random_start).clamp(0, 1)"
PROJECT = "torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0, 1)"


def _step(targets="teacher(x)", start=UNIFORM_START, attacked="student", log="", project=PROJECT):
    return STEP.format(targets=targets, start=start, attacked=attacked, log=log, project=project)


TRANSFER = '''
def transfer_accuracy(source_model, target_model, attack, x, y):
    if y.shape != x.shape[:1]:
        raise ValueError("y must hold one label per image")
    x_adv = attack({attacked}, x, y)
    return (predict_logits({measured}, {images}).argmax(1) {compare} y).float().mean().item()
'''


def _transfer(attacked="source_model", measured="target_model", images="x_adv", compare="=="):
    return TRANSFER.format(attacked=attacked, measured=measured, images=images, compare=compare)


WRONG = {
    "smoothed_probabilities": {
        "no noise": (_smoothed("p = torch.softmax(model(x) / T, dim=1)"), "without noise"),
        "mean of the logits": (_smoothed("p = torch.softmax(model(noisy).view(m, len(x), -1).mean(0) / T, dim=1)"),
                               "averaged the logits"),
        "votes": (_smoothed("p = F.one_hot(model(noisy).argmax(1), 10).float().view(m, len(x), -1).mean(0)"),
                  "averaged the votes"),
        "train mode": (_smoothed(MEAN_OF_PROBABILITIES, mode="train"), "train mode"),
        "loop over copies": (_smoothed("p = torch.stack([torch.softmax(model(x + sigma * torch.randn_like(x)) / T, "
                                       "dim=1) for _ in range(m)]).mean(0)"), "call the model once"),
        "detached": (_smoothed("with torch.no_grad():\n    " + MEAN_OF_PROBABILITIES), "not connected to x"),
        "T left out": (_smoothed("p = torch.softmax(model(noisy), dim=1).view(m, len(x), -1).mean(0)"), "left out T"),
    },
    "smoothed_distillation_loss": {
        "weights swapped": (LOSS.format(detach=".detach()", result="w * F.cross_entropy(student_logits, y) - "
                                        "(1 - w) * T * T * (p_t * log_p_s).sum(1).mean()"), "swapped the weights"),
        "teacher's gradients leak": (LOSS.format(detach="", result=CORRECT_LOSS), "reaches the teacher"),
        "no T squared": (LOSS.format(detach=".detach()", result="(1 - w) * F.cross_entropy(student_logits, y) - "
                                     "w * (p_t * log_p_s).sum(1).mean()"), "lacks its factor"),
        "KL instead of CE": (LOSS.format(detach=".detach()", result="(1 - w) * F.cross_entropy(student_logits, y) + "
                                         "w * T * T * F.kl_div(log_p_s, p_t, reduction='batchmean')"),
                             "KL divergence"),
    },
    "adversarial_distillation_step": {
        "attacked with the teacher's gradient": (_step(attacked="teacher", log=".log()"), "called on perturbed"),
        "teacher's soft labels on x_adv": (_step(targets="teacher(x)").replace(
            "(p_t * torch.log_softmax", "(teacher(x_adv.detach()) * torch.log_softmax"), "called on perturbed"),
        "teacher's gradients leak": (_step().replace("    with torch.no_grad():\n        p_t = teacher(x)",
                                                     "    p_t = teacher(x)"), "reached the teacher"),
        "no projection onto the ball": (_step(project="x_adv.clamp(0, 1)"), "outside the eps-ball"),
        "no clamp to [0, 1]": (_step(start="x + torch.empty_like(x).uniform_(-eps, eps) * random_start",
                                     project="torch.min(torch.max(x_adv, x - eps), x + eps)"), "outside [0, 1]"),
        "forgets zero_grad": (_step().replace("    optimizer.zero_grad()\n", ""), "zero_grad"),
    },
    "transfer_accuracy": {
        "crafted on the target": (_transfer(attacked="target_model"), "on the source model"),
        "clean accuracy": (_transfer(images="x"), "on the clean x"),
        "fraction fooled": (_transfer(compare="!="), "fraction fooled"),
        "measured on the source": (_transfer(measured="source_model"), "measured on the target"),
    },
}

CORRECT_OTHERWISE = {
    # the noise drawn per sample with randn_like on a [B, m, ...] view, probabilities averaged with a sum
    "smoothed_probabilities": '''
def smoothed_probabilities(model, x, sigma, m, T=1.0):
    if sigma < 0:
        raise ValueError("sigma must be >= 0")
    if m < 1:
        raise ValueError("m must be >= 1")
    if T <= 0:
        raise ValueError("T must be > 0")
    copies = x.unsqueeze(1).repeat(1, m, *[1] * (x.dim() - 1))
    copies = copies + torch.randn_like(copies) * sigma
    mode = model.training
    model.eval()
    logits = model(copies.reshape(len(x) * m, *x.shape[1:]))
    model.train(mode)
    return torch.softmax(logits / T, dim=-1).reshape(len(x), m, -1).sum(dim=1) / m
''',
    "smoothed_distillation_loss": LOSS.format(
        detach=".detach()", result="(1 - w) * F.nll_loss(torch.log_softmax(student_logits, 1), y) + "
                                   "w * T ** 2 * torch.mean(torch.sum(-p_t * log_p_s, dim=1))"),
    # the student's clean and adversarial outputs in one forward pass; the attack with a mean loss
    "adversarial_distillation_step": _step().replace(
        'reduction="sum"', 'reduction="mean"').replace(
        "    loss = (1 - w) * F.cross_entropy(student(x), y) \\\n"
        "        - w * T * T * (p_t * torch.log_softmax(student(x_adv.detach()) / T, dim=1)).sum(1).mean()",
        "    clean, adv = student(torch.cat([x, x_adv.detach()])).split(len(x))\n"
        "    loss = (1 - w) * F.cross_entropy(clean, y) - w * T * T * (p_t * torch.log_softmax(adv / T, 1)).sum(1).mean()"),
    "transfer_accuracy": '''
def transfer_accuracy(source_model, target_model, attack, x, y):
    if len(y) != len(x):
        raise ValueError("y and x differ in length")
    adversarial = attack(source_model, x, y)
    return (predict_logits(target_model, adversarial).argmax(1) == y).sum().item() / len(y)
''',
}


class TestStandardChecks(StandardChecks):
    notebook = NB
    written_otherwise = CORRECT_OTHERWISE
    rounds = mistake_rounds(WRONG)

"""Notebook 06's checks: the reference passes them all; stubs score 0; realistic mistakes lose points on
their own exercise with feedback a student can act on; correct implementations written another way keep
full points."""

from tests.check_suite import StandardChecks, mistake_rounds

NB = "06_breaking_the_defense"

PGD_CHECKS = '''
def pgd_attack(model, x, y, eps, alpha, steps, random_start=True):
    if eps < 0 or alpha <= 0 or steps < 0:
        raise ValueError("eps, alpha and steps: eps >= 0, alpha > 0, steps >= 0")
    if ((x < 0) | (x > 1)).any() or y.shape != x.shape[:1]:
        raise ValueError("x must be images in [0, 1] and y one label per image")
    was_training = model.training
    model.eval()
{body}
    model.train(was_training)
    return x_adv.detach()
'''


def _pgd(body: str) -> str:
    return PGD_CHECKS.format(body="\n".join("    " + line for line in body.strip().splitlines()))


def _pgd_loop(start: str, project: str, step: str = "x_adv + alpha * g.sign()") -> str:
    return _pgd(f'''
x_adv = {start}
for _ in range(steps):
    x_adv = x_adv.detach().requires_grad_(True)
    g, = torch.autograd.grad(F.cross_entropy(model(x_adv), y), x_adv)
    x_adv = {step}
    x_adv = {project}
''')


UNIFORM_START = "(x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)"
PROJECT = "torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0, 1)"

SATURATED = '''
def saturated_fraction(model, x):
    p = torch.softmax(predict_logits(model, x).{dtype}(), dim=1)
    {body}
'''

FGSM = '''
def fgsm_scaled_logits(model, x, y, eps, T):
    if eps < 0 or T <= 0 or y.shape != x.shape[:1]:
        raise ValueError("eps >= 0, T > 0 and one label y per image")
    x_leaf = x.detach().requires_grad_(True)
    was_training = model.training
    model.eval()
    g, = torch.autograd.grad(F.cross_entropy(model(x_leaf) / {T}, y), x_leaf)
    model.train(was_training)
    return {result}
'''

TRANSFER = '''
def transfer_success_rate(source_model, target_model, attack, x, y):
    if y.shape != x.shape[:1]:
        raise ValueError("y must hold one label per image")
    x_adv = attack({attacked}, x, y)
    right = predict_logits(target_model, x).argmax(1) == y
    fooled = predict_logits(target_model, x_adv).argmax(1) != y
    return {rate}
'''

WRONG = {
    "saturated_fraction": {
        "top probability is 1.0": (SATURATED.format(dtype="float", body="return (p.max(dim=1).values == 1).float()"
                                                                        ".mean().item()"), "rounds to 1.0"),
        "over probabilities": (SATURATED.format(dtype="float", body="return (p == F.one_hot(p.argmax(1), 10))"
                                                                    ".float().mean().item()"), "over samples"),
        "float64": (SATURATED.format(dtype="double", body="return (p == F.one_hot(p.argmax(1), 10)).all(1)"
                                                          ".float().mean().item()"), "float64"),
    },
    "fgsm_scaled_logits": {
        "forgot T": (FGSM.format(T=1, result="(x + eps * g.sign()).clamp(0, 1)"), "divide the logits by T"),
        "not clipped": (FGSM.format(T="T", result="(x + eps * g.sign()).detach()"), "not clipped"),
        "down the loss": (FGSM.format(T="T", result="(x - eps * g.sign()).clamp(0, 1)"), "goes down the loss"),
    },
    "pgd_attack": {
        "no projection onto the ball": (_pgd_loop(UNIFORM_START, "x_adv.clamp(0, 1)"), "leaves the eps-ball"),
        "no clipping to [0, 1]": (_pgd_loop("x + torch.empty_like(x).uniform_(-eps, eps)",
                                            "torch.min(torch.max(x_adv, x - eps), x + eps)"), "box [0, 1]"),
        "random start outside the ball": (_pgd_loop("(x + torch.randn_like(x) * eps).clamp(0, 1)", PROJECT),
                                          "leaves the eps-ball"),
        "no random start": (_pgd_loop("x.clone()", PROJECT), "random point of the eps-ball"),
        "descends the loss": (_pgd_loop(UNIFORM_START, PROJECT, step="x_adv - alpha * g.sign()"), "fools the model"),
        "attacks in train mode": (_pgd_loop(UNIFORM_START, PROJECT).replace("model.eval()", "model.train()"),
                                  "train mode"),
    },
    "transfer_success_rate": {
        "counts samples already wrong": (TRANSFER.format(attacked="source_model", rate="fooled.float().mean().item()"),
                                         "including those it already got wrong"),
        "crafted on the target": (TRANSFER.format(attacked="target_model",
                                                  rate="((right & fooled).sum() / right.sum()).item()"),
                                  "crafts the examples once, on the source model"),
        "divides by all samples": (TRANSFER.format(attacked="source_model",
                                                   rate="(right & fooled).float().mean().item()"),
                                   "divided by all the samples"),
    },
}

CORRECT_OTHERWISE = {
    "saturated_fraction": SATURATED.format(
        dtype="float", body="return ((p.max(dim=1).values == 1) & ((p == 0).sum(1) == p.shape[1] - 1)).float()"
                            ".mean().item()"),
    "fgsm_scaled_logits": FGSM.format(T="T", result="torch.clamp(x + eps * torch.sign(g), min=0.0, max=1.0)"
                                                    ".detach()"),
    # clip to [0, 1] first, then project; the start drawn with torch.rand (times 0 without a random start);
    # the loss through log_softmax
    "pgd_attack": _pgd('''
x_adv = (x + (torch.rand_like(x) * 2 - 1) * eps * random_start).clamp(0, 1)
for _ in range(steps):
    x_adv = x_adv.detach().requires_grad_(True)
    loss = F.nll_loss(torch.log_softmax(model(x_adv), dim=1), y, reduction="sum")
    g, = torch.autograd.grad(loss, x_adv)
    x_adv = (x_adv + alpha * g.sign()).clamp(0, 1)
    x_adv = x + (x_adv - x).clamp(-eps, eps)
'''),
    "transfer_success_rate": TRANSFER.format(attacked="source_model",
                                             rate="(fooled[right].float().sum() / right.float().sum()).item()"),
}


class TestStandardChecks(StandardChecks):
    notebook = NB
    written_otherwise = CORRECT_OTHERWISE
    rounds = mistake_rounds(WRONG)
    rounds_are_slow = True

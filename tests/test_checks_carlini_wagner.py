"""Notebook 04's checks: the reference passes them all, and so does an independently written attack; stubs and
realistic mistakes lose points on the exercise they belong to, with a feedback line a student can act on."""

from autograder.checks.carlini_wagner import L2_TOLERANCE
from autograder.engine import grade_sources
from autograder.reference import solution_path
from tests.submissions import with_cells
from tests.check_suite import StandardChecks

NB = "04_carlini_wagner"

OBJECTIVE = '''
def cw_objective(logits, target, kappa=0.0, targeted=True):
    if target.shape != logits.shape[:1]:
        raise ValueError("target must hold one class per row of logits")
    if kappa < 0:
        raise ValueError("kappa must be >= 0")
    scores = {scores}
    one_hot = torch.nn.functional.one_hot(target, scores.shape[1]).bool()
    z_target = scores[one_hot]
    z_other = {other}
    gap = z_other - z_target if targeted else z_target - z_other
    return {result}
'''
MASKED = "scores.masked_fill(one_hot, float('-inf')).amax(dim=1)"

LOSS = '''
def cw_l2_loss(model, w, x, target, c, kappa=0.0, targeted=True):
    if w.shape != x.shape:
        raise ValueError("w must have the shape of x")
    if not isinstance(c, torch.Tensor) or c.shape != x.shape[:1]:
        raise ValueError("c must hold one constant per sample")
    x_new = from_tanh_space(w)
    l2sq = ((x_new - x) ** 2).flatten(1).sum(dim=1)
    logits = model(x_new)
    f = cw_objective({scores}, target, kappa, targeted)
    return ({distance} + c * f).{reduce}(), l2sq, logits
'''

CONSTANTS = '''
def update_constants(c, lower, upper, success):
    if success.dtype != torch.bool:
        raise ValueError("success must be a bool tensor")
    for name, value in (("lower", lower), ("upper", upper), ("success", success)):
        if value.shape != c.shape:
            raise ValueError(f"{{name}} must have the shape of c")
    upper = torch.where(success, {new_upper}, upper)
    lower = torch.where(success, lower, {new_lower})
    return torch.where({bisect}, (lower + upper) / 2, c * 10), lower, upper
'''

MINIMAL = '''
def minimal_perturbation(model, x, y, attack, norm=2):
    if x.min() < 0 or x.max() > 1:
        raise ValueError("x must lie in [0, 1]")
    if y.shape != x.shape[:1]:
        raise ValueError("y must hold one label per image")
    if not norm > 0:
        raise ValueError("norm must be positive")
    was_training = model.training
    model.eval()
    with torch.no_grad():
        correct = model(x).argmax(dim=1) == y
    x_ok, y_ok = {attacked}
    if len(x_ok) == 0:
        model.train(was_training)
        return {{"success_rate": math.nan, "mean": math.nan, "median": math.nan, "max": math.nan,
                "distances": x.new_zeros(0)}}
    x_adv = attack(model, x_ok, y_ok)
    with torch.no_grad():
        fooled = model(x_adv).argmax(dim=1) != y_ok
    model.train(was_training)
    d = torch.linalg.vector_norm((x_adv - x_ok).flatten(1), ord=norm, dim=1)
    distances = torch.where(fooled, d, torch.full_like(d, math.inf))
    hits = {hits}
    if len(hits) == 0:
        return {{"success_rate": 0.0, "mean": math.nan, "median": math.nan, "max": math.nan, "distances": distances}}
    return {{"success_rate": fooled.float().mean().item(), "mean": hits.mean().item(), "median": {median},
            "max": hits.max().item(), "distances": distances}}
'''
MINIMAL_RIGHT = dict(attacked="x[correct], y[correct]", hits="d[fooled]", median="hits.quantile(0.5).item()")

# An attack written independently of the reference (Carlini's batch-level abort, a success counted when the goal
# was met in the last two check windows); each change below alters one decision in it (all but "Carlini's rule"
# are mistakes).
ATTACK = '''
def cw_l2_attack(model, x, target, *, targeted=True, c_init=1e-3, kappa=0.0, steps=1000, search_steps=9, lr=1e-2,
                 abort_early=True):
    if not (x.min() >= 0 and x.max() <= 1):
        raise ValueError("x must lie in [0, 1]")
    if target.shape != x.shape[:1]:
        raise ValueError("target must hold one class per image")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            classes = model(x[:1]).shape[1]
        if target.min() < 0 or target.max() >= classes:
            raise ValueError("target out of range")
        n = len(x)
        c = torch.full((n,), float(c_init), device=x.device)
        lower, upper = torch.zeros_like(c), torch.full_like(c, 1e10)
        best, best_l2 = x.clone(), torch.full_like(c, math.inf)
        w_start = to_tanh_space(x)
        window = max(1, steps // 10)
        for _ in range(search_steps):
            w = w_start.clone().requires_grad_(True)
            optimizer = torch.optim.Adam([w], lr=lr)
            last_success = torch.full((n,), -steps, device=x.device)
            previous = math.inf
            for i in range(steps):
                loss, l2sq, logits = cw_l2_loss(model, w, x, target, c, kappa, targeted)
                with torch.no_grad():
                    margin = -cw_objective(logits, target, math.inf, targeted)
                    met = margin >= kappa if kappa > 0 else margin > 0
                    last_success = torch.where(met, i, last_success)
                    better = met & (l2sq < best_l2)
                    best_l2 = torch.where(better, l2sq, best_l2)
                    best = torch.where(better.view(-1, 1, 1, 1), from_tanh_space(w), best)
                if abort_early and i % window == 0:
                    if loss.item() > previous * 0.9999:
                        break
                    previous = loss.item()
                (w.grad,) = torch.autograd.grad(loss, [w])
                optimizer.step()
            success = last_success > i - 2 * window    # the goal was met in the final stretch
            c, lower, upper = update_constants(c, lower, upper, success)
        return best
    finally:
        model.train(was_training)
'''
ATTACK_CHANGES = {
    "Adam not reset": [("        for _ in range(search_steps):\n            w = w_start.clone().requires_grad_(True)\n"
                        "            optimizer = torch.optim.Adam([w], lr=lr)\n",
                        "        w = w_start.clone().requires_grad_(True)\n        optimizer = torch.optim.Adam([w], lr=lr)\n"
                        "        for _ in range(search_steps):\n            with torch.no_grad():\n"
                        "                w.copy_(w_start)\n")],
    "best not kept": [("            last_success = torch.full",
                       "            best, best_l2 = x.clone(), torch.full_like(c, math.inf)\n"
                       "            last_success = torch.full")],
    "Carlini's rule": [("last_success > i - 2 * window", "last_success >= 0")],   # any successful iterate counts
    "loss.backward": [("(w.grad,) = torch.autograd.grad(loss, [w])", "optimizer.zero_grad()\n                loss.backward()")],
    "last iterate where it failed": [("        return best\n",
                                      "        return torch.where(torch.isinf(best_l2).view(-1, 1, 1, 1), "
                                      "from_tanh_space(w.detach()), best)\n")],
    "dropout on": [("    model.eval()\n", "")],
}


def attack_with(change: str) -> str:
    source = ATTACK
    for old, new in ATTACK_CHANGES[change]:
        assert old in source, f"{change}: {old!r} is not in the attack's source"
        source = source.replace(old, new)
    return source


LOOPED_CONSTANTS = '''
def update_constants(c, lower, upper, success):
    if success.dtype != torch.bool:
        raise ValueError("success must be a bool tensor")
    c, lower, upper = c.clone(), lower.clone(), upper.clone()
    for i in range(len(c)):
        if success[i]:
            upper[i] = min(upper[i], c[i])
        else:
            lower[i] = max(lower[i], c[i])
        c[i] = (lower[i] + upper[i]) / 2 if upper[i] < 1e10 else c[i] * 10
    return c, lower, upper
'''

# Grading runs, each exercise at most once per run; each run grades only its own exercises, so that the
# attack's mistakes do not wait for the other exercises' checks.
ROUNDS = [
    {"cw_objective": ("masking bug", OBJECTIVE.format(scores="logits", other="(scores * ~one_hot).amax(dim=1)",
                                                      result="gap.clamp(min=-kappa)"), "(1 - one_hot)"),
     "from_tanh_space": ("tanh only", "def from_tanh_space(w):\n    return torch.tanh(w)\n", "½(tanh(w) + 1)"),
     "to_tanh_space": ("atanh(±1) without eps", "def to_tanh_space(x, eps=1e-6):\n    if x.min() < 0 or x.max() > 1:\n"
                       "        raise ValueError('x must lie in [0, 1]')\n    return torch.atanh(2 * x - 1)\n",
                       "atanh(±1) = ±inf"),
     "update_constants": ("bounds not kept", CONSTANTS.format(new_upper="c", new_lower="c", bisect="upper < 1e10"),
                          "upper = min(upper, c)")},
    {"cw_objective": ("objective on probabilities", OBJECTIVE.format(scores="torch.softmax(logits, dim=1)", other=MASKED,
                                                                     result="gap.clamp(min=-kappa)"),
                      "softmax probabilities"),
     "to_tanh_space": ("no validation", "def to_tanh_space(x, eps=1e-6):\n    return torch.atanh((2 * x - 1) * (1 - eps))\n",
                       "expected ValueError"),
     "update_constants": ("x10 when an upper bound exists",
                          CONSTANTS.format(new_upper="torch.minimum(upper, c)", new_lower="torch.maximum(lower, c)",
                                           bisect="success"), "only while no c has worked yet")},
    {"cw_objective": ("no clamp", OBJECTIVE.format(scores="logits", other=MASKED, result="gap"), "not clamped"),
     "update_constants": ("a Python loop over samples", LOOPED_CONSTANTS, "loops over the samples in Python")},
    {"cw_l2_loss": ("L2 instead of squared L2", LOSS.format(scores="logits", distance="l2sq.sqrt()", reduce="sum"),
                    "uses its square")},
    {"cw_l2_loss": ("objective on probabilities", LOSS.format(scores="torch.softmax(logits, dim=1)", distance="l2sq",
                                                              reduce="sum"), "f works on the logits")},
    {"cw_l2_loss": ("batch mean", LOSS.format(scores="logits", distance="l2sq", reduce="mean"), "batch mean")},
    {"cw_l2_attack": ("Adam not reset", attack_with("Adam not reset"), "create a new torch.optim.Adam"),
     "minimal_perturbation": ("lower median", MINIMAL.format(**{**MINIMAL_RIGHT, "median": "hits.median().item()"}),
                              "lower of the two middle")},
    {"cw_l2_attack": ("best not kept", attack_with("best not kept"), "keep, per sample, the best example"),
     "minimal_perturbation": ("misclassified samples attacked too", MINIMAL.format(**{**MINIMAL_RIGHT, "attacked": "x, y"}),
                              "expected the correctly classified ones")},
    {"minimal_perturbation": ("failures in the statistics", MINIMAL.format(**{**MINIMAL_RIGHT, "hits": "distances"}),
                              "successful samples only")},
    {"cw_l2_attack": ("loss.backward", attack_with("loss.backward"), "gradients were left on the parameters")},
    {"cw_l2_attack": ("last iterate where it failed", attack_with("last iterate where it failed"), "return x itself")},
    {"cw_l2_attack": ("dropout on", attack_with("dropout on"), "train mode, with dropout on")},
]


class TestStandardChecks(StandardChecks):
    notebook = NB
    written_otherwise = {"cw_l2_attack": ATTACK, "minimal_perturbation": MINIMAL.format(**MINIMAL_RIGHT)}
    rounds = ROUNDS
    rounds_are_slow = rounds_graded_alone = True


def test_carlinis_rule_for_the_search_gets_full_points():
    """Carlini's l2_attack.py counts a search step as a success when any iterate met the goal; the reference's
    final-stretch rule is its own choice, not a requirement."""
    report = grade_sources(NB, with_cells(NB, cw_l2_attack=attack_with("Carlini's rule")), only=["cw_l2_attack"])
    assert report.exercises[0].passed, report.exercises[0].feedback


def test_the_notebook_states_the_graders_l2_tolerance():
    assert f"sample within {L2_TOLERANCE:.0%} of it" in solution_path(NB).read_text()

"""Notebook 05's checks: the reference passes them all; stubs and realistic mistakes lose points on the
exercise they belong to, with feedback a student can act on; correct but different code keeps full points."""

from tests.check_suite import StandardChecks, mistake_rounds
from tests.submissions import X_Y_T_CHECKS

NB = "05_teacher_assistant"

CHAIN = '''
def distill_chain(make_models, x, y, T, train_fn):''' + X_Y_T_CHECKS + '''{body}
'''

PAIRED = '''
def paired_difference_interval(a, b, z=1.96):
    if a.dim() != 1:
        raise ValueError("a must be 1-D")
    if b.shape != a.shape:
        raise ValueError("b must have a's shape")
    if not z > 0:
        raise ValueError("z must be positive")
    both = torch.isfinite(a) & torch.isfinite(b)
    if both.sum() < 2:
        raise ValueError("a and b need 2 finite pairs")
    d = {first}[both].double() - {second}[both].double()
    half = z * ({spread}).item() / math.sqrt(len(d))
    return d.mean().item(), d.mean().item() - half, d.mean().item() + half
'''

WRONG = {
    "distill_chain": {
        "every link on the teacher's labels": (CHAIN.format(body='''
    models = []
    for make in make_models:
        model = make()
        train_fn(model, x, y if not models else torch.softmax(predict_logits(models[0], x) / T, -1), T)
        models.append(model.eval())
    return models
'''), "not the first one"),
        "soft labels at T=1": (CHAIN.format(body='''
    models, targets = [], y
    for make in make_models:
        model = make()
        train_fn(model, x, targets, T)
        targets = torch.softmax(predict_logits(model, x), -1)
        models.append(model.eval())
    return models
'''), "targets of model 2"),
        "returned in train mode": (CHAIN.format(body='''
    models, targets = [], y
    for make in make_models:
        model = make()
        train_fn(model, x, targets, T)
        targets = torch.softmax(predict_logits(model, x) / T, -1)
        models.append(model)
    return models
'''), "train mode"),
        "student fine-tunes the teacher": (CHAIN.format(body='''
    model, models, targets = make_models[0](), [], y
    for make in make_models:
        train_fn(model, x, targets, T)
        targets = torch.softmax(predict_logits(model, x) / T, -1)
        models.append(model.eval())
    return models
'''), "call each constructor once"),
    },
    "chain_of_length": {
        "steps models instead of steps + 1": ('''
def chain_of_length(make_model, steps, x, y, T, train_fn):
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError("steps must be an int >= 0")
    return distill_chain([make_model] * steps, x, y, T, train_fn)
''', "steps + 1 models"),
        "one model trained steps + 1 times": ('''
def chain_of_length(make_model, steps, x, y, T, train_fn):
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError("steps must be an int >= 0")
    model = make_model()
    return distill_chain([lambda: model] * (steps + 1), x, y, T, train_fn)
''', "makes exactly"),
    },
    "confidence": {
        "counts wrong predictions": ('''
def confidence(model, x, y):
    if len(y) != len(x):
        raise ValueError("y must have one label per image")
    return torch.softmax(predict_logits(model, x), -1).max(1).values.mean().item()
''', "a wrong prediction counts 0"),
        "mean over the right ones only": ('''
def confidence(model, x, y):
    if len(y) != len(x):
        raise ValueError("y must have one label per image")
    top = torch.softmax(predict_logits(model, x), -1).max(1)
    return top.values[top.indices == y].mean().item()
''', "divides by all the samples"),
    },
    "small_gradient_fraction": {
        "fraction over pixels": ('''
def small_gradient_fraction(model, x, y, threshold=1e-10):
    if threshold <= 0 or len(y) != len(x):
        raise ValueError("threshold must be positive and y must have one label per image")
    x = x.clone().requires_grad_(True)
    grad, = torch.autograd.grad(F.cross_entropy(model.eval()(x), y, reduction="sum"), x)
    return (grad.abs() < threshold).float().mean().item()
''', "counted pixels"),
        "gradient of the batch mean": ('''
def small_gradient_fraction(model, x, y, threshold=1e-10):
    if threshold <= 0 or len(y) != len(x):
        raise ValueError("threshold must be positive and y must have one label per image")
    x = x.clone().requires_grad_(True)
    grad, = torch.autograd.grad(F.cross_entropy(model.eval()(x), y), x)
    return (grad.abs().flatten(1).mean(1) < threshold).float().mean().item()
''', "batch mean"),
    },
    "sensitivity": {
        "fraction over Jacobian entries": ('''
def sensitivity(model, x, threshold=1e-10):
    if not threshold > 0 or len(x) == 0:
        raise ValueError("threshold must be positive and x non-empty")
    model.eval()
    x = x.clone().requires_grad_(True)
    p = torch.softmax(model(x), -1)
    rows = [torch.autograd.grad(p[:, k].sum(), x, retain_graph=True)[0] for k in range(p.shape[1])]
    return (torch.stack(rows, 1).abs() < threshold).float().mean().item()
''', "counted Jacobian entries"),
        "gradient of the summed probabilities": ('''
def sensitivity(model, x, threshold=1e-10):
    if not threshold > 0 or len(x) == 0:
        raise ValueError("threshold must be positive and x non-empty")
    model.eval()
    x = x.clone().requires_grad_(True)
    grad, = torch.autograd.grad(torch.softmax(model(x), -1).sum(), x)
    return (grad.abs().flatten(1).mean(1) < threshold).float().mean().item()
''', "sum of the probabilities"),
        "Jacobian of the logits": ('''
def sensitivity(model, x, threshold=1e-10):
    if not threshold > 0 or len(x) == 0:
        raise ValueError("threshold must be positive and x non-empty")
    model.eval()
    x = x.clone().requires_grad_(True)
    z = model(x)
    total = sum(torch.autograd.grad(z[:, k].sum(), x, retain_graph=True)[0].abs().flatten(1).mean(1)
                for k in range(z.shape[1]))
    return (total / z.shape[1] < threshold).float().mean().item()
''', "differentiated the logits"),
    },
    "paired_difference_interval": {
        "population standard deviation": (PAIRED.format(spread="d.std(unbiased=False)", first="a", second="b"),
                                          "population standard deviation"),
        "unpaired spread": (PAIRED.format(spread="(a[both].double().var() + b[both].double().var()).sqrt()",
                                          first="a", second="b"), "unpaired"),
        "b - a": (PAIRED.format(spread="d.std()", first="b", second="a"), "b - a"),
    },
}

DIFFERENT = {
    "distill_chain": CHAIN.format(body='''
    trained = []
    for i, make in enumerate(make_models):
        model = make()
        if i == 0:
            train_fn(model, x, y, T)
        else:
            teacher = trained[-1]
            with torch.no_grad():
                soft = torch.cat([F.softmax(teacher(x[j:j + 7]) / T, dim=1) for j in range(0, len(x), 7)])
            train_fn(model, x, soft, T)
        trained.append(model.eval())
    return trained
'''),
    "chain_of_length": '''
def chain_of_length(make_model, steps, x, y, T, train_fn):
    if type(steps) is not int or steps < 0:
        raise ValueError(f"steps={steps!r}: expected a whole number of steps, 0 or more")
    makers = []
    for _ in range(steps + 1):
        makers.append(make_model)
    return list(distill_chain(makers, x, y, T, train_fn))
''',
    "sensitivity": '''
def sensitivity(model, x, threshold=1e-10):
    if threshold <= 0:
        raise ValueError(f"threshold={threshold} must be > 0")
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError("x: need at least one image")
    mode = model.training
    model.eval()
    jac = torch.func.vmap(torch.func.jacrev(lambda one: F.softmax(model(one[None]), dim=1)[0]))(x.detach())
    model.train(mode)
    per_sample = jac.abs().flatten(1).mean(1)
    return float((per_sample < threshold).sum()) / len(x)
''',
    "paired_difference_interval": '''
def paired_difference_interval(a, b, z=1.96):
    if not (torch.is_tensor(a) and a.ndim == 1):
        raise ValueError("a: expected a 1-D tensor")
    if not (torch.is_tensor(b) and b.shape == a.shape):
        raise ValueError("b: expected the shape of a")
    if z <= 0:
        raise ValueError("z: expected z > 0")
    keep = a.isfinite() & b.isfinite()
    d = (a - b)[keep].tolist()
    n = len(d)
    if n < 2:
        raise ValueError("a, b: fewer than two finite pairs")
    mean = sum(d) / n
    s = math.sqrt(sum((v - mean) ** 2 for v in d) / (n - 1))
    return (mean, mean - z * s / math.sqrt(n), mean + z * s / math.sqrt(n))
''',
    "confidence": '''
def confidence(model, x, y):
    if y.shape[0] != x.shape[0]:
        raise ValueError("y: one label per image")
    mode = model.training
    model.eval()
    with torch.no_grad():
        p = F.softmax(model(x), dim=1)
    model.train(mode)
    right = p.argmax(1) == y
    return float((p.amax(1) * right).sum() / len(y))
''',
    "small_gradient_fraction": '''
def small_gradient_fraction(model, x, y, threshold=1e-10):
    if not threshold > 0:
        raise ValueError(f"threshold={threshold} must be positive")
    if y.shape[0] != x.shape[0]:
        raise ValueError("y: one label per image")
    mode = model.training
    model.eval()
    x = x.detach().clone().requires_grad_()
    F.nll_loss(F.log_softmax(model(x), 1), y, reduction="sum").backward()
    model.zero_grad(set_to_none=True)
    model.train(mode)
    return sum(float(g.abs().mean() < threshold) for g in x.grad) / len(x)
''',
}


class TestStandardChecks(StandardChecks):
    notebook = NB
    written_otherwise = DIFFERENT
    rounds = mistake_rounds(WRONG)

"""Notebook 01's checks: the reference passes them all; stubs and realistic mistakes lose points
on the exercise they belong to, with a feedback line a student can act on."""

from tests.check_suite import StandardChecks, mistake_rounds

NB = "01_softmax_temperature"

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

# torch's own softmax; the log-softmax through logsumexp; the zeros of the entropy masked instead of xlogy; the
# Jacobian as p_i (delta_ik - p_k) through einsum
WRITTEN_OTHERWISE = {
    "softmax_with_temperature": """
def softmax_with_temperature(logits, T=1.0):
    if not T > 0:
        raise ValueError(f"the temperature must be positive, got T={T}")
    return torch.softmax(logits / T, dim=-1)
""",
    "log_softmax_with_temperature": """
def log_softmax_with_temperature(logits, T=1.0):
    if T <= 0:
        raise ValueError("T must be > 0")
    z = logits / T
    return z - torch.logsumexp(z, dim=-1, keepdim=True)
""",
    "entropy": """
def entropy(probs):
    safe = torch.where(probs > 0, probs, torch.ones_like(probs))
    return -(probs * safe.log()).sum(dim=-1)
""",
    "softmax_jacobian": """
def softmax_jacobian(logits, T=1.0):
    p = softmax_with_temperature(logits, T)
    eye = torch.eye(p.shape[-1], dtype=p.dtype, device=p.device)
    return torch.einsum("...i,...ik->...ik", p, eye - p.unsqueeze(-2)) / T
""",
}


class TestStandardChecks(StandardChecks):
    notebook = NB
    written_otherwise = WRITTEN_OTHERWISE
    rounds = mistake_rounds(WRONG)

"""The probe and the judge of ``distill_chain`` (notebook 05).

distill_chain(make_models, x, y, T, train_fn) is judged by what it does with what
it is given, as in notebook 03: each constructor of make_models builds its case
model, and train_fn records instead of training (training_record).
"""
from __future__ import annotations

from ddcourse.checking.cases import Case
from ddcourse.checking.judges import Verdict
from ddcourse.checking.probes import to_device
from ddcourse.checking.training_record import TrainingRecorder, judge_training_record, training_call_problem


def probe_distill_chain(fn, case: Case, device) -> dict:
    """Call fn(make_models, x, y, T, train_fn) with recording stand-ins; return the record as plain data.

    case.args: [stand-ins (cases.stand_in) for make_models, x, y, T, and train_fn];
    case.options["models"]: model_arg data, one per constructor of make_models.
    """
    specs = case.options["models"]
    x, y, T = to_device(case.args[1:4], device)
    recorder = TrainingRecorder(specs, x, device)
    output = fn([recorder.constructor(i) for i in range(len(specs))], x, y, T, recorder.train_fn)
    return recorder.record(output, returned_as=recorder.constructor_of)


def _call_problem(link: int, expected: dict, got: dict) -> str | None:
    """What is wrong with the train_fn call of link ``link`` (0 = the first, trained on y), or None."""
    name = "the first model" if link == 0 else f"model {link + 1} of the chain"
    wanted = ("the hard labels y (int64 class indices [B])" if link == 0
              else f"the soft labels of model {link} (probability rows [B, K], at T, in eval mode)")
    if got["constructor"] != expected["constructor"]:
        if got["constructor"] is None:
            return (f"train_fn was given a model that no constructor of make_models returned (a copy?) to train "
                    f"{name}: each link is a fresh make_models[i]()")
        return (f"call {link + 1} of train_fn trained a model of constructor make_models[{got['constructor']}]; "
                f"expected make_models[{expected['constructor']}]: train the links in order, one fresh model each")
    if link > 0 and got["starts_from_trained_model"] is not None:
        return (f"{name} starts from the weights of an already trained link: each link starts from a fresh "
                f"initialisation and learns from the soft labels of the one before")
    return training_call_problem(
        name, wanted, expected, got, same_t="every link is", detach="autograd graph: compute them under torch.no_grad()",
        soft_hint=("take them from the model just trained (not the first one, not an untrained one), after train_fn, "
                   "in eval mode, at T") if link > 0 else None)


def judge_distill_chain(case: Case, expected: dict, got: dict, mistakes: dict | None = None) -> Verdict:
    """One fresh model per constructor, trained in order: the first on y at T, each later one on the soft
    labels of the one before at T; all returned in order, in eval mode."""
    n = expected["made"]
    return judge_training_record(
        expected, got, call_problem=_call_problem,
        made_wrong=lambda made: f"the constructors of make_models made {made} model(s); a chain of {n} links "
                                f"makes exactly {n}: call each constructor once",
        calls_wrong=lambda calls: f"train_fn was called {calls} time(s); expected {n}: once per link",
        returned_wrong=lambda got: f"expected a list of the {n} trained models in chain order; got "
                                   f"{got['output_info'].get('type')} holding "
                                   + ", ".join(f"the model of make_models[{i}]" if i is not None else "something else"
                                               for i in got["returned"]),
        returned_training=lambda i: "a model was returned in train mode: return every link in eval mode "
                                    "(model.eval())")


def probe_chain_of_length(fn, case: Case, device) -> dict:
    """Call fn(make_model, steps, x, y, T, train_fn) with one recording constructor: its k-th call builds
    case.options["models"][k] (the last one again past the end); return the record as plain data.

    case.args: [stand-ins (cases.stand_in) for make_model, steps, x, y, T, and train_fn].
    """
    specs = case.options["models"]
    steps, x, y, T = to_device(case.args[1:5], device)
    recorder = TrainingRecorder(specs, x, device)

    def make_model():
        return recorder.constructor(min(len(recorder.made), len(specs) - 1))()
    output = fn(make_model, steps, x, y, T, recorder.train_fn)
    return recorder.record(output, returned_as=recorder.index)


def judge_chain_of_length(case: Case, expected: dict, got: dict, mistakes: dict | None = None) -> Verdict:
    """As distill_chain's judge, the k-th model made standing for the k-th constructor, with a hint for the
    off-by-one chain (steps models instead of steps + 1)."""
    verdict = judge_distill_chain(case, expected, got, mistakes)
    if not verdict.passed and "error" not in got and got["made"] == expected["made"] - 1:
        verdict.message += ("\nhint: a chain of `steps` distillation steps after the teacher holds steps + 1 "
                            "models (Mandal & Guo: \"six models were trained sequentially after the teacher\")")
    return verdict

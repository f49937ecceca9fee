"""One name per notebook: every part of notebook NN_<stem> is found from that name, and the checks name their
probes and judges by the functions themselves."""
from pathlib import Path

import pytest
import torch

from autograder.checks import NOTEBOOKS, _discover
from ddcourse.checking import cases, judges, probes
from ddcourse.checking.cases import Case, registry_key
from ddcourse.checking.registry import resolve

ROOT = Path(__file__).resolve().parents[1]
# ddcourse/checking modules that serve every notebook; any other module there belongs to one notebook
GENERIC = {"__init__", "cases", "judges", "probes", "public", "registry", "training_record", "worker", "isolation"}


def test_every_notebook_has_its_parts_under_its_own_name():
    for notebook in NOTEBOOKS:
        stem = notebook[3:]
        for part in (f"solutions/{notebook}.ipynb", f"course/{notebook}.ipynb", f"autograder/checks/{stem}.py",
                     f"ddcourse/check_data/{notebook}.pt", f"tests/test_checks_{stem}.py"):
            assert (ROOT / part).is_file(), f"{notebook}: {part} is missing"


def test_notebook_specific_probe_modules_are_named_after_their_notebook():
    stems = {notebook[3:] for notebook in NOTEBOOKS}
    for path in (ROOT / "ddcourse" / "checking").glob("*.py"):
        assert path.stem in GENERIC or path.stem in stems, f"ddcourse/checking/{path.name} names no notebook"


def test_notebooks_are_discovered_in_notebook_order(tmp_path, monkeypatch):
    assert list(NOTEBOOKS) == sorted(NOTEBOOKS)
    for name in ("02_knowledge_distillation", "01_softmax_temperature"):
        (tmp_path / f"{name}.ipynb").write_text("{}")
    monkeypatch.setenv("DDCOURSE_SOLUTIONS", str(tmp_path))
    assert list(_discover()) == ["01_softmax_temperature", "02_knowledge_distillation"]
    (tmp_path / "notes.ipynb").write_text("{}")
    with pytest.raises(ValueError, match="NN_<stem>"):
        _discover()


def test_every_case_names_a_probe_and_a_judge_that_resolve_to_themselves():
    for notebook, module in NOTEBOOKS.items():
        for case in module.public_cases() + module.hidden_cases(torch.Generator().manual_seed(0)):
            for key in (case.probe, case.judge):
                assert isinstance(key, str) and registry_key(resolve(key)) == key, (notebook, case.name, key)


def test_a_case_keeps_the_key_of_the_function_it_was_given():
    case = Case("entropy", "a case", probe=probes.probe_call, judge=judges.judge_raises)
    assert (case.probe, case.judge) == ("probes.probe_call", "judges.judge_raises") == (cases.CALL_PROBE,
                                                                                       cases.RAISES_JUDGE)
    assert case.expects_error and Case.from_dict(case.to_dict()) == case
    assert resolve(cases.CLOSE_JUDGE) is judges.judge_close


@pytest.mark.parametrize("key", ["probes.to_device", "os.system", "judges", "missing.probe_x", "probes.probe_missing",
                                 "registry.resolve"])
def test_only_probes_and_judges_of_the_checking_package_resolve(key):
    with pytest.raises(ValueError, match="no probe or judge"):
        resolve(key)

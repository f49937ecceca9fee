"""The recorded runs in results/ are complete and current, and every number the prose cites agrees with them."""
import json
from pathlib import Path

import nbformat
import pytest

from autograder.checks import NOTEBOOKS
from autograder.reference import solution_path
from benchmarks import results
from benchmarks.notebooks import errors
from ddcourse.results import RECORD_DIR_ENV, Recorder, measurements_file

ROOT = Path(__file__).resolve().parents[1]
CITING_FILES = [ROOT / "README.md", *sorted((ROOT / "solutions").glob("*.ipynb")),
                *sorted((ROOT / "course").glob("*.ipynb"))]
RUN_FIELDS = {"notebook", "profile", "machine", "recorded", "seconds", "load_average", "measurements"}


def prose(path: Path) -> str:
    if path.suffix != ".ipynb":
        return path.read_text()
    return "\n".join(c.source for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "markdown")


def code_sources(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("notebook", list(NOTEBOOKS))
def test_every_notebook_has_a_current_recorded_run_with_its_outputs(notebook):
    run_path, executed_path = results.run_file(notebook), results.executed_file(notebook)
    assert run_path.exists(), f"no recorded run: python -m benchmarks notebooks {notebook[:2]} --record"
    run = json.loads(run_path.read_text())
    assert RUN_FIELDS <= run.keys() and run["notebook"] == notebook
    assert run["profile"]["name"] == results.CITED_PROFILE and run["machine"]["cpu_cores"] >= 1
    executed = nbformat.read(str(executed_path), as_version=4)
    solved = nbformat.read(str(solution_path(notebook)), as_version=4)
    assert code_sources(executed) == code_sources(solved), \
        f"{executed_path.name} was recorded from older code: record {notebook[:2]} again"
    assert [c.source for c in executed.cells if c.cell_type == "markdown"] == \
        [c.source for c in solved.cells if c.cell_type == "markdown"], \
        f"{executed_path.name} carries older prose: record {notebook[:2]} again (or run its cite step)"
    assert not errors(executed)
    assert any(c.get("outputs") for c in executed.cells if c.cell_type == "code"), "the executed notebook kept no outputs"


def test_each_recorded_number_has_its_sample_size_or_none():
    for notebook, run in results.recorded_runs().items():
        for key, entry in run["measurements"].items():
            assert {"value", "text", "n"} == entry.keys(), (notebook, key)
            assert entry["n"] is None or entry["n"] >= 0, (notebook, key)


@pytest.mark.parametrize("path", CITING_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_cited_number_is_the_recorded_one(path):
    runs = results.recorded_runs()
    for number, key, text in results.citations(prose(path)):
        assert text == results.recorded_text(runs, number, key), \
            f"{path.name} cites {number}/{key} as {text!r}; run `python -m benchmarks notebooks {number} --record`"


RUNS = {"06_breaking_the_defense": {"measurements": {"fgsm.undistilled": {"value": 0.889, "text": "88.9%", "n": 99}}}}


def test_render_rewrites_stale_citations_and_names_missing_ones():
    stale = 'FGSM fooled <span data-result="06/fgsm.undistilled">85.0%</span> of them.'
    assert results.render(stale, RUNS) == 'FGSM fooled <span data-result="06/fgsm.undistilled">88.9%</span> of them.'
    assert results.render(stale, RUNS, only={"03"}) == stale
    timed = {"06_breaking_the_defense": {"seconds": 1501, "load_average": {"start": 8.6, "end": 6.5},
                                         "recorded": "2026-12-03", "measurements": {}}}
    assert results.render('<span data-result="06/run.seconds">509</span> s at load '
                          '<span data-result="06/run.load">1.7-1.8</span>', timed) == \
        '<span data-result="06/run.seconds">1,501</span> s at load <span data-result="06/run.load">8.6-6.5</span>'
    with pytest.raises(KeyError, match="no measurement 'pgd'"):
        results.render('<span data-result="06/pgd">1%</span>', RUNS)
    with pytest.raises(KeyError, match="notebook 05 has no recorded run"):
        results.render('<span data-result="05/x">1</span>', RUNS)


def test_recorder_writes_only_in_a_recorded_run(tmp_path, monkeypatch):
    record = Recorder("06_breaking_the_defense")
    monkeypatch.delenv(RECORD_DIR_ENV, raising=False)
    assert record("fgsm.undistilled", 0.889, ".1%", n=99) == 0.889
    assert not any(tmp_path.iterdir())
    monkeypatch.setenv(RECORD_DIR_ENV, str(tmp_path))
    record("fgsm.undistilled", 0.889, ".1%", n=99)
    record("cw.mean", 1.4951, ".2f")
    written = json.loads(measurements_file(tmp_path, "06_breaking_the_defense").read_text())
    assert written == {"fgsm.undistilled": {"value": 0.889, "text": "88.9%", "n": 99},
                       "cw.mean": {"value": 1.4951, "text": "1.50", "n": None}}


@pytest.mark.parametrize("call, named", [
    (("Bad Key", 1.0, ".2f"), "key"),
    (("k", "0.5", ".2f"), "must be a number"),
    (("k", float("nan"), ".2f"), "NaN"),
    (("k", 1.0, "?!"), "spec"),
])
def test_recorder_rejects_bad_arguments_by_name(call, named):
    with pytest.raises(ValueError, match=named):
        Recorder("06_breaking_the_defense")(*call)
    with pytest.raises(ValueError, match="sample size"):
        Recorder("06_breaking_the_defense")("k", 1.0, ".2f", n=-1)
    with pytest.raises(ValueError, match="notebook"):
        Recorder("breaking")

"""The recorded runs kept in results/: reading them, and the prose that cites them.

``results/<profile>/<notebook>.json`` holds one recorded run of a solved
notebook: what its results cells recorded (ddcourse.results.Recorder) and how
it was run (profile, machine, load, time). ``results/<profile>/<notebook>.ipynb``
is the executed notebook with its outputs. Prose in the solved notebooks and
the README cites a recorded number as ``<span data-result="NN/key">text</span>``;
``render`` rewrites each such text from the record and ``citations`` lists
them for the test that checks they agree.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import re
from dataclasses import asdict
from pathlib import Path

import torch

from ddcourse.profiles import get_profile

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "results"
CITED_PROFILE = "quick"          # the profile whose numbers the prose quotes
SPAN = re.compile(r'<span data-result="(?P<number>\d\d)/(?P<key>[^"]+)">(?P<text>.*?)</span>')


def run_file(notebook: str, profile: str = CITED_PROFILE) -> Path:
    return RESULTS_DIR / profile / f"{notebook}.json"


def executed_file(notebook: str, profile: str = CITED_PROFILE) -> Path:
    return RESULTS_DIR / profile / f"{notebook}.ipynb"


def recorded_runs(profile: str = CITED_PROFILE) -> dict[str, dict]:
    """{notebook: its recorded run} for every run file of ``profile``."""
    folder = RESULTS_DIR / profile
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}


def machine() -> dict:
    """What the run ran on, in the words a reader needs to compare it with their own."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu_cores": os.cpu_count(), "processor": platform.processor() or platform.machine(),
            "system": platform.platform(), "gpu": gpu, "python": platform.python_version(),
            "torch": torch.__version__}


def write_run(notebook: str, profile: str, measurements: dict, seconds: float, load: tuple[float, float]) -> Path:
    """Write the run file of ``notebook`` (replacing an earlier run of the same profile)."""
    path = run_file(notebook, profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    run = {"notebook": notebook, "profile": asdict(get_profile(profile)), "machine": machine(),
           "recorded": datetime.date.today().isoformat(), "seconds": round(seconds),
           "load_average": {"start": round(load[0], 1), "end": round(load[1], 1)},
           "measurements": measurements}
    path.write_text(json.dumps(run, indent=1, sort_keys=True) + "\n")
    return path


def _by_number(runs: dict[str, dict]) -> dict[str, dict]:
    return {name[:2]: run for name, run in runs.items()}


# How the run itself went, citable like a measurement: <span data-result="03/run.seconds">
RUN_FACTS = {"run.seconds": lambda run: f"{run['seconds']:,}",
             "run.load": lambda run: f"{run['load_average']['start']}-{run['load_average']['end']}",
             "run.date": lambda run: run["recorded"]}


def recorded_text(runs: dict[str, dict], number: str, key: str) -> str:
    """The recorded text of ``number/key`` (a measurement, or one of RUN_FACTS); KeyError naming what is missing."""
    run = _by_number(runs).get(number)
    if run is None:
        raise KeyError(f"notebook {number} has no recorded run in results/{CITED_PROFILE}/")
    if key in RUN_FACTS:
        return RUN_FACTS[key](run)
    if key not in run["measurements"]:
        raise KeyError(f"the recorded run of notebook {number} has no measurement {key!r}")
    return run["measurements"][key]["text"]


def citations(text: str) -> list[tuple[str, str, str]]:
    """(notebook number, key, cited text) of every span in ``text``."""
    return [(m["number"], m["key"], m["text"]) for m in SPAN.finditer(text)]


def render(text: str, runs: dict[str, dict], only: set[str] | None = None) -> str:
    """``text`` with each cited number rewritten from the record (only notebooks numbered in ``only``, if given)."""
    def replace(match: re.Match) -> str:
        if only is not None and match["number"] not in only:
            return match[0]
        return match[0].replace(f'>{match["text"]}</span>',
                                f'>{recorded_text(runs, match["number"], match["key"])}</span>')
    return SPAN.sub(replace, text)

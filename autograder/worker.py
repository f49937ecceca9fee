"""The process that runs a submission's code: ``python -m autograder.worker REQUEST OUT_DIR``.

It loads the setup and exercise cells, runs every case of every job through
its probe, and writes one result file per exercise into OUT_DIR (an
"<exercise>.started" marker first, so the parent knows which exercise a
crash or a hang belongs to). Everything crosses the process boundary as
torch.save data, read back with weights_only=True.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from ddcourse.loader import CellTimeout, load_cells, time_limit
from ddcourse.checking.cases import Case
from ddcourse.checking.probes import error_observation, run_probe


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _forbid_escapes(protected: list[str], writable: str) -> None:
    """An audit hook (irremovable) that keeps submitted code from reading the solutions,
    writing outside the worker's folder, starting processes or opening sockets."""
    protected = [os.path.realpath(p) for p in protected]
    writable = os.path.realpath(writable)

    def hook(event, args):
        if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.path.realpath(os.fsdecode(args[0]))
            if any(path == p or path.startswith(p + os.sep) for p in protected):
                raise PermissionError(f"submitted code may not read {path}")
            mode, flags = args[1], args[2] if len(args) > 2 else 0
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(flags & _WRITE_FLAGS)
            if writes and not path.startswith(writable + os.sep):
                raise PermissionError(f"submitted code may not write {path}")
        elif event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.fork", "socket.connect"):
            raise PermissionError(f"submitted code may not use {event}")

    sys.addaudithook(hook)


def main(request_path: str, out_dir: str) -> None:
    request = torch.load(request_path, weights_only=True)
    out = Path(out_dir)
    torch.set_num_threads(request["threads"])
    _forbid_escapes(request["protected"], str(out.parent))
    device = torch.device(request["device"])
    namespace, load_errors = load_cells(request["setup"], request["cells"], request["cell_timeout"])
    for job in request["jobs"]:
        exercise = job["exercise"]
        (out / f"{exercise}.started").touch()
        observations = []
        if exercise not in load_errors:
            fn = namespace[exercise]
            for case_data in job["cases"]:
                case = Case.from_dict(case_data)
                try:
                    with time_limit(request["case_timeout"], f"case {case.name!r}"):
                        observations.append(run_probe(fn, case, device))
                except CellTimeout as err:
                    observations.append(error_observation(err))
        torch.save({"load_error": load_errors.get(exercise), "observations": observations},
                   out / f"{exercise}.pt")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

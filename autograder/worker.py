"""The process that runs one exercise of a submission: ``python worker.py RESULT_FD``, the request on stdin.

It loads the setup and exercise cells, runs every case of its one exercise
through the probe, and writes the observations, normalised to plain data,
to the pipe RESULT_FD in one piece. It imports only ddcourse, so that it can
run in a sandbox that shows none of the autograder package.
"""
from __future__ import annotations

import io
import os
import sys

import torch

from ddcourse.loader import CellTimeout, load_cells, time_limit
from ddcourse.checking.cases import Case
from ddcourse.checking.probes import error_observation, plain, run_probe


def main(result_fd: int) -> None:
    request = torch.load(io.BytesIO(sys.stdin.buffer.read()), weights_only=True)
    result = os.fdopen(result_fd, "wb")
    torch.set_num_threads(request["threads"])
    device = torch.device(request["device"])
    exercise = request["exercise"]
    namespace, load_errors = load_cells(request["setup"], request["cells"], request["cell_timeout"])
    observations = []
    if exercise not in load_errors:
        fn = namespace[exercise]
        for case_data in request["cases"]:
            case = Case.from_dict(case_data)
            try:
                with time_limit(request["case_timeout"], f"case {case.name!r}"):
                    observations.append(run_probe(fn, case, device))
            except CellTimeout as err:
                observations.append(error_observation(err))
    buffer = io.BytesIO()
    torch.save(plain({"load_error": load_errors.get(exercise), "observations": observations}), buffer)
    result.write(buffer.getvalue())
    result.close()
    os._exit(0)  # no atexit handler or lingering thread of the submission runs after the result is sent


if __name__ == "__main__":
    main(int(sys.argv[1]))

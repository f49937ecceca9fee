"""Shared settings: the smoke profile, and a fresh model/reference cache per test session."""
import os

import pytest

os.environ["DDCOURSE_PROFILE"] = "smoke"
# Read by OpenMP when torch is first imported (here and in the notebook kernels the tests start): spinning threads
# make small tensor operations some 100 times slower on a machine with more busy threads than cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory, worker_id):
    """A model and reference cache of this test run's own, shared by pytest-xdist's worker processes
    (cache files are written atomically under per-process names), so that each model is trained once."""
    root = tmp_path_factory.getbasetemp()
    shared = (root.parent if worker_id != "master" else root) / "ddcourse-cache"
    shared.mkdir(exist_ok=True)
    os.environ["DDCOURSE_CACHE"] = str(shared)
    yield

"""Shared settings: the smoke profile, and a fresh model/reference cache per test session."""
import os

import pytest

os.environ["DDCOURSE_PROFILE"] = "smoke"


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    os.environ["DDCOURSE_CACHE"] = str(tmp_path_factory.mktemp("ddcourse-cache"))
    yield

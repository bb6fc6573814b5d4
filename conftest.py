"""Repository-wide pytest hooks."""

import os
import shutil

import pytest
from hypothesis import settings

# Property tests draw the same examples in every run, on every machine (derandomized, no example
# database): a suite that passes once passes again. A counterexample a randomized run once found is
# kept as a test of its own (tests/test_figures_text.py).
settings.register_profile("course", derandomize=True, database=None)
settings.load_profile("course")

# notebook -> (server binary, the variable naming an external server, how to install the binary)
LAB_NOTEBOOKS = {
    "07-lab-redis-streams.ipynb": ("redis-server", "COURSE_REDIS_URL",
                                   "apt-get install redis-server, or conda install -c conda-forge redis-server"),
    "08-lab-nats-jetstream.ipynb": ("nats-server", "COURSE_NATS_URL",
                                    "apt-get install nats-server, or conda install -c conda-forge nats-server"),
}


def pytest_collection_modifyitems(config, items):
    """nbval compares a broker lab's stored outputs only where the lab starts its own private
    server: without one the notebook prints its skip message instead (and still runs to the end),
    and against a server of the developer's own (COURSE_REDIS_URL, COURSE_NATS_URL) other keys or
    streams may be there."""
    for notebook, (binary, url_env, install) in LAB_NOTEBOOKS.items():
        if shutil.which(binary) and not os.environ.get(url_env):
            continue
        reason = f"no private {binary} for the lab's stored outputs: {install} (and unset {url_env})"
        for item in items:
            if notebook in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason=reason))

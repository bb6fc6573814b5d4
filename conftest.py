"""Repository-wide pytest hooks."""

import os
import shutil

import pytest

REDIS_NOTEBOOK = "06-lab-redis-streams.ipynb"


def pytest_collection_modifyitems(config, items):
    """nbval compares the Redis lab's stored outputs only where the lab starts its own private
    redis-server: without one the notebook prints its skip message instead (and still runs to the
    end), and against a server of the developer's own (COURSE_REDIS_URL) other keys may be there."""
    if shutil.which("redis-server") and not os.environ.get("COURSE_REDIS_URL"):
        return
    reason = ("no private redis-server for the Redis lab's stored outputs: apt-get install redis-server, "
              "or conda install -c conda-forge redis-server (and unset COURSE_REDIS_URL)")
    for item in items:
        if REDIS_NOTEBOOK in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=reason))

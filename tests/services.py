"""Real services for tests: found, or skipped locally with the reason, or failed under CI=true.

A test skipped in CI is a test that does not exist, so under CI a missing service fails the test.
"""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(what: str, why: str) -> None:
    message = f"{what} is not available: {why}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a missing service is a failure)", pytrace=False)
    pytest.skip(message)

"""Entry point for Bazel's py_test targets: run pytest on the files given as arguments.

Every test file gets a target per Keras line; the markers (tests/conftest.py) pick the tests that run on the
target's line, so a file with none there collects nothing: pytest's exit 5 ("no tests ran") is a pass here.
"""

import sys

import pytest

if __name__ == "__main__":
    code = pytest.main(["-p", "no:cacheprovider", *sys.argv[1:]])
    sys.exit(0 if code == pytest.ExitCode.NO_TESTS_COLLECTED else code)

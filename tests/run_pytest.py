"""Entry point for Bazel's py_test targets: run pytest on the files given as arguments."""

import sys

import pytest

if __name__ == "__main__":
    sys.exit(pytest.main(["-p", "no:cacheprovider", *sys.argv[1:]]))

"""Test selection and shared fixtures. Helpers live in ``tests/helpers.py`` (imported by name).

Which Keras line a test runs on is said once, by a marker, and read here by pytest (so by ``.ci/run``,
the README's commands and Bazel's ``py_test`` targets alike):

* no marker: the Keras 3 line only. Line-independent tests (pure-Python validation, data, benchmarks'
  arithmetic, export's error paths) run once, there.
* ``@pytest.mark.both_lines``: also on the tf_keras line (``TF_USE_LEGACY_KERAS=1``): what can differ there,
  i.e. the layers built, the SavedModel branch, custom layers' serialization.
* ``@pytest.mark.tf_keras_line``: the tf_keras line only (TF-MOT, the training harness).

The markers are read from a module's source before it is imported, so a module none of whose tests runs on
this line is never imported (``import train_tpu`` refuses Keras 3, for one).

Tiers: ``python -m pytest`` runs the CI tier. ``--exhaustive`` adds the tests marked ``exhaustive``
(every variant through every path); ``-m exhaustive --exhaustive`` runs those alone. ``slow`` tests are
scheduled first so ``-n 2`` does not end on a long tail; ``-m "not slow"`` is the quick inner loop.
"""

import ast
import fcntl
import os

import pytest

from keras_mobile import backend

LINE = "tf_keras" if backend.IS_LEGACY_KERAS else "keras3"
LINE_MARKERS = {"both_lines": {"keras3", "tf_keras"}, "tf_keras_line": {"tf_keras"}}


def pytest_addoption(parser):
    parser.addoption("--exhaustive", action="store_true", default=False,
                     help="also run the exhaustive tier (tests marked 'exhaustive': every variant through every path)")


def _lines(marker_names):
    """The Keras lines a test with these marker names (closest first) runs on."""
    for name in marker_names:
        if name in LINE_MARKERS:
            return LINE_MARKERS[name]
    return {"keras3"}


def _marker_names(node):
    """Marker names in a ``pytestmark = pytest.mark.x`` / ``[pytest.mark.x(...), ...]`` expression."""
    names = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Attribute) and sub.value.attr == "mark":
            names.append(sub.attr)
    return names


def _possible_lines(path):
    """Every Keras line some test in the module at ``path`` may run on, read from its source (no import)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    module_lines = {"keras3"}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and any(getattr(t, "id", None) == "pytestmark" for t in statement.targets):
            module_lines = _lines(_marker_names(statement.value))
    marked = [name for name in _marker_names(tree) if name in LINE_MARKERS]  # on any test, param or the module
    return module_lines.union(*(LINE_MARKERS[name] for name in marked))


def pytest_ignore_collect(collection_path, config):
    """Skip, without importing it, a test module none of whose tests runs on this Keras line."""
    if collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        if LINE not in _possible_lines(collection_path):
            return True
    return None


def pytest_collection_modifyitems(config, items):
    exhaustive = config.getoption("--exhaustive")
    selected, deselected = [], []
    for item in items:
        names = [mark.name for mark in item.iter_markers()]
        if LINE not in _lines(names) or ("exhaustive" in names and not exhaustive):
            deselected.append(item)
        else:
            selected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    # Longest first (stable, so every xdist worker collects the same order).
    selected.sort(key=lambda item: item.get_closest_marker("slow") is None)
    items[:] = selected


# --------------------------------------------------------------------------- shared fixtures
TEST_SEED = int(os.environ.get("KERAS_MOBILE_TEST_SEED", "0"))  # tools/flake_check.py's numerics pass varies it


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state (Python, NumPy and the backend's, ``TEST_SEED``): one that
    draws without a seed of its own is reproducible on this machine, and the flake check can vary it."""
    backend.keras.utils.set_random_seed(TEST_SEED)


@pytest.fixture(scope="session")
def default_data_dir(tmp_path_factory):
    """The embedded default dataset, prepared once and shared by every xdist worker.

    ``KERAS_MOBILE_TEST_DATA`` (set by ``.ci/run``) shares it between the two Keras lines' runs too.
    """
    import tfds_configs

    directory = os.environ.get("KERAS_MOBILE_TEST_DATA") or str(tmp_path_factory.getbasetemp().parent / "default_data")
    os.makedirs(directory, exist_ok=True)
    with open(directory.rstrip("/") + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one worker prepares; the others wait, then reuse it
        try:
            tfds_configs.load("default", data_dir=directory)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return directory

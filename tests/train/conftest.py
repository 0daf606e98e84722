"""tests/train: the training harness runs on tf_keras only.

CI runs the suite twice: `python -m pytest -n 2` (Keras 3 line: the root conftest has already
imported keras_mobile on Keras 3, so `import train_tpu` must refuse) and
`TF_USE_LEGACY_KERAS=1 python -m pytest -n 2 --ignore=tests/data` (tf_keras line). On the Keras 3
line only `test_keras3_line.py` is collected (it checks the refusal message in a subprocess); on
the tf_keras line everything else is.
"""

import importlib.util
import os
import pathlib

import pytest

# pytest imports this file as module ``conftest`` too; re-export tests/conftest.py's helpers so that a
# test module's ``from conftest import ...`` works whichever conftest pytest loaded last.
_spec = importlib.util.spec_from_file_location("keras_mobile_tests_root_conftest", pathlib.Path(__file__).resolve().parents[1] / "conftest.py")
_root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_root)
globals().update({key: value for key, value in vars(_root).items() if not key.startswith("__")})

LEGACY = os.environ.get("TF_USE_LEGACY_KERAS", "") in ("1", "true", "True")
_HERE = os.path.dirname(os.path.abspath(__file__))
_TESTS = sorted(f for f in os.listdir(_HERE) if f.startswith("test_") and f.endswith(".py"))

if LEGACY:
    collect_ignore = ["test_keras3_line.py"]
else:
    collect_ignore = [f for f in _TESTS if f != "test_keras3_line.py"]

@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """The default dataset, prepared once per pytest worker (about 10 s)."""
    if not LEGACY:
        pytest.skip("tf_keras line only")
    import tfds_configs

    directory = tmp_path_factory.mktemp("tfds")
    tfds_configs.load("default", data_dir=str(directory))
    return str(directory)

"""tests/compression runs on the tf_keras line (TF-MOT); only the Keras-3 error test runs on Keras 3.

CI runs ``python -m pytest`` (Keras 3) and then ``TF_USE_LEGACY_KERAS=1 python -m pytest``.
On the Keras 3 line TF-MOT must not even be imported (it sets TF_USE_LEGACY_KERAS
as a side effect), so those files are not collected there.

pytest imports this file as module ``conftest`` too, and test modules do
``from conftest import ...``; so it re-exports every helper of ``tests/conftest.py``.
"""

import importlib.util
import pathlib

_spec = importlib.util.spec_from_file_location(
    "keras_mobile_tests_shared_conftest", pathlib.Path(__file__).resolve().parents[1] / "conftest.py"
)
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)
globals().update({key: value for key, value in vars(_shared).items() if not key.startswith("__")})

from keras_mobile import backend  # noqa: E402

if backend.IS_LEGACY_KERAS:
    collect_ignore_glob = []
else:
    collect_ignore_glob = ["test_qat.py", "test_pruning.py", "test_ptq.py"]

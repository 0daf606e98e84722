"""Keras 3 on JAX: every family builds, runs and trains one step; no TensorFlow needed.

Keras fixes its backend at import, so these run in fresh subprocesses.
"""

import json
import os
import subprocess
import sys

import pytest

from conftest import LEGACY, one_per_family

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.skipif(LEGACY, reason="Keras 3 backends; the tf_keras run does not use them")

_BLOCK_TENSORFLOW = """
import sys
class _NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow.") or name == "tf_keras":
            raise ImportError("TensorFlow is not installed (blocked by the test)")
sys.meta_path.insert(0, _NoTensorFlow())
"""

_TRAIN_ONE_STEP = """
import json, numpy as np, keras, keras_mobile
from keras_mobile.registry import model_info
results = {}
for name in NAMES:
    r = model_info(name).min_resolution
    model = keras_mobile.create_model(name, input_shape=(r, r, 3), classes=4)
    x = np.random.default_rng(0).uniform(0, 255, (2, r, r, 3)).astype("float32")
    y = np.array([1, 3])
    out = np.asarray(model(x, training=False))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    before = [np.array(w) for w in model.trainable_weights]
    loss = float(model.train_on_batch(x, y))
    changed = any(not np.array_equal(a, np.array(b)) for a, b in zip(before, model.trainable_weights))
    results[name] = {"loss": loss, "changed": changed, "shape": list(out.shape), "sum": out.sum(axis=1).tolist()}
print("RESULT" + json.dumps({"backend": keras.backend.backend(), "results": results}))
"""


def _run(script):
    # Unoptimised XLA code compiles ~2x faster, and these graphs run once.
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "PYTHONPATH": ROOT,
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": "--xla_backend_optimization_level=0",
    }
    env.pop("TF_USE_LEGACY_KERAS", None)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(l for l in done.stdout.splitlines() if l.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


@pytest.mark.slow
@pytest.mark.parametrize("name", one_per_family())
def test_family_runs_and_trains_one_step_on_jax_without_tensorflow(name):
    script = _BLOCK_TENSORFLOW + f"NAMES = [{name!r}]\n" + _TRAIN_ONE_STEP
    report = _run(script + "\nassert 'tensorflow' not in sys.modules and 'tf_keras' not in sys.modules\n")
    assert report["backend"] == "jax"
    result = report["results"][name]
    assert result["shape"] == [2, 4]
    assert result["sum"] == pytest.approx([1.0, 1.0], rel=1e-5)
    assert result["changed"], "one SGD step left the weights unchanged"
    assert result["loss"] > 0

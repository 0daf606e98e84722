"""On the Keras 3 line: importing train_tpu after keras_mobile loaded Keras 3 stops with a clear message."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run_without_legacy_switch(code):
    """``python -c code`` from the repo root with TF_USE_LEGACY_KERAS unset."""
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env["PYTHONPATH"] = os.pathsep.join([REPO, env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=180)


def test_train_tpu_refuses_keras3_keras_mobile():
    result = _run_without_legacy_switch("import keras_mobile\nimport train_tpu\n")
    assert result.returncode != 0
    assert "RuntimeError" in result.stderr
    assert "TF_USE_LEGACY_KERAS=1 python" in result.stderr and "python -m train_tpu" in result.stderr


def test_train_tpu_first_selects_tf_keras():
    result = _run_without_legacy_switch("import train_tpu, keras_mobile\nprint(keras_mobile.keras_line())\n")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "tf_keras"

"""On the Keras 3 line: importing train_tpu after keras_mobile loaded Keras 3 stops with a clear message; before
that (``import keras_mobile`` alone loads no Keras), train_tpu selects tf_keras."""

import pytest

from helpers import python_env, run_python


def _run_without_legacy_switch(code):
    """``python -c code`` from the repo root with TF_USE_LEGACY_KERAS unset (an import: ~15 s; 120 s is a hang)."""
    return run_python(["-c", code], timeout=120, env=python_env(legacy=False), check=False)


def test_train_tpu_refuses_keras3_keras_mobile():
    # keras_line() loads keras_mobile.backend, which picks Keras 3 (TF_USE_LEGACY_KERAS unset).
    result = _run_without_legacy_switch("import keras_mobile\nkeras_mobile.keras_line()\nimport train_tpu\n")
    assert result.returncode != 0
    assert "RuntimeError" in result.stderr
    assert "TF_USE_LEGACY_KERAS=1 python" in result.stderr and "python -m train_tpu" in result.stderr


@pytest.mark.parametrize("imports", ["train_tpu, keras_mobile", "keras_mobile, train_tpu"])
def test_train_tpu_first_selects_tf_keras(imports):
    result = _run_without_legacy_switch(f"import {imports}\nprint(keras_mobile.keras_line())\n")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "tf_keras"

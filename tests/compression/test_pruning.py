"""Magnitude and 2:4 pruning (every prunable layer, depthwise included), strip, reports, PQAT."""

import numpy as np
import pytest
from helpers import random_images

from keras_mobile import compression
from keras_mobile.registry import create_model

pytestmark = pytest.mark.tf_keras_line  # TF-MOT needs tf_keras

STOCK = {"InputLayer", "Rescaling", "Conv2D", "DepthwiseConv2D", "BatchNormalization", "ReLU", "Add",
         "GlobalAveragePooling2D", "Dense", "Dropout", "Activation", "ZeroPadding2D", "Multiply"}


def _fit(model, steps=3, resolution=32, callbacks=()):
    import tf_keras

    rng = np.random.default_rng(0)
    x = random_images(resolution, batch=8 * steps)
    y = rng.integers(0, 10, len(x))
    model.compile(tf_keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=list(callbacks))
    return model


def _pruned(name="mobilenetv2_035", **kwargs):
    model = create_model(name, input_shape=(32, 32, 3), classes=10)
    pruned = compression.prune_model(model, begin_step=0, end_step=2, frequency=1, **kwargs)
    _fit(pruned, callbacks=compression.pruning_callbacks())
    return compression.strip_pruning(pruned)


@pytest.mark.exhaustive  # the CI tier checks every layer's sparsity and the stripped export through the harness
@pytest.mark.slow
def test_magnitude_pruning_reaches_target_in_every_layer_and_strips():
    stripped = _pruned(target_sparsity=0.5, schedule="polynomial_decay")
    assert {type(layer).__name__ for layer in stripped.layers} <= STOCK
    assert not any(hasattr(layer, "pruning_vars") for layer in stripped.layers)
    report = compression.sparsity_report(stripped)
    types = {row["type"] for row in report}
    assert {"Conv2D", "DepthwiseConv2D", "Dense"} <= types
    for row in report:
        assert row["sparsity"] == pytest.approx(0.5, abs=0.02), row
    assert "**total**" in compression.format_sparsity_report(report)


@pytest.mark.slow
def test_two_four_sparsity_pattern():
    from tensorflow_model_optimization.python.core.sparsity.keras import pruning_utils

    stripped = _pruned("mobilenetv3_small_075", m_by_n=(2, 4))
    report = compression.sparsity_report(stripped)
    layers = {layer.name: layer for layer in stripped.layers}
    for row in report:
        kernel = getattr(layers[row["layer"]], row["weight"])
        assert pruning_utils.is_pruned_m_by_n(kernel, (2, 4)), row["layer"]
        channels = row["shape"][2] if row["type"] != "Dense" else row["shape"][0]
        if row["type"] != "DepthwiseConv2D" and channels % 4 == 0:
            assert row["sparsity"] == pytest.approx(0.5, abs=1e-6), row
    assert compression.total_sparsity(report) > 0.45


@pytest.mark.exhaustive  # the CI tier checks the same int8 zeros through the harness (test_phases.py)
@pytest.mark.slow
def test_pruning_preserving_qat_keeps_sparsity_in_int8_tflite():
    stripped = _pruned(target_sparsity=0.5, schedule="constant")
    pqat = compression.quantize_model(stripped, scheme="prune_preserve")
    _fit(pqat, steps=2)  # QAT steps would refill zeros without the prune-preserving quantizers
    content = compression.convert_qat(pqat)
    rows = compression.tflite_weight_sparsity(content)
    assert {row["type"] for row in rows} >= {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}
    # The input Rescaling became a frozen 1x1 depthwise conv in the QAT copy: 3 non-zero constants, never pruned.
    rows = [row for row in rows if "quant_preprocess/" not in row["layer"]]
    assert sum(row["type"] == "DEPTHWISE_CONV_2D" for row in rows) == 17
    for row in rows:  # depthwise too: TF-MOT's own scheme disables it, ours keeps it
        assert row["sparsity"] >= 0.49, row
    assert compression.gzip_size(content) < 0.85 * len(content)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"target_sparsity": 1.0}, r"target_sparsity=1.0 is not supported; accepted values: a number in \(0.0, 1.0\)"),
        ({"target_sparsity": 0.0}, r"target_sparsity=0.0 is not supported"),
        ({"target_sparsity": True}, r"target_sparsity=True is not supported"),
        ({"m_by_n": (4, 2)}, r"m_by_n=\(4, 2\) is not supported; accepted values: .m:n. or a pair of ints \(m, n\) with 1 <= m < n"),
        ({"m_by_n": 2}, r"m_by_n=2 is not supported"),
        ({}, r"pass exactly one of target_sparsity .* and m_by_n"),
        ({"target_sparsity": 0.5, "m_by_n": (2, 4)}, r"pass exactly one of"),
        ({"target_sparsity": 0.5, "schedule": "cubic"}, r"schedule='cubic'.*\['polynomial_decay', 'constant'\]"),
        ({"target_sparsity": 0.5, "end_step": 0}, r"end_step=0 is not supported"),
        ({"target_sparsity": 0.5, "initial_sparsity": 0.6}, r"initial_sparsity=0.6"),
        ({"target_sparsity": 0.5, "end_step": 150, "frequency": 100},
         r"end_step=150 is not supported with begin_step=0, frequency=100; accepted values: begin_step \+ k \* frequency"),
        ({"target_sparsity": 0.5, "skip_layers": ["nope"]}, r"skip_layers names layers .* \['nope'\]"),
    ],
)
def test_pruning_argument_errors(kwargs, match):
    model = create_model("mobilenetv2_035", input_shape=(32, 32, 3), classes=10)
    with pytest.raises(ValueError, match=match):
        compression.prune_model(model, **kwargs)

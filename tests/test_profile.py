"""Profiler: exact counts per layer type against hand-computed formulas, op-type table, CLI."""

import json

import numpy as np
import pytest

import keras_mobile

from helpers import keras
from keras_mobile.profile import main, profile_model

layers = keras.layers


def _single_layer(layer, input_shape):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, layer(inputs))


@pytest.mark.both_lines  # the profiler reads each line's own layer classes (the harness reports with it)
@pytest.mark.parametrize(
    "layer, input_shape, expected_macs, op_type",
    [
        # H_out * W_out * C_out * (C_in / groups) * kh * kw
        (lambda: layers.Conv2D(16, 3, padding="same", use_bias=False), (10, 10, 8), 10 * 10 * 16 * 8 * 9, "standard conv"),
        (lambda: layers.Conv2D(16, 3, strides=2, padding="valid"), (11, 11, 8), 5 * 5 * 16 * 8 * 9, "standard conv"),
        (lambda: layers.Conv2D(6, 3, dilation_rate=2, padding="valid"), (12, 12, 4), 8 * 8 * 6 * 4 * 9, "standard conv"),
        (lambda: layers.Conv2D(12, 1, groups=4), (7, 7, 8), 7 * 7 * 12 * 2, "grouped conv"),
        (lambda: layers.Conv2D(32, 1), (7, 5, 8), 7 * 5 * 32 * 8, "pointwise conv"),
        (lambda: layers.DepthwiseConv2D(5, strides=2, padding="same", depth_multiplier=2), (9, 9, 3), 5 * 5 * 6 * 25, "depthwise conv"),
        (lambda: layers.SeparableConv2D(10, 3, padding="same"), (6, 6, 4), 6 * 6 * 4 * 9 + 6 * 6 * 4 * 10, "depthwise conv"),
        (lambda: layers.Dense(7), (13,), 13 * 7, "fully connected"),
        (lambda: layers.Conv2D(9, 1, name="fc_as_conv"), (1, 1, 20), 20 * 9, "fully connected"),
        (lambda: layers.Conv2D(9, 1, name="block3_se_reduce"), (1, 1, 20), 20 * 9, "squeeze-excite"),
    ],
)
def test_layer_counts_match_formulas(layer, input_shape, expected_macs, op_type):
    model = _single_layer(layer(), input_shape)
    row = profile_model(model).layers[-1]
    assert row.mult_adds == expected_macs
    assert row.op_type == op_type
    assert row.trainable_params == sum(int(np.prod(w.shape)) for w in model.trainable_weights) > 0


def test_memory_access_cost_is_input_output_and_weight_bytes():
    model = _single_layer(layers.Conv2D(4, 3, padding="same", use_bias=False), (5, 5, 2))
    row = profile_model(model).layers[-1]
    assert row.activation_bytes == 5 * 5 * 4 * 4
    assert row.memory_access_bytes == 4 * (5 * 5 * 2 + 5 * 5 * 4 + 3 * 3 * 2 * 4)


def test_separable_conv_splits_into_depthwise_and_pointwise():
    model = _single_layer(layers.SeparableConv2D(10, 3, padding="same", use_bias=False), (6, 6, 4))
    table = profile_model(model).by_op_type()
    assert table["depthwise conv"]["mult_adds"] == 6 * 6 * 4 * 9
    assert table["pointwise conv"]["mult_adds"] == 6 * 6 * 4 * 10
    assert table["depthwise conv"]["params"] == 36 and table["pointwise conv"]["params"] == 40


def test_unknown_layers_are_listed_not_zero():
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2DTranspose(4, 3)(inputs)
    x = layers.Conv2D(2, 1)(x)
    result = profile_model(keras.Model(inputs, x))
    assert any("Conv2DTranspose" in entry for entry in result.uncounted)


def test_unknown_spatial_size_is_a_clear_error():
    model = _single_layer(layers.Conv2D(4, 3), (None, None, 3))
    with pytest.raises(ValueError, match="fixed input_shape"):
        profile_model(model)


def test_keras_applications_mobilenet_resource_table():
    """The MobileNet paper's Table 2: 1x1 convs hold ~95% of Mult-Adds and ~75% of params."""
    model = keras.applications.MobileNet(weights=None, input_shape=(224, 224, 3), include_top=True)
    table = profile_model(model).by_op_type()
    assert table["pointwise conv"]["mult_adds_share"] == pytest.approx(0.9486, abs=0.002)
    assert table["pointwise conv"]["params_share"] == pytest.approx(0.74, abs=0.01)
    assert table["depthwise conv"]["mult_adds_share"] == pytest.approx(0.0306, abs=0.002)
    assert profile_model(model).mult_adds == 568740352


def test_cli_formats(capsys):
    main(["mobilenetv3_small_075", "--resolution", "96", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert report["trainable_params"] == 2041872
    assert report["uncounted"] == []
    assert sum(entry["mult_adds"] for entry in report["by_op_type"].values()) == report["mult_adds"]
    main(["mobilenetv2_100", "--alpha", "0.5", "--resolution", "96", "--format", "csv"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("name,layer_type,op_type")
    main(["mobilenetv2_050", "--resolution", "96"])
    assert "op type" in capsys.readouterr().out
    main(["rexnet_100", "--width", "1.3", "--format", "json"])  # ReXNet's width argument is `width`
    assert json.loads(capsys.readouterr().out)["trainable_params"] == keras_mobile.model_info("rexnet_130").reference[0]
    assert main(["squeezenet1_1", "--width", "0.5"]) == 1
    assert "the squeezenet family has no width multiplier" in capsys.readouterr().err

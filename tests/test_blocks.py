"""The block library: activations from stock layers, rounding, specs, custom layers."""

import numpy as np
import pytest

from helpers import keras
from keras_mobile.blocks import activation, inverted_residual, TF_STYLE
from keras_mobile.channels import make_divisible, split_channels
from keras_mobile.layers import ChannelShuffle, ChannelSplit
from keras_mobile.specs import BlockSpec, parse

layers = keras.layers


def _apply(fn, values):
    inputs = keras.Input(values.shape[1:])
    model = keras.Model(inputs, fn(inputs))
    return model, np.asarray(model(values))


@pytest.mark.both_lines
def test_hard_sigmoid_and_hard_swish_match_their_formulas():
    x = np.linspace(-6, 6, 97, dtype="float32").reshape(1, 97, 1, 1)
    relu6 = np.clip(x + 3.0, 0.0, 6.0)
    model, hsig = _apply(lambda t: activation(t, "hard_sigmoid", "hs"), x)
    np.testing.assert_allclose(hsig, relu6 / 6.0, atol=1e-6)
    assert {type(l).__name__ for l in model.layers[1:]} == {"Rescaling", "ReLU"}
    model, hswish = _apply(lambda t: activation(t, "hard_swish", "hw"), x)
    np.testing.assert_allclose(hswish, x * relu6 / 6.0, atol=1e-6)
    assert {type(l).__name__ for l in model.layers[1:]} == {"Rescaling", "ReLU", "Multiply"}


@pytest.mark.both_lines
def test_hard_swish_converts_to_one_tflite_op():
    """The literal relu6(x + 3) / 6 form is what the TFLite converter fuses into HARD_SWISH."""
    pytest.importorskip("tensorflow")
    from keras_mobile import tflite

    inputs = keras.Input((8, 8, 4), batch_size=1)
    model = keras.Model(inputs, activation(inputs, "hard_swish", "hw"))
    content = tflite.convert(tflite.frozen_function(model, (8, 8, 4)), "fp32")
    assert tflite.graph_facts(content)["ops"] == ["HARD_SWISH"]


def test_unknown_activation_is_rejected():
    with pytest.raises(ValueError, match="activation=.gelu6. is not supported; accepted values"):
        activation(keras.Input((4, 4, 2)), "gelu6", "x")


@pytest.mark.parametrize(
    "value, divisor, expected", [(32 * 0.35, 8, 16), (24 * 1.3, 8, 32), (72.0, 8, 72), (10, 8, 16), (90.4, 8, 88)]
)
def test_make_divisible(value, divisor, expected):
    assert make_divisible(value, divisor) == expected


def test_split_channels_gives_remainder_to_first_group():
    assert split_channels(144, 5) == [32, 28, 28, 28, 28]
    assert split_channels(96, 2) == [48, 48]


def test_parse_reads_every_token():
    spec = parse("ir_r3_k3.5.7_s2_e88/24_c40_se0.25_a2_p2_nhswish")
    assert spec == BlockSpec(
        block="ir", filters=40, repeats=3, kernel_size=(3, 5, 7), stride=2, expansion=88 / 24,
        se_ratio=0.25, act="hard_swish", expand_groups=2, project_groups=2,
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("xx_c16", "BlockSpec.block='xx' is not supported; accepted values: one of"),
        ("ir_k4_c16", "BlockSpec.kernel_size=.* accepted values: a non-empty tuple of odd"),
        ("ir_s3_c16", "BlockSpec.stride=3 is not supported; accepted values: 1 or 2"),
        ("ir_r2_k3", "no c<channels>"),
        ("ir_c16_zz", "cannot read token"),
        ("ir_c16_nfoo", "activation code must be one of"),
        ("ds_e6_c16", "BlockSpec.expansion=6.0 is not supported; accepted values: 1 for a 'ds' block"),
        ("ir_t2_c16", "BlockSpec.reduction=2 is not supported; accepted values: 1 for a 'ir' block"),
    ],
)
def test_parse_rejects_bad_specs(text, message):
    with pytest.raises(ValueError, match=message):
        parse(text)


@pytest.mark.both_lines
def test_channel_shuffle_permutation_matches_numpy():
    groups, channels = 3, 12
    x = np.arange(2 * 5 * 7 * channels, dtype="float32").reshape(2, 5, 7, channels)
    _, y = _apply(lambda t: ChannelShuffle(groups)(t), x)
    expected = x.reshape(2, 5, 7, groups, channels // groups).transpose(0, 1, 2, 4, 3).reshape(x.shape)
    np.testing.assert_array_equal(y, expected)


@pytest.mark.both_lines
def test_channel_shuffle_handles_unknown_spatial_size():
    inputs = keras.Input((None, None, 8))
    model = keras.Model(inputs, ChannelShuffle(2)(inputs))
    x = np.random.default_rng(0).normal(size=(1, 3, 5, 8)).astype("float32")
    np.testing.assert_array_equal(np.asarray(model(x)), x[..., [0, 4, 1, 5, 2, 6, 3, 7]])


@pytest.mark.both_lines
def test_custom_layers_validate_and_serialize():
    with pytest.raises(ValueError, match="divisible by groups"):
        ChannelShuffle(3)(keras.Input((4, 4, 8)))
    with pytest.raises(ValueError, match="4-D"):
        ChannelShuffle(2)(keras.Input((8,)))
    with pytest.raises(ValueError, match="sum to 6"):
        ChannelSplit([2, 4])(keras.Input((4, 4, 8)))
    for layer in (ChannelShuffle(4, name="shuffle"), ChannelSplit([3, 5], name="split")):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()


@pytest.mark.both_lines
def test_channel_split_slices_in_order():
    x = np.random.default_rng(1).normal(size=(1, 2, 2, 7)).astype("float32")
    inputs = keras.Input((2, 2, 7))
    model = keras.Model(inputs, ChannelSplit([3, 4])(inputs))
    first, second = (np.asarray(t) for t in model(x))
    np.testing.assert_array_equal(first, x[..., :3])
    np.testing.assert_array_equal(second, x[..., 3:])


def test_inverted_residual_layer_names_follow_the_scheme():
    inputs = keras.Input((16, 16, 24))
    outputs = inverted_residual(inputs, 24, 144, 5, 1, "hard_swish", se_channels=40, se_gate="hard_sigmoid", style=TF_STYLE, name="stage2_block1")
    names = [layer.name for layer in keras.Model(inputs, outputs).layers[1:]]
    assert names[:3] == ["stage2_block1_expand_conv", "stage2_block1_expand_bn", "stage2_block1_expand_act_gate_shift"]
    assert "stage2_block1_dw_conv" in names and "stage2_block1_se_mul" in names
    assert names[-3:] == ["stage2_block1_project_conv", "stage2_block1_project_bn", "stage2_block1_add"]
    assert all(name.startswith("stage2_block1_") for name in names)

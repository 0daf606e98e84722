"""MobileNeXt's sandglass block and identity tensor multiplier, ReXNet's partial
residual and channel schedule, on tiny inputs.

Block layouts and channel schedules are pinned to dumps of the reference code
(official MobileNeXt ``mnext.py``, timm ``rexnet.py``); the full models'
params / Mult-Adds are pinned by tests/test_model_figures.py.
"""

import numpy as np
import pytest

from helpers import keras, randomize_weights
from keras_mobile.blocks.linear_bottleneck import linear_bottleneck
from keras_mobile.blocks.sandglass import identity_channels, sandglass
from keras_mobile.models.mobilenext import MobileNeXt
from keras_mobile.models.rexnet import ReXNet, block_specs
from keras_mobile.profile import trainable_params


def _images(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _block_model(build, channels, size=6):
    inputs = keras.Input((size, size, channels))
    return keras.Model(inputs, build(inputs))


def _predict(model, x):
    return np.asarray(model(x, training=False))


def _layer_kinds(model):
    return {type(layer).__name__ for layer in model.layers}


# ----------------------------------------------------------------------------- sandglass / identity multiplier
def _sandglass(multiplier=1.0, residual=True, channels=16):
    return _block_model(
        lambda t: sandglass(
            t, channels, 8, residual=residual, identity_multiplier=multiplier, name="sg"
        ),
        channels,
    )


@pytest.mark.parametrize("multiplier,added", [(1.0, 16), (0.5, 8), (0.3, 5)])
def test_identity_multiplier_adds_only_the_leading_channels(multiplier, added):
    x = _images((2, 6, 6, 16))
    plain = randomize_weights(_sandglass(residual=False), seed=1)
    model = _sandglass(multiplier)
    model.set_weights(plain.get_weights())  # same layers, same order: the residual has no weights
    assert trainable_params(model) == trainable_params(plain)
    body, y = _predict(plain, x), _predict(model, x)
    assert y.shape == body.shape == x.shape
    np.testing.assert_allclose(y[..., :added], body[..., :added] + x[..., :added], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y[..., added:], body[..., added:])  # un-added channels: block output as is
    if added < 16:
        assert "ChannelSplit" in _layer_kinds(model)
        assert model.get_layer("sg_identity_split").sizes == [added, 16 - added]
    else:
        assert "ChannelSplit" not in _layer_kinds(model)


def test_identity_channels_rounding_and_range():
    assert identity_channels(192, 0.5) == 96
    assert identity_channels(64, 0.35) == 22  # round(22.4)
    assert identity_channels(5, 0.5) == 2  # round(2.5): ties to even, as Python's round
    assert identity_channels(7, 1.0) == 7
    for bad in (0, 0.0, -0.5, 1.01, True, "0.5", None):
        with pytest.raises(ValueError, match="identity_tensor_multiplier"):
            identity_channels(16, bad)
    with pytest.raises(ValueError, match="identity_tensor_multiplier.*>= 1"):
        identity_channels(16, 0.01)  # round(0.16) = 0 channels


def test_mobilenext_identity_multiplier_changes_only_the_residual():
    x = np.random.default_rng(0).uniform(0, 255, (1, 32, 32, 3)).astype("float32")
    full = randomize_weights(MobileNeXt(input_shape=(32, 32, 3), alpha=0.35, classifier_activation=None), seed=2)
    half = MobileNeXt(input_shape=(32, 32, 3), alpha=0.35, identity_tensor_multiplier=0.5, classifier_activation=None)
    assert [tuple(w.shape) for w in half.weights] == [tuple(w.shape) for w in full.weights]
    assert trainable_params(half) == trainable_params(full)
    half.set_weights(full.get_weights())
    y_full, y_half = _predict(full, x), _predict(half, x)
    assert y_full.shape == y_half.shape == (1, 1000)
    assert not np.array_equal(y_full, y_half)
    # First residual block (its input is the same in both models): 64 channels, 32 added.
    probe_full = keras.Model(
        full.input, [full.get_layer("stage3_block2_dw2_bn").output, full.get_layer("stage3_block2_add").output]
    )
    probe_half = keras.Model(half.input, half.get_layer("stage3_block2_concat").output)
    body, out_full = (np.asarray(t) for t in probe_full(x, training=False))
    out_half = _predict(probe_half, x)
    shortcut = out_full - body
    assert np.abs(shortcut).max() > 1e-2
    np.testing.assert_allclose(out_half[..., :32], out_full[..., :32], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out_half[..., 32:], body[..., 32:], rtol=1e-5, atol=1e-5)
    # Every residual block, and only those, splits its shortcut in half.
    splits = {layer.name: layer.sizes for layer in half.layers if layer.name.endswith("_identity_split")}
    assert splits == {
        f"stage{s}_block{b}_identity_split": [c // 2, c // 2]
        for s, c in [(3, 64), (4, 104), (5, 136), (6, 200), (7, 336)]
        for b in (range(2, 4) if s in (3, 4, 7) else range(2, 5))
    }
    assert half.name == "mobilenext_0.35_itm0.50" and full.name == "mobilenext_0.35"


def _render_sandglass_blocks(model):
    """The built blocks in the format of the reference dump (official SGBlock's convs)."""
    names = []  # block prefixes in build order
    for layer in model.layers:
        prefix = "_".join(layer.name.split("_")[:2])
        if prefix.startswith("stage") and prefix not in names:
            names.append(prefix)
    lines = []
    for name in names:
        parts = []
        for op in ("dw1", "reduce", "expand", "dw2"):
            try:
                layer = model.get_layer(f"{name}_{op}_conv")
            except ValueError:
                continue
            c_in = layer.input.shape[-1]
            if op.startswith("dw"):
                parts.append(f"dw{layer.kernel_size[0]}s{layer.strides[0]}({c_in})")
            else:
                parts.append(f"pw({c_in}->{layer.filters})")
        residual = any(layer.name == f"{name}_add" for layer in model.layers)
        lines.append(f"id={residual} " + " ".join(parts))
    return lines


# Official MXNet(width_mult=0.35), blocks b1..b20 (/tmp/ref/mnext_dump.txt).
MOBILENEXT_035_DUMP = """\
id=False dw3s1(16) pw(16->8) pw(8->32) dw3s2(32)
id=False dw3s1(32) pw(32->16) pw(16->48) dw3s1(48)
id=False pw(48->16) pw(16->64) dw3s2(64)
id=True dw3s1(64) pw(64->16) pw(16->64) dw3s1(64)
id=True dw3s1(64) pw(64->16) pw(16->64) dw3s1(64)
id=False pw(64->32) pw(32->104) dw3s2(104)
id=True dw3s1(104) pw(104->32) pw(32->104) dw3s1(104)
id=True dw3s1(104) pw(104->32) pw(32->104) dw3s1(104)
id=False pw(104->32) pw(32->136)
id=True dw3s1(136) pw(136->32) pw(32->136) dw3s1(136)
id=True dw3s1(136) pw(136->32) pw(32->136) dw3s1(136)
id=True dw3s1(136) pw(136->32) pw(32->136) dw3s1(136)
id=False pw(136->32) pw(32->200) dw3s2(200)
id=True dw3s1(200) pw(200->32) pw(32->200) dw3s1(200)
id=True dw3s1(200) pw(200->32) pw(32->200) dw3s1(200)
id=True dw3s1(200) pw(200->32) pw(32->200) dw3s1(200)
id=False pw(200->64) pw(64->336)
id=True dw3s1(336) pw(336->56) pw(56->336) dw3s1(336)
id=True dw3s1(336) pw(336->56) pw(56->336) dw3s1(336)
id=False dw3s1(336) pw(336->208) pw(208->1280) dw3s1(1280)"""


def test_mobilenext_blocks_follow_the_official_sgblock_branches():
    model = MobileNeXt(input_shape=(32, 32, 3), alpha=0.35, include_top=False)
    assert _render_sandglass_blocks(model) == MOBILENEXT_035_DUMP.splitlines()
    assert model.output.shape[-1] == 1280  # last stage kept at 1280 below alpha 1, no final 1x1 conv


# ----------------------------------------------------------------------------- ReXNet
def _bottleneck(in_channels, filters, strides=1, se=None):
    return _block_model(
        lambda t: linear_bottleneck(t, filters, 6 * in_channels, strides, se_channels=se, name="lb"), in_channels
    )


@pytest.mark.parametrize("in_channels,filters", [(4, 7), (6, 6)])
def test_rexnet_partial_residual_adds_the_first_input_channels(in_channels, filters):
    x = _images((2, 6, 6, in_channels), seed=3)
    model = randomize_weights(_bottleneck(in_channels, filters, se=2), seed=4)
    probe = keras.Model(model.input, [model.get_layer("lb_project_bn").output, model.output])
    body, y = (np.asarray(t) for t in probe(x, training=False))
    assert y.shape == (2, 6, 6, filters)
    np.testing.assert_allclose(y[..., :in_channels], body[..., :in_channels] + x, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y[..., in_channels:], body[..., in_channels:])
    if filters > in_channels:
        assert model.get_layer("lb_split").sizes == [in_channels, filters - in_channels]


@pytest.mark.parametrize("in_channels,filters,strides", [(4, 7, 2), (8, 6, 1)])
def test_rexnet_no_residual_when_strided_or_narrowing(in_channels, filters, strides):
    model = _bottleneck(in_channels, filters, strides)
    assert not _layer_kinds(model) & {"Add", "ChannelSplit", "Concatenate"}


def test_rexnet_se_has_bn_and_sits_before_the_relu6():
    model = _bottleneck(4, 7, se=2)
    assert type(model.get_layer("lb_se_bn")).__name__ == "BatchNormalization"
    assert model.get_layer("lb_se_reduce").use_bias and model.get_layer("lb_se_expand").use_bias
    order = [layer.name for layer in model.layers]
    positions = [order.index(f"lb_{op}") for op in ("dw_bn", "se_mul", "dw_act", "project_conv")]
    assert positions == sorted(positions)
    assert model.get_layer("lb_dw_act").input.shape == model.get_layer("lb_se_mul").output.shape
    assert model.get_layer("lb_dw_act").max_value == 6.0
    assert model.get_layer("lb_expand_act").get_config()["activation"] in ("swish", "silu")


# timm rexnet.py output channels per block (/tmp/ref/rexnet_dump.txt): Python round()
# ties to even, e.g. width 1.0 block 2: round(38.5) = 38, block 14: round(173.5) = 174.
REXNET_CHANNELS = {
    1.0: [16, 27, 38, 50, 61, 72, 84, 95, 106, 117, 128, 140, 151, 162, 174, 185],
    1.3: [21, 35, 50, 65, 79, 94, 109, 123, 138, 152, 167, 182, 196, 211, 226, 240],
    1.5: [24, 41, 58, 75, 92, 108, 125, 142, 159, 176, 193, 210, 226, 243, 260, 277],
    2.0: [32, 54, 77, 100, 122, 144, 167, 190, 212, 234, 257, 280, 302, 324, 347, 370],
}


@pytest.mark.parametrize("width", sorted(REXNET_CHANNELS))
def test_rexnet_channel_schedule(width):
    specs = block_specs(width)
    assert [s.filters for s in specs] == REXNET_CHANNELS[width]
    assert [s.stride for s in specs] == [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1]
    assert [s.expansion for s in specs] == [1] + [6] * 15
    assert [bool(s.se_ratio) for s in specs] == [False] * 3 + [True] * 13
    assert [s.continues for s in specs].count(False) == 6  # one row opens each of the six stages


def test_rexnet_model_partial_residuals():
    model = ReXNet(input_shape=(32, 32, 3), include_top=False)
    splits = {layer.name: layer.sizes for layer in model.layers if type(layer).__name__ == "ChannelSplit"}
    channels = [32] + REXNET_CHANNELS[1.0]  # stem, then each block's output
    expected = {}
    stage = index = 0
    for spec, c_in, c_out in zip(block_specs(1.0), channels, channels[1:]):
        stage, index = (stage, index + 1) if spec.continues else (stage + 1, 1)
        if spec.stride == 1 and c_in < c_out:
            expected[f"stage{stage}_block{index}_split"] = [c_in, c_out - c_in]
    assert splits == expected and len(expected) == 11
    assert model.get_layer("stage3_block1_se_reduce").filters == 19  # int(6 * 38 / 12), timm dump
    assert "stage2_block2_se_reduce" not in [layer.name for layer in model.layers]
    assert model.output.shape[-1] == 1280


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "build,arg,value",
    [
        (MobileNeXt, "alpha", 0),
        (MobileNeXt, "alpha", "1.0"),
        (MobileNeXt, "alpha", 5.0),
        (MobileNeXt, "identity_tensor_multiplier", 0.0),
        (MobileNeXt, "identity_tensor_multiplier", 1.5),
        (MobileNeXt, "identity_tensor_multiplier", True),
        (MobileNeXt, "identity_tensor_multiplier", 0.001),  # rounds to 0 residual channels
        (ReXNet, "width", 0),
        (ReXNet, "width", -1.0),
        (ReXNet, "width", None),
    ],
)
def test_invalid_arguments_name_the_argument(build, arg, value):
    with pytest.raises(ValueError, match=rf"{arg}=.*accepted values"):
        build(**{arg: value})

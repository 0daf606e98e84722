"""ShuffleNetV1 / V2 units, the Fire module and SqueezeNet's pools, on tiny inputs.

Channel-shuffle orders are checked against numpy transcriptions of the
reference code (torchvision for V2, megvii for V1); the full models' params /
Mult-Adds are pinned by tests/test_model_figures.py.
"""

import numpy as np
import pytest

from helpers import keras, randomize_weights
from keras_mobile.blocks.fire import fire
from keras_mobile.blocks.shuffle import megvii_shuffle, pool_3x3_s2, shufflenet_v1_unit, shufflenet_v2_unit
from keras_mobile.layers import ChannelShuffle
from keras_mobile.models.shufflenet_v1 import ShuffleNetV1, stage_channels
from keras_mobile.models.shufflenet_v2 import ShuffleNetV2
from keras_mobile.models.squeezenet import SqueezeNet, ceil_max_pool


def _rng(seed=0):
    return np.random.default_rng(seed)


def _run(build, x):
    """Apply ``build`` (tensor -> tensor or list) to numpy ``x`` through a functional model."""
    inputs = keras.Input(x.shape[1:])
    outputs = build(inputs)
    model = keras.Model(inputs, outputs)
    return model, model(x, training=False)


def torchvision_shuffle(x, groups):
    """torchvision ``channel_shuffle`` (NCHW view(B, g, C/g) -> transpose(1, 2)) on NHWC."""
    n, h, w, c = x.shape
    return x.reshape(n, h, w, groups, c // groups).swapaxes(3, 4).reshape(n, h, w, c)


def megvii_reference_shuffle(x, groups):
    """megvii ShuffleNetV1 ``channel_shuffle`` (reshape(B, C/g, g) -> permute(0, 2, 1)) on NHWC."""
    n, h, w, c = x.shape
    return x.reshape(n, h, w, c // groups, groups).swapaxes(3, 4).reshape(n, h, w, c)


# ----------------------------------------------------------------------------- shuffle orders
@pytest.mark.parametrize("channels,groups", [(8, 2), (12, 3), (24, 8)])
def test_channel_shuffle_is_torchvision_order(channels, groups):
    x = _rng().normal(size=(2, 3, 3, channels)).astype("float32")
    _, y = _run(lambda t: ChannelShuffle(groups)(t), x)
    expected = torchvision_shuffle(x, groups)
    np.testing.assert_array_equal(np.asarray(y), expected)
    # Spelled out: output channel j * g + i is input channel i * (C / g) + j.
    i, j = groups - 1, 1
    np.testing.assert_array_equal(np.asarray(y)[..., j * groups + i], x[..., i * (channels // groups) + j])


@pytest.mark.parametrize("channels,groups", [(12, 3), (24, 8), (60, 3)])
def test_megvii_shuffle_is_the_inverse_order(channels, groups):
    x = _rng(1).normal(size=(1, 2, 2, channels)).astype("float32")
    _, y = _run(lambda t: megvii_shuffle(t, groups, "shuffle"), x)
    y = np.asarray(y)
    np.testing.assert_array_equal(y, megvii_reference_shuffle(x, groups))
    # ... which is not the torchvision order when g != C / g, but undoes it.
    assert not np.array_equal(y, torchvision_shuffle(x, groups))
    np.testing.assert_array_equal(megvii_reference_shuffle(torchvision_shuffle(x, groups), groups), x)


# ----------------------------------------------------------------------------- ShuffleNetV2 unit
def test_v2_unit_stride1_passes_first_half_and_interleaves():
    x = _rng(2).normal(size=(2, 5, 5, 8)).astype("float32")
    model, y = _run(lambda t: shufflenet_v2_unit(t, 8, 1, name="u"), x)
    randomize_weights(model)
    y = np.asarray(model(x, training=False))
    assert y.shape == (2, 5, 5, 8)
    # torchvision: cat([x1, branch(x2)]) then shuffle(2) -> even channels are x1 unchanged.
    np.testing.assert_array_equal(y[..., 0::2], x[..., :4])
    assert not np.allclose(y[..., 1::2], x[..., 4:])
    # The branch sees only the second half: changing the first half leaves odd channels alone.
    x2 = x.copy()
    x2[..., :4] += 1.0
    np.testing.assert_allclose(np.asarray(model(x2, training=False))[..., 1::2], y[..., 1::2], rtol=1e-6, atol=1e-6)


def test_v2_unit_stride2_shape_and_names():
    model, y = _run(lambda t: shufflenet_v2_unit(t, 16, 2, name="u"), np.zeros((1, 7, 7, 6), "float32"))
    assert tuple(y.shape) == (1, 4, 4, 16)  # PyTorch padding 1: ceil(7 / 2)
    names = {layer.name for layer in model.layers}
    expected = {"u_proj_dw_conv", "u_proj_pw_conv", "u_pw1_conv", "u_dw_conv", "u_pw2_conv", "u_concat", "u_shuffle"}
    assert expected <= names
    with pytest.raises(ValueError, match="stride-1 unit"):
        _run(lambda t: shufflenet_v2_unit(t, 16, 1, name="u"), np.zeros((1, 4, 4, 6), "float32"))


# ----------------------------------------------------------------------------- ShuffleNetV1 unit
def test_v1_unit_shuffles_after_depthwise_in_megvii_order():
    x = _rng(3).normal(size=(1, 4, 4, 24)).astype("float32")
    model, _ = _run(lambda t: shufflenet_v1_unit(t, 24, 3, 1, name="u"), x)
    randomize_weights(model)
    probe = keras.Model(model.input, [model.get_layer("u_dw_bn").output, model.get_layer("u_shuffle").output])
    dw, shuffled = (np.asarray(t) for t in probe(x, training=False))
    np.testing.assert_array_equal(shuffled, megvii_reference_shuffle(dw, 3))
    assert model.get_layer("u_pw1_conv").groups == 3 and model.get_layer("u_pw2_conv").groups == 3


def test_v1_unit_stride1_is_relu_of_residual():
    x = _rng(4).normal(size=(1, 4, 4, 24)).astype("float32")
    model, _ = _run(lambda t: shufflenet_v1_unit(t, 24, 3, 1, name="u"), x)
    randomize_weights(model)
    bn = model.get_layer("u_pw2_bn")
    gamma, beta, mean, var = bn.get_weights()
    bn.set_weights([np.zeros_like(gamma), np.zeros_like(beta), mean, var])  # main branch -> 0
    np.testing.assert_allclose(np.asarray(model(x, training=False)), np.maximum(x, 0.0), atol=1e-6)


def test_v1_unit_stride2_concats_padded_average_pool_first():
    x = _rng(5).normal(size=(1, 6, 6, 12)).astype("float32")
    model, _ = _run(lambda t: shufflenet_v1_unit(t, 48, 4, 2, first_group=True, name="u"), x)
    randomize_weights(model)
    y = np.asarray(model(x, training=False))
    assert y.shape == (1, 3, 3, 48)
    assert model.get_layer("u_pw1_conv").groups == 1 and model.get_layer("u_pw2_conv").groups == 4
    assert model.get_layer("u_pw2_conv").filters == 48 - 12
    # PyTorch AvgPool2d(3, 2, 1), count_include_pad=True: zero-pad, divide by 9 everywhere.
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    pooled = np.stack(
        [np.stack([padded[0, 2 * r:2 * r + 3, 2 * c:2 * c + 3].sum((0, 1)) / 9 for c in range(3)]) for r in range(3)]
    )
    np.testing.assert_allclose(y[0, ..., :12], pooled, rtol=1e-5, atol=1e-6)
    assert np.all(y[..., 12:] >= 0)  # ReLU(main)


def test_v1_unit_rejects_channels_not_divisible_by_groups():
    with pytest.raises(ValueError, match="multiple of groups"):
        _run(lambda t: shufflenet_v1_unit(t, 180, 8, 2, first_group=True, name="u"), np.zeros((1, 4, 4, 12), "float32"))


def test_v1_channel_tables():
    assert stage_channels(3, 1.0) == (24, 240, 480, 960)
    assert stage_channels(8, 0.5) == (16, 192, 384, 768)
    assert stage_channels(1, 1.0) == (24, 144, 288, 576)
    assert stage_channels(2, 0.5) == (12, 104, 208, 416)  # 100 rounded to a multiple of 4g
    assert stage_channels(4, 1.5) == (24, 416, 832, 1664)  # 408 rounded to a multiple of 4g


# ----------------------------------------------------------------------------- SqueezeNet pieces
@pytest.mark.parametrize("size", [5, 6, 7, 8])
def test_ceil_max_pool_matches_torch_ceil_mode(size):
    x = _rng(6).uniform(0, 1, size=(1, size, size, 2)).astype("float32")
    _, y = _run(lambda t: ceil_max_pool(t, "pool"), x)
    out = -(-(size - 3) // 2) + 1  # ceil((n - 3) / 2) + 1
    expected = np.empty((1, out, out, 2), "float32")
    for r in range(out):
        for c in range(out):
            expected[0, r, c] = x[0, 2 * r:2 * r + 3, 2 * c:2 * c + 3].max((0, 1))  # windows clipped at the edge
    np.testing.assert_array_equal(np.asarray(y), expected)


def test_fire_concatenates_1x1_then_3x3():
    x = _rng(7).normal(size=(1, 5, 5, 8)).astype("float32")
    model, y = _run(lambda t: fire(t, 4, 6, 10, name="f"), x)
    assert tuple(y.shape) == (1, 5, 5, 16)
    assert all(model.get_layer(f"f_{op}_conv").use_bias for op in ("squeeze", "expand1x1", "expand3x3"))
    assert not any("BatchNormalization" == type(layer).__name__ for layer in model.layers)
    probe = keras.Model(model.input, model.get_layer("f_expand1x1_act").output)
    np.testing.assert_array_equal(np.asarray(y)[..., :6], np.asarray(probe(x)))


def test_squeezenet_min_resolution():
    SqueezeNet(input_shape=(17, 17, 3), version="1.1")
    with pytest.raises(ValueError, match="input_shape"):
        SqueezeNet(input_shape=(16, 16, 3), version="1.1")
    with pytest.raises(ValueError, match="input_shape"):
        SqueezeNet(input_shape=(20, 20, 3), version="1.0")


# ----------------------------------------------------------------------------- argument validation
@pytest.mark.parametrize(
    "build,match",
    [
        (lambda: ShuffleNetV1(groups=5), r"groups=5 .*accepted values: \[1, 2, 3, 4, 8\]"),
        (lambda: ShuffleNetV1(groups=True), r"groups=True"),
        (lambda: ShuffleNetV1(scale=0.75), r"scale=0.75 .*accepted values: \[0.5, 1.0, 1.5, 2.0\]"),
        (lambda: ShuffleNetV2(scale=0.25), r"scale=0.25 .*accepted values: \[0.5, 1.0, 1.5, 2.0\]"),
        (lambda: ShuffleNetV2(scale="1.0"), r"scale='1.0'"),
        (lambda: SqueezeNet(version="1.2"), r"version='1.2' .*accepted values: \['1.0', '1.1'\]"),
        (lambda: SqueezeNet(version=1.1), r"version=1.1 .*accepted values"),
    ],
)
def test_bad_family_arguments(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_pool_3x3_s2_max_pads_like_torch():
    x = _rng(8).uniform(0, 1, size=(1, 4, 4, 1)).astype("float32")
    _, y = _run(lambda t: pool_3x3_s2(t, "max", name="p"), x)
    # PyTorch MaxPool2d(3, 2, 1) on 4x4: windows rows/cols [0..1], [1..3].
    expected = np.array([[x[0, :2, :2].max(), x[0, :2, 1:].max()], [x[0, 1:, :2].max(), x[0, 1:, 1:].max()]])
    np.testing.assert_array_equal(np.asarray(y)[0, ..., 0], expected)

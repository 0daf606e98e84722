"""``optimize_for_inference``: the same function (1e-5) in a graph with no depthwise kernel above 5x5, for
synthetic kernels 1-11 and every family; its int8 model agrees with the original's on a trained model;
export applies it to TFLite; QAT and PTQ still work on the result (tf_keras)."""

import numpy as np
import pytest

from helpers import ALL_MODELS, LEGACY, REPRESENTATIVES, keras, small_resolution
from keras_mobile import tflite
from keras_mobile.inference_rewrites import (
    MAX_KERNEL,
    DepthwisePlan,
    axis_parts,
    grid,
    optimize_for_inference,
    plan_for,
)
from keras_mobile.registry import create_model, model_info
from keras_mobile.testing import calibrate_batchnorm, sample_images

layers = keras.layers
KERNELS = range(1, 12)


def _assert_same_function(model, optimized, images, tolerance=1e-5):
    expected = model(images, training=False)
    actual = optimized(images, training=False)
    expected = expected if isinstance(expected, (list, tuple)) else [expected]
    actual = actual if isinstance(actual, (list, tuple)) else [actual]
    assert len(expected) == len(actual)
    for e, a in zip(expected, actual):
        e, a = np.asarray(e), np.asarray(a)
        assert e.shape == a.shape
        scale = max(1.0, float(np.abs(e).max()))
        assert float(np.abs(e - a).max()) / scale <= tolerance


def _largest_depthwise(model):
    sizes = [max(layer.get_config()["kernel_size"]) for layer in model.layers
             if type(layer).__name__ == "DepthwiseConv2D"]
    return max(sizes) if sizes else 0


def _randomize(model, seed=0):
    """Seeded weights, BatchNorm statistics as after training (variance in [0.5, 2])."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = []
        for weight in layer.weights:
            name = weight.name.split("/")[-1]
            if "variance" in name:
                values.append(rng.uniform(0.5, 2.0, weight.shape))
            elif "gamma" in name:
                values.append(rng.uniform(0.5, 1.5, weight.shape))
            else:
                values.append(rng.normal(0, 0.3, weight.shape))
        if values:
            layer.set_weights([v.astype("float32") for v in values])


def _synthetic(size, stride, padding):
    """One depthwise conv per kernel size 1-11 (each + BatchNorm), and the variants a layer can have."""
    image = keras.Input((size, size, 6), batch_size=1)
    outputs = []
    for k in KERNELS:
        outputs.append(layers.BatchNormalization(name=f"bn{k}")(
            layers.DepthwiseConv2D(k, stride, padding=padding, use_bias=False, name=f"dw{k}")(image)))
    # depth multiplier, bias and an activation inside the layer (nothing to fold), rectangular kernels
    outputs.append(layers.DepthwiseConv2D(7, stride, padding=padding, depth_multiplier=2, use_bias=True,
                                          activation="relu", name="dw7_m2_relu")(image))
    outputs.append(layers.DepthwiseConv2D((1, 7), stride, padding=padding, name="dw1x7")(image))
    outputs.append(layers.DepthwiseConv2D((9, 3), stride, padding=padding, name="dw9x3")(image))
    # an explicit ZeroPadding2D before a 'valid' conv (MixNet's symmetric style): absorbed by the split
    outputs.append(layers.DepthwiseConv2D(9, stride, padding="valid", name="dw9_prepad")(
        layers.ZeroPadding2D(((4, 3), (2, 5)), name="prepad")(image)))
    if stride == 1:
        outputs.append(layers.DepthwiseConv2D(7, padding=padding, dilation_rate=2, name="dw7_dilated")(image))
    return keras.Model(image, outputs, name=f"synthetic_{size}_{stride}_{padding}")


# Even and odd sizes, both paddings, both strides; on tf_keras (where only the layers built differ) one size and
# padding per stride.
SYNTHETIC_CASES = [(size, stride, padding) for size in (14, 15) for stride in (1, 2) for padding in ("same", "valid")
                   if not LEGACY or (size, padding) == (15, "same")]


@pytest.mark.both_lines
@pytest.mark.parametrize("size, stride, padding", SYNTHETIC_CASES)
def test_synthetic_kernels_1_to_11(size, stride, padding):
    model = _synthetic(size, stride, padding)
    _randomize(model)
    optimized, report = optimize_for_inference(model, return_report=True)
    _assert_same_function(model, optimized, np.random.default_rng(1).normal(0, 1, (1, size, size, 6)).astype("float32"))
    assert _largest_depthwise(optimized) <= MAX_KERNEL
    split = {r.layer for r in report.rewrites if r.kind == "split_depthwise"}
    expected = {f"dw{k}" for k in KERNELS if k > MAX_KERNEL} | {"dw7_m2_relu", "dw1x7", "dw9x3", "dw9_prepad"}
    assert split == expected | ({"dw7_dilated"} if stride == 1 else set())
    assert {r.layer for r in report.rewrites if r.kind == "fold_batchnorm"} == {f"bn{k}" for k in KERNELS if k > MAX_KERNEL}
    names = {layer.name for layer in optimized.layers}
    assert "prepad" not in names and {f"dw{k}" for k in KERNELS if k <= MAX_KERNEL} <= names  # small kernels kept
    assert {f"bn{k}" for k in KERNELS if k <= MAX_KERNEL} <= names  # BN after an unsplit conv: the converter's job


def test_piece_plans():
    assert axis_parts(7) == (5, 2) and axis_parts(11) == (5, 5, 1) and axis_parts(6) == (3, 3)
    assert axis_parts(12) == (5, 5, 2) and axis_parts(4) == (4,) and axis_parts(7, max_kernel=3) == (3, 3, 1)
    assert plan_for((5, 5)) is None and plan_for((3, 1)) is None
    assert plan_for((7, 7)).pieces == grid((5, 2)) == ((0, 0, 5, 5), (0, 5, 5, 2), (5, 0, 2, 5), (5, 5, 2, 2))
    assert plan_for((1, 7)).pieces == ((0, 0, 1, 5), (0, 5, 1, 2))
    assert plan_for((7, 7), max_kernel=3).pieces == grid((3, 3, 1))
    for k in range(6, 16):  # every plan covers its kernel exactly once with pieces of side <= 5
        cover = np.zeros((k, k), int)
        for r, c, h, w in plan_for((k, k)).pieces:
            assert max(h, w) <= MAX_KERNEL
            cover[r:r + h, c:c + w] += 1
        assert np.all(cover == 1)


def test_custom_plans_and_arrangements():
    model = _synthetic(15, 2, "same")
    _randomize(model)
    images = np.random.default_rng(2).normal(0, 1, (1, 15, 15, 6)).astype("float32")
    for plan in (DepthwisePlan(grid((4, 3)), "shared"), DepthwisePlan(grid((3, 3, 1)), "own")):
        optimized, report = optimize_for_inference(model, plans={7: plan}, return_report=True)
        _assert_same_function(model, optimized, images)
        assert f"{len(plan.pieces)} pieces" in next(r.detail for r in report.rewrites if r.layer == "dw7")
    # max_kernel=3: 4x4 and 5x5 are split too, into pieces of side <= 3
    optimized = optimize_for_inference(model, max_kernel=3)
    _assert_same_function(model, optimized, images)
    assert _largest_depthwise(optimized) == 3


def _family_cases():
    if LEGACY:  # tf_keras: the family the rewrites change (its layers are what differs there)
        return [pytest.param(REPRESENTATIVES["mixnet"], id=REPRESENTATIVES["mixnet"])]
    ci = sorted(REPRESENTATIVES.values())
    return [pytest.param(name, id=name) for name in ci] + [
        pytest.param(name, id=name, marks=pytest.mark.exhaustive) for name in ALL_MODELS if name not in ci]


@pytest.mark.both_lines
@pytest.mark.parametrize("name", _family_cases())
def test_every_family_computes_the_same_function(name):
    # 64 px (MixNet's last maps are 2x2: its 9x9 and 11x11 pieces that read only padding are dropped); BN
    # statistics from 8 images (from 2 images of 1x1 maps they are near zero and any rounding explodes)
    resolution = max(small_resolution(name), 64)
    model = create_model(name, input_shape=(resolution, resolution, 3), classes=10)
    images = sample_images((resolution, resolution, 3), 8, seed=1)
    calibrate_batchnorm(model, images, gamma=0.6)
    optimized, report = optimize_for_inference(model, return_report=True)
    _assert_same_function(model, optimized, images)
    assert _largest_depthwise(optimized) <= MAX_KERNEL
    if model_info(name).family == "mixnet":
        assert report.count("split_depthwise") and report.count("fold_batchnorm") and report.count("merge_mixconv")
        assert any("read only zero padding" in r.detail for r in report.rewrites)
    else:  # no kernel above 5x5 and no MixConv: the same graph, layer for layer
        assert report.rewrites == []
        assert [layer.get_config() for layer in optimized.layers] == [layer.get_config() for layer in model.layers]


def test_any_resolution_model_takes_input_size():
    model = create_model("mixnet_s", input_shape=(None, None, 3), classes=10)
    images = sample_images((48, 48, 3), 2, seed=1)
    calibrate_batchnorm(model, images, gamma=0.6)
    whole, report = optimize_for_inference(model, return_report=True)
    assert report.count("left_whole") and not report.count("split_depthwise")  # crops need the size
    _assert_same_function(model, whole, images)
    fixed, report = optimize_for_inference(model, input_size=(48, 48), return_report=True)
    assert report.count("split_depthwise") and tuple(fixed.input.shape[1:3]) == (48, 48)
    _assert_same_function(model, fixed, images)
    assert _largest_depthwise(fixed) <= MAX_KERNEL


def test_errors_are_clear():
    model = _synthetic(14, 1, "same")
    with pytest.raises(ValueError, match=r"max_kernel=0 is not supported; accepted values"):
        optimize_for_inference(model, max_kernel=0)
    with pytest.raises(ValueError, match=r"merge_mixconv='no' is not supported; accepted values"):
        optimize_for_inference(model, merge_mixconv="no")
    with pytest.raises(ValueError, match=r"input_size=\(14,\) is not supported"):
        optimize_for_inference(model, input_size=(14,))
    with pytest.raises(ValueError, match=r"input_size=\(16, 16\) is not supported.*\(14, 14\)"):
        optimize_for_inference(model, input_size=(16, 16))
    with pytest.raises(ValueError, match=r"plans=.*accepted values: a dict \{kernel size: DepthwisePlan\}"):
        optimize_for_inference(model, plans={7: ((0, 0, 7, 7),)})
    with pytest.raises(ValueError, match=r"do not cover the 7x7 kernel exactly once"):
        optimize_for_inference(model, plans={7: DepthwisePlan(grid((5, 2)) + ((0, 0, 1, 1),))})
    with pytest.raises(ValueError, match=r"piece \(0, 4, 4, 4\) lies outside the 7x7 kernel"):
        optimize_for_inference(model, plans={7: DepthwisePlan(grid((4, 4)))})
    with pytest.raises(TypeError, match=r"optimize_for_inference: model 'seq' is a Sequential"):
        optimize_for_inference(keras.Sequential([keras.Input((8, 8, 3)), layers.DepthwiseConv2D(7)], name="seq"))


# --------------------------------------------------------------------------- int8 and export, on a trained model
CLASSES = 16


def _stripes(count, size=32, seed=0):
    """16 classes: stripes every 11.25 degrees (jittered by 7 degrees, so neighbours overlap), random period,
    phase and colour, plus noise. Hard enough that a short training leaves outputs short of certainty, where
    int8 rounding can move an arg-max: agreement then means something."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, count)
    yy, xx = np.mgrid[0:size, 0:size].astype("float32")
    images = []
    for label in labels:
        angle = label * np.pi / CLASSES + rng.normal(0, 0.12)
        period = rng.uniform(5, 9)
        wave = np.sin(2 * np.pi * (np.cos(angle) * xx + np.sin(angle) * yy) / period + rng.uniform(0, 2 * np.pi))
        colour = rng.uniform(60, 200, 3)
        image = 127.5 + wave[..., None] * colour[None, None] * 0.5 + rng.normal(0, 40, (size, size, 3))
        images.append(np.clip(image, 0, 255))
    return np.asarray(images, "float32"), labels


def _mixconv_classifier():
    """Stem, an inverted residual with a 3/5/7/9 MixConv (symmetric padding) and squeeze-excite, a 3/5 one."""
    from keras_mobile.blocks.conv import TORCH_STYLE, conv_bn_act
    from keras_mobile.blocks.mobile import inverted_residual

    image = keras.Input((32, 32, 3), name="image")
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(image)
    x = conv_bn_act(x, 16, 3, 2, act="relu", style=TORCH_STYLE, name="stem")
    x = inverted_residual(x, 24, 64, (3, 5, 7, 9), act="swish", se_channels=8, style=TORCH_STYLE, name="mix1")
    x = inverted_residual(x, 24, 64, (3, 5), strides=2, act="swish", style=TORCH_STYLE, name="mix2")
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(image, layers.Dense(CLASSES, activation="softmax")(x), name="mixconv_classifier")


def _trained_classifier():
    """(model, test images, test labels): the classifier above after 5 epochs on 512 stripe images."""
    keras.utils.set_random_seed(0)
    model = _mixconv_classifier()
    train_x, train_y = _stripes(512, seed=0)
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    losses = model.fit(train_x, train_y, batch_size=32, epochs=5, shuffle=False, verbose=0).history["loss"]
    assert losses[-1] < 0.7 * losses[0], losses  # it learned (measured 2.25 -> 0.90)
    test_x, test_y = _stripes(96, seed=1)
    return model, test_x, test_y


def _tflite_depthwise_kernels(content):
    interpreter = tflite.interpreter(content, delegates=False)
    tensors = interpreter.get_tensor_details()
    return sorted({tuple(tensors[op["inputs"][1]]["shape"][1:3]) for op in interpreter._get_ops_details()
                   if op["op_name"] == "DEPTHWISE_CONV_2D"})


def test_trained_model_int8_agrees_and_export_converts_the_optimized_graph(tmp_path):
    """One training (the expensive part) for both checks: int8 agreement, then what export_model does."""
    from keras_mobile.export import export_model

    model, images, labels = _trained_classifier()
    optimized = optimize_for_inference(model)
    _assert_same_function(model, optimized, images)
    probabilities = np.asarray(model(images))
    float_top1 = probabilities.argmax(-1)
    # trained (chance is 1/16; measured 0.52) but not certain (measured mean top probability 0.53): the
    # agreement below is about a real classifier near its decision boundaries
    assert np.mean(float_top1 == labels) >= 0.35 and probabilities.max(-1).mean() < 0.85
    calibration = _stripes(64, seed=2)[0]
    original8 = tflite.Runner(tflite.convert_model(model, "int8", representative_data=calibration))(images)
    optimized8 = tflite.Runner(tflite.convert_model(optimized, "int8", representative_data=calibration))(images)
    # By tolerance, not by arg-max among near-ties (whose flips differ between CPUs' rounding): the optimized
    # graph's int8 model is as close to the float model as the original's int8 model is.
    original_error = np.abs(original8 - probabilities).mean()
    optimized_error = np.abs(optimized8 - probabilities).mean()
    # (mean over 96 x 16 probabilities: measured 0.0023 optimized vs 0.0028 original; single outputs near a
    # boundary moved by up to 0.33 in both)
    assert optimized_error <= 1.5 * original_error + 1e-3, (optimized_error, original_error)

    # export_model converts the TFLite formats from the optimized graph, checked against the original model
    report = export_model(model, tmp_path / "opt", ("tflite_fp32", "tflite_int8"),
                          representative_data=calibration[:32], sample_inputs=images[:16])
    rewrites = report["inference_rewrites"]
    # mix1: its 7x7 and 9x9 split, the BN after its concat folded; mix2: 3/5 merged into one 5x5, its BN folded
    assert rewrites["split_depthwise"] == 2 and rewrites["merge_mixconv"] == 1 and rewrites["fold_batchnorm"] == 2
    for fmt in ("tflite_fp32", "tflite_int8"):
        entry = report["formats"][fmt]
        assert entry["optimized"]
        assert max(max(k) for k in _tflite_depthwise_kernels((tmp_path / "opt" / entry["path"]).read_bytes())) == 5
    assert report["formats"]["tflite_fp32"]["max_abs_diff"] <= 1e-4  # against the original Keras model
    plain = export_model(model, tmp_path / "plain", ("tflite_fp32",), sample_inputs=images[:16], optimize=False)
    assert plain["inference_rewrites"] is None and not plain["formats"]["tflite_fp32"]["optimized"]
    assert (9, 9) in _tflite_depthwise_kernels((tmp_path / "plain" / "model_fp32.tflite").read_bytes())
    with pytest.raises(ValueError, match=r"optimize='yes' is not supported; accepted values: True, False"):
        export_model(model, tmp_path / "bad", ("tflite_fp32",), optimize="yes")


@pytest.mark.tf_keras_line
def test_optimized_model_quantizes_qat_and_ptq():
    from keras_mobile import compression

    keras.utils.set_random_seed(0)
    model = _mixconv_classifier()
    images = _stripes(16, seed=3)[0]
    calibrate_batchnorm(model, images, gamma=0.6)
    optimized = optimize_for_inference(model)
    _assert_same_function(model, optimized, images)
    qat = compression.quantize_model(optimized)
    content = compression.convert_qat(qat, representative_data=images)
    assert max(max(k) for k in _tflite_depthwise_kernels(content)) == 5
    assert np.isfinite(tflite.Runner(content)(images)).all()
    ptq = tflite.convert_model(optimized, "int8", representative_data=images)
    assert max(max(k) for k in _tflite_depthwise_kernels(ptq)) == 5
    with pytest.raises(ValueError, match=r"quantization-aware \(QAT\) model.*Optimize the float model"):
        optimize_for_inference(qat)

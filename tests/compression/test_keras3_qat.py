"""Keras 3 QAT without TF-MOT: quantize_model -> train (TF, JAX, PyTorch) -> .keras -> full-integer TFLite.

The int8 file is compared with the QAT Keras model it came from (same fake-quant arithmetic), in units of
the output's int8 step.
"""

import importlib.util
import json
import textwrap

import numpy as np
import pytest
from helpers import REPRESENTATIVES, python_env, random_images, randomize_weights, run_python, small_resolution

from keras_mobile import tflite
from keras_mobile.backend import keras
from keras_mobile.compression import keras3_qat
from keras_mobile.compression.fake_quant import FakeQuant, QuantConv
from keras_mobile.registry import create_model

INT8_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MUL", "MEAN", "FULLY_CONNECTED", "SOFTMAX", "RESHAPE", "PAD",
            "CONCATENATION", "SPLIT_V", "TRANSPOSE", "MAX_POOL_2D", "HARD_SWISH", "LOGISTIC", "RELU", "QUANTIZE"}
# Family -> ops its int8 graph must have (its special layers survived as int8 builtins).
FAMILY_OPS = {
    "mobilenetv3": {"HARD_SWISH", "MUL", "MEAN"},  # hard-swish fused, squeeze-excite gate MUL
    "mixnet": {"SPLIT_V", "CONCATENATION", "LOGISTIC", "MUL"},  # MixConv split/concat, swish
    "shufflenet_v1": {"TRANSPOSE", "CONCATENATION"},  # channel shuffle, pooled shortcut concat
    "shufflenet_v2": {"TRANSPOSE", "SPLIT_V", "CONCATENATION"},
    "squeezenet": {"CONCATENATION", "MAX_POOL_2D"},  # Fire
    "rexnet": {"SPLIT_V", "CONCATENATION", "LOGISTIC"},  # partial residual
    "xception": {"DEPTHWISE_CONV_2D", "CONV_2D", "MAX_POOL_2D"},  # separable convs split in two
}
FAST = ("mobilenetv3", "shufflenet_v1")
MAX_STEPS = 6  # LiteRT vs the QAT model, in int8 output steps (measured: 0-4; bias and requantization rounding)


def _model(name, resolution=None, **kwargs):
    resolution = resolution or max(32, small_resolution(name))
    model = create_model(name, input_shape=(resolution, resolution, 3), classes=10, **kwargs)
    return randomize_weights(model), resolution


def _ops(content):
    plain = tflite.interpreter(content, delegates=False)
    return [op["op_name"] for op in plain._get_ops_details()]


def _compare(qat, content, images):
    """``(max abs diff, in output steps, argmax agreement on decisive samples)`` of LiteRT vs the QAT model."""
    runner = tflite.Runner(content)
    expected = np.asarray(qat(images, training=False))
    got = runner(images)
    step = runner.output["quantization"][0]
    diff = float(np.abs(got - expected).max())
    top = np.sort(expected, axis=-1)
    decisive = top[:, -1] - top[:, -2] > 4 * step  # a 1-2 step rounding difference cannot flip them
    agree = expected.argmax(-1)[decisive] == got.argmax(-1)[decisive]
    return diff, diff / step, agree, int(decisive.sum())


def test_mobilenetv2_trains_and_converts_to_int8_builtins():
    model, resolution = _model("mobilenetv2_035")
    logits = model.get_layer("logits")
    kernel, bias = logits.get_weights()
    logits.set_weights([kernel * 20.0, bias])  # spread the softmax so that some samples are decisive
    qat = keras3_qat.quantize_model(model)
    kinds = {type(layer).__name__ for layer in qat.layers}
    assert kinds == {"InputLayer", "QuantConv", "FakeQuant", "ReLU", "Add", "GlobalAveragePooling2D", "Activation"}
    assert qat.get_layer("stem_conv").batch_norm.name == "stem_bn"  # BN folded, no BN layer left
    # ReLU6 fused into the conv: the range sits after the activation, none between conv and ReLU.
    assert type(qat.get_layer("stem_act").input._keras_history[0]).__name__ == "QuantConv"
    assert isinstance(qat.get_layer("stem_act_fq"), FakeQuant)

    images = random_images(resolution, batch=16, seed=1)
    labels = np.arange(16) % 10
    qat.compile(keras.optimizers.SGD(1e-3), "sparse_categorical_crossentropy")
    frozen_stats = np.array(qat.get_layer("stem_conv").batch_norm.moving_mean)
    history = qat.fit(images, labels, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    np.testing.assert_array_equal(qat.get_layer("stem_conv").batch_norm.moving_mean, frozen_stats)
    low, high = float(qat.get_layer("image_fq").min_value), float(qat.get_layer("image_fq").max_value)
    assert low == 0.0 and 250.0 < high <= 255.0  # the input range was learned from the batches

    content = keras3_qat.convert_qat(qat)
    facts = keras3_qat.check_full_integer(content)
    assert facts["input_dtype"] == "int8" and facts["output_dtype"] == "int8"
    ops = _ops(content)
    assert set(ops) <= {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MEAN", "FULLY_CONNECTED", "SOFTMAX", "RESHAPE"}, ops
    assert ops.count("CONV_2D") == 35 and ops.count("DEPTHWISE_CONV_2D") == 18  # 17 + the input affine
    diff, steps, agree, decisive = _compare(qat, content, random_images(resolution, batch=16, seed=2))
    assert steps <= 2, f"max abs diff {diff} ({steps} output steps)"
    assert decisive >= 4 and agree.all()



def _family_roundtrip(family):
    name = REPRESENTATIVES[family]
    model, resolution = _model(name, classifier_activation=None)  # logits: a finer comparison than softmax
    qat = keras3_qat.quantize_model(model)
    qat(random_images(resolution, batch=4, seed=1), training=True)  # one batch sets the ranges
    content = keras3_qat.convert_qat(qat)  # check_full_integer inside: builtin ops, int8 tensors only
    ops = set(_ops(content))
    assert ops <= INT8_OPS and FAMILY_OPS.get(family, set()) <= ops, sorted(ops)
    diff, steps, agree, _ = _compare(qat, content, random_images(resolution, batch=8, seed=2))
    assert steps <= MAX_STEPS, f"{name}: max abs diff {diff} ({steps} output steps)"
    assert agree.all()
    return qat


@pytest.mark.parametrize("family", FAST)
def test_family_converts_full_integer(family, tmp_path):
    qat = _family_roundtrip(family)
    if family == "shufflenet_v1":  # its average-pooled shortcut became a frozen depthwise conv
        pool = qat.get_layer("stage1_block1_shortcut_pool")
        assert isinstance(pool, QuantConv) and not pool.trainable_weights
    if family == "mobilenetv3":
        _check_keras_file_round_trip(qat, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("family", [  # CI: MixNet (a BatchNorm after a concat, split per branch); the rest exhaustive
    family if family == "mixnet" else pytest.param(family, marks=pytest.mark.exhaustive)
    for family in sorted(set(REPRESENTATIVES) - set(FAST) - {"mobilenetv2"})])
def test_family_converts_full_integer_slow(family):
    qat = _family_roundtrip(family)
    if family == "xception":  # SeparableConv2D -> depthwise QuantConv -> FakeQuant -> pointwise QuantConv (+BN)
        assert qat.get_layer("entry1_sep1_conv").batch_norm.name == "entry1_sep1_bn"
        assert isinstance(qat.get_layer("entry1_sep1_conv_depthwise_fq"), FakeQuant)
    if family == "mobilenetv1":  # uint8 input and output
        uint8 = keras3_qat.convert_qat(qat, io_dtype="uint8")
        assert keras3_qat.check_full_integer(uint8)["input_dtype"] == "uint8"
    if family == "mixnet":  # the BN after a MixConv concatenation is folded into every branch
        assert all(type(layer).__name__ != "BatchNormalization" for layer in qat.layers)


def _check_keras_file_round_trip(qat, tmp_path):
    images = random_images(qat.inputs[0].shape[1], batch=2, seed=3)
    path = tmp_path / "qat.keras"
    qat.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(np.asarray(loaded(images)), np.asarray(qat(images)))
    assert keras3_qat.is_quantized(loaded)
    # Depthwise (h, w, C, 1) weights: one range per channel C, symmetric narrow range.
    layer = next(l for l in loaded.layers if isinstance(l, QuantConv) and l.kind == "DepthwiseConv2D" and l.trainable)
    kernel = np.asarray(layer.quantized_kernel())
    flat = kernel.reshape(-1, kernel.shape[2] * kernel.shape[3])
    steps = flat / (np.abs(flat).max(axis=0) / 127.0)
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)
    assert np.abs(steps).max() <= 127.0 + 1e-3


_CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    import keras
    from keras_mobile.registry import create_model
    from keras_mobile.compression import keras3_qat
    case = json.loads(sys.argv[1])
    model = create_model("mobilenetv2_035", input_shape=(32, 32, 3), classes=10)
    model.load_weights(case["weights"])
    qat = keras3_qat.quantize_model(model)
    images = np.load(case["images"])
    qat.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")  # moves any nonzero gradient
    before = [np.array(w) for w in qat.trainable_weights]
    loss = qat.fit(images, np.arange(len(images)) % 10, batch_size=4, epochs=1, verbose=0).history["loss"][0]
    changed = sum(not np.array_equal(b, np.array(w)) for b, w in zip(before, qat.trainable_weights))
    qat.save(case["saved"])
    reloaded = keras.saving.load_model(case["saved"])
    outputs = np.asarray(qat(images))
    print("RESULT" + json.dumps({
        "backend": keras.backend.backend(), "loss": float(loss), "changed": changed, "trainable": len(before),
        "updates": float(qat.get_layer("image_fq").updates), "outputs": outputs.tolist(),
        "reload_diff": float(np.abs(np.asarray(reloaded(images)) - outputs).max()),
        "tensorflow_imported": "tensorflow" in sys.modules,
    }))
""")


# ~50 s: a child process compiling a JAX train step, then the TensorFlow conversion here. Exhaustive tier for now:
# green in three CI passes (2026-12-08) but failed once under `-n 2` in a fresh venv and passed alone after;
# the cause (child timeout under load, or a JAX-vs-TensorFlow rounding at an int8 step against atol=1e-5) is
# open on the Keras 3 compression issue.
@pytest.mark.exhaustive
@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_trains_on_other_backends(backend, tmp_path):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    # randomize_weights' BN gammas (~0.1) shrink the gradient tenfold per layer (1e-32 at the stem, below what an
    # SGD step moves); gammas near 1 keep it, and the random classifier keeps the output away from uniform.
    model, _ = _model("mobilenetv2_035")
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            layer.gamma.assign(rng.uniform(0.5, 1.5, layer.gamma.shape).astype("float32"))
    model.save_weights(str(tmp_path / "float.weights.h5"))
    images = random_images(32, batch=8, seed=5)
    np.save(tmp_path / "images.npy", images)
    case = {"weights": str(tmp_path / "float.weights.h5"), "images": str(tmp_path / "images.npy"),
            "saved": str(tmp_path / f"qat_{backend}.keras")}
    extra = {"JAX_PLATFORMS": "cpu", "XLA_FLAGS": "--xla_backend_optimization_level=0"} if backend == "jax" else {}
    done = run_python(["-c", _CHILD, json.dumps(case)], timeout=240,
                      env=python_env(legacy=False, KERAS_BACKEND=backend, **extra))
    report = json.loads(next(l for l in done.stdout.splitlines() if l.startswith("RESULT"))[len("RESULT"):])
    assert report["backend"] == backend and np.isfinite(report["loss"])
    assert report["updates"] == 2.0  # two training batches moved the ranges
    assert report["changed"] >= 0.9 * report["trainable"], report["changed"]  # straight-through gradients
    assert report["reload_diff"] == 0.0
    # The child's trained model, loaded here on TensorFlow, computes the same and converts to int8.
    trained = keras.saving.load_model(case["saved"])
    np.testing.assert_allclose(np.asarray(trained(images)), np.asarray(report["outputs"]), atol=1e-5)
    keras3_qat.check_full_integer(keras3_qat.convert_qat(trained))


# --------------------------------------------------------------------------- errors
def test_errors_name_the_model_and_what_is_accepted():
    class Subclassed(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(TypeError, match=r"quantize_model: model 'odd' is a Subclassed; .*functional model"):
        keras3_qat.quantize_model(Subclassed(name="odd"))
    model = create_model("mobilenetv1_025", input_shape=(32, 32, 3), classes=10)
    qat = keras3_qat.quantize_model(model)
    with pytest.raises(ValueError, match=r"model 'mobilenetv1_0.25' is already quantized .*pass the float"):
        keras3_qat.quantize_model(qat)
    with pytest.raises(ValueError, match=r"convert_qat: model 'mobilenetv1_0.25' has no FakeQuant"):
        keras3_qat.convert_qat(model)
    with pytest.raises(ValueError, match=r"io_dtype='int16'.*accepted values: \['int8', 'uint8'\]"):
        keras3_qat.convert_qat(qat, io_dtype="int16")
    inputs = keras.Input((8, 8, 3))
    odd = keras.Model(inputs, keras.layers.LayerNormalization(name="norm")(keras.layers.Conv2D(4, 1)(inputs)))
    with pytest.raises(ValueError, match=r"norm \(LayerNormalization\).*accepted layers with weights"):
        keras3_qat.quantize_model(odd)


@keras.saving.register_keras_serializable(package="keras_mobile_tests", name="ErfInv")
class ErfInv(keras.layers.Layer):
    def call(self, x):
        return keras.ops.erfinv(keras.ops.tanh(x) * 0.5)


def test_flex_op_is_an_error_naming_op_and_layer():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    model = keras.Model(inputs, ErfInv(name="odd_activation")(x))
    qat = keras3_qat.quantize_model(model)
    qat(random_images(8, batch=2), training=True)
    with pytest.raises(ValueError, match=r"\['Erfinv'\], from layers \['odd_activation'\].*no Flex"):
        keras3_qat.convert_qat(qat)

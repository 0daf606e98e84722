"""QAT wrapping and full-integer int8 TFLite (builtin ops, <= 4-D) for every registered family."""

import numpy as np
import pytest
from helpers import REPRESENTATIVES, random_images, small_resolution

from keras_mobile import compression, tflite
from keras_mobile.registry import create_model

pytestmark = pytest.mark.tf_keras_line  # TF-MOT needs tf_keras

FAST = ("mobilenetv2_035", "mobilenetv3_small_075")


def _qat_roundtrip(name):
    resolution = max(32, small_resolution(name))
    model = create_model(name, input_shape=(resolution, resolution, 3), classes=10)
    qat = compression.quantize_model(model)
    kinds = {type(layer).__name__ for layer in qat.layers}
    assert kinds <= {"InputLayer", "QuantizeLayer", "QuantizeWrapperV2"}, kinds
    images = random_images(resolution, batch=2)
    expected = qat(images, training=False).numpy()
    content = compression.convert_qat(qat)
    facts = compression.check_full_integer(content)  # builtin ops, <= 4-D, no float tensor
    assert facts["input_dtype"] == "int8" and facts["output_dtype"] == "int8"
    assert facts["max_rank"] <= tflite.MAX_TENSOR_RANK
    got = tflite.Runner(content)(images)
    assert got.shape == expected.shape and np.all(np.isfinite(got))
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=0.05)  # a softmax survived
    return facts


@pytest.mark.parametrize("name", FAST)
def test_qat_int8_fast(name):
    facts = _qat_roundtrip(name)
    if name.startswith("mobilenetv3"):
        assert "MUL" in facts["ops"]  # squeeze-excite and hard-swish stayed int8 MUL


# The two slowest to wrap and convert (~45 s each on 2 cores) run in the exhaustive tier: MixNet's channel split
# and concat and ReXNet's squeeze-excite use the quantize configs that ShuffleNetV2's split, SqueezeNet's Fire
# concat and MobileNetV3's squeeze-excite exercise here.
EXHAUSTIVE_ONLY = ("mixnet_s", "rexnet_100")


@pytest.mark.slow
@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.exhaustive) if name in EXHAUSTIVE_ONLY else name
    for name in sorted(set(REPRESENTATIVES.values()) - set(FAST))])
def test_qat_int8_every_family(name):
    facts = _qat_roundtrip(name)
    if name.startswith("shufflenet"):
        assert "TRANSPOSE" in facts["ops"]  # the channel shuffle


def test_quantize_model_errors():
    model = create_model("mobilenetv2_035", input_shape=(32, 32, 3), classes=10)
    with pytest.raises(ValueError, match=r"scheme='int4'.*accepted values: \['default_8bit', 'prune_preserve'\]"):
        compression.quantize_model(model, scheme="int4")
    with pytest.raises(ValueError, match="quantize_configs"):
        compression.quantize_model(model, quantize_configs=["Multiply"])
    with pytest.raises(ValueError, match="has no quantize wrappers"):
        compression.convert_qat(model)
    with pytest.raises(ValueError, match="io_dtype='int16'"):
        compression.convert_qat(compression.quantize_model(model), io_dtype="int16")


def test_unknown_custom_layer_is_named():
    import tf_keras

    class Odd(tf_keras.layers.Layer):
        def call(self, x):
            return x * 2.0

    inputs = tf_keras.Input((8, 8, 3))
    model = tf_keras.Model(inputs, Odd(name="odd")(tf_keras.layers.Conv2D(4, 1)(inputs)))
    with pytest.raises(ValueError, match=r"odd \(Odd\).*quantize_configs"):
        compression.quantize_model(model)


def test_export_of_a_qat_model_is_int8_checked_against_the_qat_model(tmp_path):
    import json

    import keras_mobile

    model = create_model("mobilenetv2_035", input_shape=(32, 32, 3), classes=10)
    qat = compression.quantize_model(model)
    with pytest.raises(ValueError, match=r"is a quantization-aware \(QAT\) model, exported as \['savedmodel', "
                                         r"'tflite_int8'\] only; \['tflite_fp32'\] need the float model"):
        keras_mobile.export_model(qat, tmp_path / "bad", formats=("tflite_int8", "tflite_fp32"))
    assert not (tmp_path / "bad").exists()
    images = random_images(32, batch=8)
    # An untrained 10-class softmax is near-uniform: its int8 arg-max is a coin toss among near-ties, so the
    # export compares by max abs difference alone (min_top1=None), and this test by the figure it reports.
    report = keras_mobile.export_model(qat, tmp_path / "out", formats=("tflite_int8",), sample_inputs=images,
                                       tolerances={"tflite_int8": {"min_top1": None}})
    entry = report["formats"]["tflite_int8"]
    content = (tmp_path / "out" / "model_int8.tflite").read_bytes()
    compression.check_full_integer(content)
    # The report compares the int8 file with the QAT Keras model, and it is convert_qat's graph.
    expected = qat(images, training=False).numpy()
    got = tflite.Runner(content)(images)
    assert entry["max_abs_diff"] == pytest.approx(float(np.max(np.abs(got - expected))), rel=1e-5)
    assert content == compression.convert_qat(qat)
    assert json.loads((tmp_path / "out" / "export_report.json").read_text())["model"] == qat.name

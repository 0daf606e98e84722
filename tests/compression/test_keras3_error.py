"""A Keras 3 model gets a clear TypeError from every TF-MOT entry point, before TF-MOT is imported (pruning's and
quantize_model's on the tf_keras line only: on the Keras 3 line they prune and quantize without TF-MOT)."""

import sys

import pytest

from keras_mobile import backend, compression

pytestmark = pytest.mark.both_lines  # the error comes before TF-MOT on either line

ENTRY_POINTS = {
    "quantize_annotate": lambda m: compression.quantize_annotate(m),  # TF-MOT's annotation step: tf_keras only
}
if backend.IS_LEGACY_KERAS:  # on the Keras 3 line they prune / quantize it (test_magnitude_pruning.py, test_keras3_qat.py)
    ENTRY_POINTS.update({
        "quantize_model": lambda m: compression.quantize_model(m),
        "prune_model": lambda m: compression.prune_model(m, 0.5),
        "strip_pruning": lambda m: compression.strip_pruning(m),
    })


def _keras3_model():
    if backend.IS_LEGACY_KERAS:
        import keras  # the Keras 3 package, imported directly on the tf_keras line

        inputs = keras.Input((32, 32, 3))
        return keras.Model(inputs, keras.layers.Conv2D(4, 3)(inputs), name="k3")
    from keras_mobile import create_model

    return create_model("mobilenetv2_035", input_shape=(32, 32, 3), classes=10)


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_keras3_model_gets_clear_error(entry):
    model = _keras3_model()
    before = "tensorflow_model_optimization" in sys.modules
    with pytest.raises(TypeError) as info:
        ENTRY_POINTS[entry](model)
    message = str(info.value)
    assert "Keras 3 model" in message
    assert "TF_USE_LEGACY_KERAS=1" in message and "create_model" in message and "tf_keras" in message
    assert entry in message
    if not backend.IS_LEGACY_KERAS:
        assert not before and "tensorflow_model_optimization" not in sys.modules

"""Post-training full-integer quantization (PTQ): the baseline QAT has to beat.

    content = compression.ptq_int8(model, representative_data=calibration_images)

Calibration images are in the model's own input convention (keras_mobile:
RGB in [0, 255]); every tensor gets an int8 range from them, weights per channel.
"""

from keras_mobile import tflite
from keras_mobile.compression._require import on_keras3, require_tf_keras

from keras_mobile.compression import qat as _qat


def ptq_int8(model, representative_data, resolution=None, io_dtype="int8", calibration_steps=200, check=True):
    """Full-integer TFLite bytes of a float model calibrated on ``representative_data`` (builtin ops only).

    representative_data: numpy images ``(n, h, w, c)``, a ``tf.data.Dataset`` or a
        callable returning batches (see ``keras_mobile.tflite.representative_batches``).
    calibration_steps: at most this many images are used.
    check: verify builtin ops only, no tensor above 4-D and no float tensor left.
    Works on float tf_keras and Keras 3 (TensorFlow backend) models; a QAT model
    goes through ``convert_qat`` instead (TypeError here).
    """
    if _qat.is_quantized(model):
        raise TypeError(
            f"ptq_int8: model '{model.name}' is a QAT model (has quantize wrappers); convert it with convert_qat(model)."
        )
    if representative_data is None:
        raise ValueError("ptq_int8: representative_data is required (calibration images in the model's input convention).")
    content = tflite.convert_model(
        model,
        "int8",
        resolution,
        representative_data=representative_data,
        io_dtype=io_dtype,
        calibration_steps=calibration_steps,
    )
    if check:
        _qat.check_full_integer(content, f"PTQ int8 model '{model.name}'")
    return content


def convert_int8(model, representative_data=None, resolution=None, io_dtype="int8", **kwargs):
    """Full-integer TFLite of any model: ``convert_qat`` for a QAT model, else ``ptq_int8``."""
    if _qat.is_quantized(model):
        if not on_keras3(model):
            require_tf_keras(model, "convert_int8")
        return _qat.convert_qat(model, resolution, io_dtype, **kwargs)
    return ptq_int8(model, representative_data, resolution, io_dtype, **kwargs)

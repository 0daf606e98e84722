"""Post-training full-integer quantization (the baseline) and its argument errors."""

import numpy as np
import pytest
from helpers import random_images

from keras_mobile import compression, tflite
from keras_mobile.registry import create_model

pytestmark = pytest.mark.both_lines  # the converter on either line (a Keras 3 model: no tf_keras), QAT refused on both


def test_ptq_int8_builtin_full_integer():
    model = create_model("mobilenetv3_small_075", input_shape=(32, 32, 3), classes=10)
    content = compression.ptq_int8(model, random_images(32, batch=8), calibration_steps=8)
    facts = compression.check_full_integer(content)
    assert facts["input_dtype"] == "int8" and facts["max_rank"] <= 4
    out = tflite.Runner(content)(random_images(32, batch=2, seed=1))
    assert out.shape == (2, 10) and np.all(np.isfinite(out))
    assert compression.gzip_size(content) < len(content)


def test_ptq_errors():
    model = create_model("mobilenetv2_035", input_shape=(32, 32, 3), classes=10)
    with pytest.raises(ValueError, match="representative_data is required"):
        compression.ptq_int8(model, None)
    with pytest.raises(ValueError, match="io_dtype='float32'"):
        compression.ptq_int8(model, random_images(32), io_dtype="float32")
    with pytest.raises(TypeError, match="convert_qat"):
        compression.ptq_int8(compression.quantize_model(model), random_images(32))

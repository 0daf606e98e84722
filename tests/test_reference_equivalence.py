"""Our MobileNetV1/V2/V3 and Xception equal keras.applications' (tf_keras.applications' on that line).

Same parameter count, same weight shapes in the same order, and after copying the
reference's weights into ours the outputs agree within 1e-5 on random input.
"""

import numpy as np
import pytest

import keras_mobile
from helpers import keras, randomize_weights
from keras_mobile.profile import trainable_params

applications = keras.applications

# The CI tier takes the smallest width of each builder and kind (rounding per width is pinned by the
# parameter counts, tests/test_model_figures.py); the exhaustive tier every published width.
CASES = (
    [("MobileNet", {"alpha": a}, False) for a in (0.25, 0.5, 0.75, 1.0)]
    + [("MobileNetV2", {"alpha": a}, False) for a in (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)]
    + [
        (f"MobileNetV3{kind}", {"alpha": a, "minimalistic": m}, True)
        for kind in ("Large", "Small")
        for a in (0.75, 1.0)
        for m in (False, True)
    ]
    + [("Xception", {}, False)]
)
SMALLEST = {"MobileNet": 0.25, "MobileNetV2": 0.35, "MobileNetV3Large": 0.75, "MobileNetV3Small": 0.75}
CASES = [
    pytest.param(*case, marks=() if case[1].get("alpha", 1.0) == SMALLEST.get(case[0], 1.0) else pytest.mark.exhaustive)
    for case in CASES
]


@pytest.mark.both_lines  # against tf_keras.applications on that line
@pytest.mark.parametrize("builder, kwargs, preprocessing", CASES, ids=lambda v: str(v))
def test_matches_keras_applications(builder, kwargs, preprocessing):
    resolution = 299 if builder == "Xception" else 224
    shape = (resolution, resolution, 3)
    reference = getattr(applications, builder)(input_shape=shape, weights=None, **kwargs)
    ours = getattr(keras_mobile, builder)(input_shape=shape, include_preprocessing=preprocessing, **kwargs)

    assert trainable_params(ours) == trainable_params(reference)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in reference.weights]

    randomize_weights(reference, seed=1)
    ours.set_weights(reference.get_weights())
    rng = np.random.default_rng(2)
    # keras.applications' V1/V2/Xception take [-1, 1]; V3 takes [0, 255] like ours with preprocessing.
    images = rng.uniform(0, 255, (2,) + shape) if preprocessing else rng.uniform(-1, 1, (2,) + shape)
    images = images.astype("float32")
    expected = np.asarray(reference(images, training=False))
    actual = np.asarray(ours(images, training=False))
    assert actual.shape == expected.shape == (2, 1000)
    np.testing.assert_allclose(actual, expected, atol=1e-5, rtol=0)

"""Registered models: run, round-trip through .keras, feature maps, heads, any resolution.

The round trip runs on every structurally distinct variant (the representatives on tf_keras) in the CI tier, on every
other variant in the exhaustive tier; every variant's layer checks (no Lambda, unique names) and figures
are in tests/test_model_figures.py. Parametrized over the registry, so a registration is enrolled
automatically.
"""

import math

import numpy as np
import pytest

from helpers import ALL_MODELS, LEGACY, REPRESENTATIVES, STRUCTURAL_VARIANTS, keras, random_images, randomize_weights
from helpers import small_resolution
from keras_mobile.registry import create_model
from keras_mobile.pretrained.legacy_h5 import NewClassifierWarning

FAMILY_REPRESENTATIVES = sorted(REPRESENTATIVES.values())
# The round trip in the CI tier: every structurally distinct variant on Keras 3; on tf_keras (a .keras round
# trip there takes ~3x longer) the representatives, whose layer classes are every one the zoo uses there.
ROUND_TRIP = FAMILY_REPRESENTATIVES if LEGACY else STRUCTURAL_VARIANTS
OTHER_VARIANTS = [name for name in ALL_MODELS if name not in ROUND_TRIP]


def _round_trip(name, tmp_path):
    resolution = small_resolution(name)
    model = randomize_weights(create_model(name, input_shape=(resolution, resolution, 3)))
    images = random_images(resolution)
    probabilities = np.asarray(model(images, training=False))
    assert probabilities.shape == (2, 1000)
    assert np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)

    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_array_equal(np.asarray(restored(images, training=False)), probabilities)


@pytest.mark.both_lines
@pytest.mark.parametrize("name", ROUND_TRIP)
def test_forward_and_keras_round_trip(name, tmp_path):
    _round_trip(name, tmp_path)


@pytest.mark.exhaustive
@pytest.mark.both_lines
@pytest.mark.parametrize("name", OTHER_VARIANTS)
def test_forward_and_keras_round_trip_every_variant(name, tmp_path):
    _round_trip(name, tmp_path)


@pytest.mark.parametrize("name", FAMILY_REPRESENTATIVES)
def test_feature_maps(name):
    resolution = 224
    model = create_model(name, input_shape=(resolution, resolution, 3), features_only=True)
    outputs = model(random_images(resolution, batch=1), training=False)
    strides = sorted(int(key.split("_")[1]) for key in outputs)
    assert strides == [2 ** i for i in range(1, len(strides) + 1)]
    assert strides[-1] >= 16
    for stride in strides:
        height, width = outputs[f"stride_{stride}"].shape[1:3]
        assert height == width
        assert resolution / stride - 4 <= height <= math.ceil(resolution / stride)


@pytest.mark.parametrize("name", FAMILY_REPRESENTATIVES)
def test_headless_pooling_and_custom_classes(name):
    resolution = small_resolution(name)
    shape = (resolution, resolution, 3)
    images = random_images(resolution)
    features = create_model(name, input_shape=shape, include_top=False)
    assert len(features.output.shape) == 4
    channels = features.output.shape[-1]
    for pooling in ("avg", "max"):
        pooled = create_model(name, input_shape=shape, include_top=False, pooling=pooling)
        assert tuple(pooled(images).shape) == (2, channels)
    logits = create_model(name, input_shape=shape, classes=10, classifier_activation=None)
    assert tuple(logits(images).shape) == (2, 10)
    assert logits.layers[-1].name == "logits"


@pytest.mark.parametrize("name", FAMILY_REPRESENTATIVES)
def test_any_resolution_and_input_tensor(name):
    resolution = small_resolution(name) + 17  # odd, non-default
    model = create_model(name, input_shape=(None, None, 3))
    assert tuple(model(random_images(resolution, batch=1)).shape) == (1, 1000)
    tensor = keras.Input((resolution, resolution, 3))
    wrapped = create_model(name, input_tensor=tensor)
    assert len(wrapped.inputs) == 1 and wrapped.inputs[0] is tensor  # built on the caller's tensor, not a copy


@pytest.mark.both_lines  # weights files are written and read by each line's own code
def test_local_weights_file_round_trip(tmp_path):
    shape = (64, 64, 3)
    trained = randomize_weights(create_model("mobilenetv3_small_075", input_shape=shape, classes=7), seed=3)
    path = str(tmp_path / "small.weights.h5")
    trained.save_weights(path)
    loaded = create_model("mobilenetv3_small_075", input_shape=shape, classes=7, weights=path)
    images = random_images(64)
    np.testing.assert_array_equal(np.asarray(loaded(images)), np.asarray(trained(images)))


@pytest.mark.both_lines
def test_weights_file_with_other_classes_gets_a_new_classifier_named_in_a_warning(tmp_path):
    path = str(tmp_path / "ten.weights.h5")
    create_model("mobilenetv2_035", input_shape=(64, 64, 3), classes=10).save_weights(path)
    with pytest.warns(NewClassifierWarning, match=r"classifier 'logits'.*\(1280, 1000\) \(file \(1280, 10\)\)"):
        create_model("mobilenetv2_035", input_shape=(64, 64, 3), classes=1000, weights=path)


@pytest.mark.tf_keras_line  # the legacy HDF5 weights layout is written by tf_keras
def test_legacy_h5_weights_with_other_classes_get_a_new_classifier(tmp_path):
    path = str(tmp_path / "ten.h5")
    create_model("mobilenetv2_035", input_shape=(64, 64, 3), classes=10).save_weights(path)
    with pytest.warns(NewClassifierWarning, match=r"classifier 'logits'"):
        create_model("mobilenetv2_035", input_shape=(64, 64, 3), weights=path)
    create_model("mobilenetv2_035", input_shape=(64, 64, 3), classes=10, weights=path)

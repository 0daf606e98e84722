"""Weights end to end: a converted checkpoint, or weights="imagenet", -> create_model -> TFLite -> same top-1.

Each test loads weights the way a user does, exports the model with ``export_model`` (which checks the TFLite
file against the Keras model on its sample inputs) and runs the exported file once more with ``tflite.Runner``
on ``sample_images``, comparing arg-maxes explicitly. The models output logits (``classifier_activation=None``,
an untrained 1000-class softmax being near-uniform), and the weights are chosen so that top-1 means something:
the sample images win several different classes, each by a margin wider than twice the fp32 tolerance, so a
file within that tolerance must keep every top-1, and one that does not fails. (Seeded random weights alone
give every image the same class: MixNet-S is the converted family whose seeded checkpoint does not; the
ImageNet file gets calibrated BatchNorm statistics and a classifier bias centred on the pooled features.)
"""

import os

import numpy as np
import pytest

import keras_mobile
from keras_mobile import tflite
import test_pretrained_imagenet as imagenet_tests
from keras_mobile.testing import calibrate_batchnorm, sample_images
from test_pretrained_imagenet import KA, _randomize, _save_legacy, keras
from torch_fixtures import load_fixture, seeded_images, seeded_state_dict

safetensors_numpy = pytest.importorskip("safetensors.numpy")

offline_cache = imagenet_tests.offline_cache  # the fixture: an empty Keras cache, no network
FP32_TOLERANCE = 1e-4  # export's own tflite_fp32 check: max abs diff / max(1, max |Keras output|)


def _export_and_compare(model, directory, images):
    """Export ``model`` to fp32 TFLite, check the report, run the file on ``images``: the TFLite outputs."""
    keras_logits = np.asarray(model(images, training=False))
    top1 = keras_logits.argmax(-1)
    ranked = np.sort(keras_logits, axis=-1)
    scale = max(1.0, float(np.abs(keras_logits).max()))
    # the comparison means something: several classes win, each by more than the tolerance allows to move
    assert len(np.unique(top1)) >= 4
    assert float((ranked[:, -1] - ranked[:, -2]).min()) > 2 * FP32_TOLERANCE * scale

    report = keras_mobile.export_model(model, directory, formats=("tflite_fp32",), sample_inputs=images)
    entry = report["formats"]["tflite_fp32"]
    assert entry["top1_agreement"] == 1.0 and entry["max_abs_diff"] <= FP32_TOLERANCE
    assert report["samples"] == len(images) and report["float_top1_classes"] == len(np.unique(top1))

    with open(os.path.join(directory, entry["path"]), "rb") as f:
        runner = tflite.Runner(f.read())
    tflite_logits = runner(images)
    np.testing.assert_array_equal(tflite_logits.argmax(-1), top1)
    np.testing.assert_allclose(tflite_logits, keras_logits, rtol=0, atol=FP32_TOLERANCE * scale)
    return runner


def test_converted_checkpoint_to_tflite_keeps_top1(tmp_path):
    """timm MixNet-S's seeded checkpoint (.safetensors) -> convert_weights -> weights=FILE -> TFLite, whose logits
    on the fixture's images are the torch reference's."""
    name = "mixnet_s"
    spec, reference = load_fixture(name)
    checkpoint = str(tmp_path / f"{name}.safetensors")
    safetensors_numpy.save_file(seeded_state_dict(spec["state_dict"], spec["seed"]), checkpoint)
    weights = keras_mobile.convert_weights(checkpoint, name, str(tmp_path / f"{name}.weights.h5"))

    size = spec["resolution"]
    model = keras_mobile.create_model(name, weights=weights, input_shape=(size, size, 3), classifier_activation=None)
    runner = _export_and_compare(model, str(tmp_path / "export"), sample_images((size, size, 3), 16, seed=2))

    # the exported file against PyTorch itself: the committed reference logits on the fixture's images
    images = seeded_images(spec["seed"], spec["images"], size)
    found = runner(images)
    np.testing.assert_array_equal(found.argmax(-1), reference.argmax(-1))
    np.testing.assert_allclose(found, reference, rtol=0, atol=FP32_TOLERANCE * float(np.abs(reference).max()))


def test_imagenet_weights_to_tflite_keep_top1(offline_cache, tmp_path):
    """weights="imagenet" (keras.applications MobileNetV2 0.35 at 96 px, seeded, in the offline cache) -> TFLite,
    whose top-1 is keras.applications' own on the same images."""
    theirs = _randomize(KA.MobileNetV2(alpha=0.35, input_shape=(96, 96, 3), weights=None, classifier_activation=None))
    calibration = sample_images((96, 96, 3), 32, seed=1) / 127.5 - 1.0  # keras.applications' "tf" preprocessing
    calibrate_batchnorm(theirs, calibration)
    head = theirs.get_layer("predictions")
    pooled = np.asarray(keras.Model(theirs.input, head.input)(calibration))
    kernel, _ = head.get_weights()
    head.set_weights([kernel, -pooled.mean(0) @ kernel])  # the mean image's logits 0: the image decides top-1
    _save_legacy(theirs, offline_cache / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96.h5")  # no md5
    model = keras_mobile.create_model("mobilenetv2_035", input_shape=(96, 96, 3), weights="imagenet",
                                      classifier_activation=None)
    images = sample_images((96, 96, 3), 16, seed=2)
    runner = _export_and_compare(model, str(tmp_path / "export"), images)
    expected = np.asarray(theirs(images / 127.5 - 1.0)).argmax(-1)  # keras.applications' "tf" preprocessing
    np.testing.assert_array_equal(runner(images).argmax(-1), expected)

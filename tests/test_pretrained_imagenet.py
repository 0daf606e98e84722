"""weights="imagenet": keras.applications' published files, chosen, fetched through Keras' cache, loaded.

Nothing here touches the network. ``offline_cache`` points ``KERAS_HOME`` at a temporary directory and
makes every host name fail to resolve, as offline. The files put in it are keras.applications models of this
Keras line with seeded random weights, saved in the published legacy HDF5 layout under the published file
names (tf_keras ``save_weights("x.h5")``, the writer of the published files; Keras 3's legacy writer on the
Keras 3 line). A model loaded from such a file must give keras.applications' outputs for the same images.
"""

import hashlib
import importlib
import logging
import os
import pathlib
import re
import socket

import h5py
import numpy as np
import pytest

import keras_mobile
from helpers import LEGACY, keras, random_images, randomize_weights
from keras_mobile.pretrained import imagenet, legacy_h5, load_weights
from keras_mobile.pretrained.imagenet import ImagenetDownloadError, ImagenetFile, published_file

APPLICATIONS = importlib.import_module(f"{keras.__name__}.src.applications")
KA = keras.applications
V1_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"


# --------------------------------------------------------------------------- helpers
@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    """An empty Keras cache (``$KERAS_HOME/models``) on a machine with no network (no host name resolves, as
    offline, whichever URL opener a Keras line uses); returns its models dir."""
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))

    def offline(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution (test: offline)")

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    (home / "models").mkdir(parents=True)
    return home / "models"


def _randomize(model, seed=0):
    """Seeded weights that keep activations O(1) through a deep net: BN gamma / variance in [0.5, 1.5],
    the rest normal / sqrt(fan-in)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = []
        for weight in layer.weights:
            shape = tuple(weight.shape)
            if "gamma" in weight.name or "variance" in weight.name:
                values.append(rng.uniform(0.5, 1.5, shape).astype("float32"))
            else:
                fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
                values.append((rng.standard_normal(shape) / np.sqrt(fan_in)).astype("float32"))
        if values:
            layer.set_weights(values)
    return model


def _save_legacy(model, path):
    """``model``'s weights in the legacy HDF5 layout, with its own layer names."""
    path = str(path)
    if LEGACY:
        model.save_weights(path)
    else:
        from keras.src.legacy.saving import legacy_h5_format

        with h5py.File(path, "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


def _publish(theirs, models_dir, fname, monkeypatch, seed=0):
    """Save ``theirs`` (a keras.applications model) with random weights as the published ``fname``; where
    keras.applications checks an md5, let the test's file pass for the published one."""
    path = _save_legacy(_randomize(theirs, seed), models_dir / fname)
    if fname in imagenet.FILE_HASHES:
        monkeypatch.setitem(imagenet.FILE_HASHES, fname, hashlib.md5(pathlib.Path(path).read_bytes()).hexdigest())
    return path


def _assert_same_outputs(ours, theirs, resolution, tf_preprocessing=True):
    """Ours on [0, 255] images vs keras.applications on the same images (``preprocess_input`` mode "tf"
    for V1 / V2 / Xception; V3 rescales itself): equal within 1e-5 of the outputs' scale."""
    images = random_images(resolution, batch=1, seed=1)
    expected = np.asarray(theirs(images / 127.5 - 1.0 if tf_preprocessing else images))
    found = np.asarray(ours(images))
    assert found.shape == expected.shape
    scale = max(1.0, float(np.max(np.abs(expected))))
    assert float(np.max(np.abs(found - expected))) <= 1e-5 * scale


def _weights_snapshot(model):
    return [np.array(w) for w in model.get_weights()]


# --------------------------------------------------------------------------- which file
@pytest.mark.both_lines  # each line's keras.applications sources
def test_urls_and_hashes_are_keras_applications_own():
    mobilenet_v3 = importlib.import_module(f"{APPLICATIONS.__name__}.mobilenet_v3")
    assert imagenet._MOBILENET_V3_HASHES == {k: tuple(v) for k, v in mobilenet_v3.WEIGHTS_HASHES.items()}
    for family in ("mobilenet", "mobilenet_v2", "mobilenet_v3"):
        module = importlib.import_module(f"{APPLICATIONS.__name__}.{family}")
        assert module.BASE_WEIGHT_PATH == f"{imagenet.BASE_URL}{family}/"
    xception = importlib.import_module(f"{APPLICATIONS.__name__}.xception")
    prefix = "TF_" if LEGACY else ""
    urls = (getattr(xception, f"{prefix}WEIGHTS_PATH"), getattr(xception, f"{prefix}WEIGHTS_PATH_NO_TOP"))
    assert urls == tuple(published_file(ImagenetFile("xception"), (299, 299, 3), top).url for top in (True, False))


@pytest.mark.parametrize(
    "spec, input_shape, include_top, fname, md5",
    [
        (ImagenetFile("mobilenet", alpha=0.25), (128, 128, 3), True, "mobilenet_2_5_128_tf.h5", None),
        (ImagenetFile("mobilenet", alpha=0.75), (192, 192, 3), False, "mobilenet_7_5_192_tf_no_top.h5", None),
        (ImagenetFile("mobilenet"), (None, None, 3), False, "mobilenet_1_0_224_tf_no_top.h5", None),
        (ImagenetFile("mobilenet_v2", alpha=0.35), (96, 96, 3), True,
         "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96.h5", None),
        (ImagenetFile("mobilenet_v2", alpha=0.5), (None, 160, 3), True,
         "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.5_224.h5", None),
        (ImagenetFile("mobilenet_v2", alpha=1.4), (224, 224, 3), False,
         "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.4_224_no_top.h5", None),
        (ImagenetFile("mobilenet_v3", alpha=0.75, model_type="large"), (64, 64, 3), True,
         "weights_mobilenet_v3_large_224_0.75_float.h5", "765b44a33ad4005b3ac83185abf1d0eb"),
        (ImagenetFile("mobilenet_v3", model_type="small", minimalistic=True), (None, None, 3), False,
         "weights_mobilenet_v3_small_minimalistic_224_1.0_float_no_top_v2.h5", "cde8136e733e811080d9fcd8a252f7e4"),
        (ImagenetFile("xception"), (299, 299, 3), True, "xception_weights_tf_dim_ordering_tf_kernels.h5",
         "0a58e3b7378bc2990ea3b43d5981f1f6"),
        (ImagenetFile("xception"), (None, None, 3), False, "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
         "b0042744bf5b25fce3cb969f33bebb97"),
    ],
)
def test_the_file_keras_applications_loads_is_chosen(spec, input_shape, include_top, fname, md5):
    published = published_file(spec, input_shape, include_top)
    assert published == imagenet.PublishedFile(fname, f"{imagenet.BASE_URL}{spec.family}/{fname}", md5)


@pytest.mark.parametrize(
    "spec, input_shape, kwargs, message",
    [
        (ImagenetFile("mobilenet", alpha=0.3), (128, 128, 3), {},
         r"alpha=0.3 is not supported; accepted values: \[0.25, 0.5, 0.75, 1.0\] with weights='imagenet'"),
        (ImagenetFile("mobilenet", depth_multiplier=2), (224, 224, 3), {},
         r"depth_multiplier=2 is not supported; accepted values: 1 with weights='imagenet'"),
        (ImagenetFile("mobilenet"), (96, 96, 3), {},
         r"input_shape=\(96, 96, 3\) .*\[\(128, 128, 3\), \(160, 160, 3\), \(192, 192, 3\), \(224, 224, 3\)\]"),
        (ImagenetFile("mobilenet"), (128, 160, 3), {}, r"input_shape=\(128, 160, 3\) .*\(128, 128, 3\)"),
        (ImagenetFile("mobilenet_v2", alpha=1.3), (96, 96, 3), {},
         r"input_shape=\(96, 96, 3\) .*\[\(224, 224, 3\)\] for alpha=1.3, or height and width None"),
        (ImagenetFile("mobilenet_v2", alpha=0.6), (96, 96, 3), {},
         r"alpha=0.6 .*\[0.35, 0.5, 0.75, 1.0, 1.3, 1.4\]"),
        (ImagenetFile("mobilenet_v3", alpha=0.75, model_type="small", minimalistic=True), (None, None, 3), {},
         r"alpha=0.75 is not supported; accepted values: \[1.0\] and minimalistic=True with weights='imagenet'"),
        (ImagenetFile("mobilenet_v3", alpha=1.25, model_type="large"), (None, None, 3), {},
         r"alpha=1.25 .*\[0.75, 1.0\]"),
        (ImagenetFile("xception"), (299, 299, 3), {"classes": 10},
         r"classes=10 is not supported; accepted values: 1000 when include_top=True"),
        (ImagenetFile("mobilenet_v2"), (224, 224, 1), {"include_top": False},
         r"input_shape=\(224, 224, 1\) .*3 channels"),
    ],
)
def test_unpublished_combinations_name_the_accepted_values(spec, input_shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        published_file(spec, input_shape, **kwargs)


def test_a_family_without_published_files_says_so():
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 1)])
    with pytest.raises(ValueError, match=r"weights='imagenet' is not supported for model .*accepted values: None"):
        load_weights(model, "imagenet", imagenet=None)


# --------------------------------------------------------------------------- loading = keras.applications
@pytest.mark.both_lines  # the file is written and the model loaded by each line's own code
def test_mobilenet_v1_with_top_equals_keras_applications(offline_cache, monkeypatch):
    theirs = KA.MobileNet(alpha=0.25, input_shape=(128, 128, 3), weights=None, classifier_activation=None)
    _publish(theirs, offline_cache, "mobilenet_2_5_128_tf.h5", monkeypatch)
    ours = keras_mobile.create_model("mobilenetv1_025", input_shape=(128, 128, 3), weights="imagenet",
                                     classifier_activation=None)
    _assert_same_outputs(ours, theirs, 128)


@pytest.mark.both_lines
def test_mobilenet_v2_no_top_file_serves_include_top_false_features_only_and_a_local_path(
        offline_cache, monkeypatch, caplog):
    theirs = KA.MobileNetV2(alpha=0.35, input_shape=(96, 96, 3), include_top=False, weights=None)
    path = _publish(theirs, offline_cache, "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5",
                    monkeypatch)
    ours = keras_mobile.create_model("mobilenetv2_035", input_shape=(96, 96, 3), include_top=False, weights="imagenet")
    _assert_same_outputs(ours, theirs, 96)
    from_path = keras_mobile.create_model("mobilenetv2_035", input_shape=(96, 96, 3), include_top=False, weights=path)
    _assert_same_outputs(from_path, theirs, 96)

    # features_only ends at the last block: the file's head (Conv_1, Conv_1_bn) is skipped, and said so
    caplog.set_level(logging.INFO, logger=legacy_h5.__name__)
    features = keras_mobile.create_model("mobilenetv2_035", input_shape=(96, 96, 3), features_only=True,
                                         weights="imagenet")
    assert "skipped: Conv_1, Conv_1_bn" in caplog.text
    last_block = keras.Model(theirs.input, theirs.get_layer("block_16_project_BN").output)
    stride_32 = keras.Model(features.input, features.output["stride_32"])
    _assert_same_outputs(stride_32, last_block, 96)


@pytest.mark.both_lines
def test_mobilenet_v3_equals_keras_applications_and_its_md5_is_checked(offline_cache, monkeypatch):
    fname = "weights_mobilenet_v3_small_224_0.75_float.h5"
    theirs = KA.MobileNetV3Small(alpha=0.75, input_shape=(None, None, 3), weights=None, classifier_activation=None)
    with monkeypatch.context() as patch:
        _publish(theirs, offline_cache, fname, patch)
        ours = keras_mobile.create_model("mobilenetv3_small_075", weights="imagenet", classifier_activation=None)
        _assert_same_outputs(ours, theirs, 64, tf_preprocessing=False)
    # with the real md5 the test's file is not the published one: Keras tries to download it again
    with pytest.raises(ImagenetDownloadError, match=r"did not have the published md5 cb65d4e5be93758266aa0a7f2c6708b7"):
        keras_mobile.create_model("mobilenetv3_small_075", weights="imagenet")


def test_mobilenet_v3_minimalistic_no_top_equals_keras_applications(offline_cache, monkeypatch):
    theirs = KA.MobileNetV3Small(minimalistic=True, input_shape=(None, None, 3), include_top=False, weights=None)
    _publish(theirs, offline_cache, "weights_mobilenet_v3_small_minimalistic_224_1.0_float_no_top_v2.h5", monkeypatch)
    ours = keras_mobile.create_model("mobilenetv3_small_minimal_100", include_top=False, weights="imagenet")
    _assert_same_outputs(ours, theirs, 64, tf_preprocessing=False)


# --------------------------------------------------------------------------- failures
@pytest.mark.both_lines  # each line's get_file
def test_offline_without_a_cached_file_names_the_url_and_the_cache_path(offline_cache):
    fname = "mobilenet_2_5_128_tf.h5"
    with pytest.raises(ImagenetDownloadError) as raised:
        keras_mobile.create_model("mobilenetv1_025", input_shape=(128, 128, 3), weights="imagenet")
    message = str(raised.value)
    assert isinstance(raised.value, OSError)
    assert f"{V1_URL}{fname}" in message
    assert f"put it at {os.path.join(str(offline_cache), fname)}" in message
    assert "test: offline" in message and raised.value.__cause__ is not None


def test_a_file_of_another_variant_names_both_layers_and_shapes(offline_cache, monkeypatch):
    half = KA.MobileNet(alpha=0.5, input_shape=(128, 128, 3), weights=None)
    _publish(half, offline_cache, "mobilenet_2_5_128_tf.h5", monkeypatch)  # 0.5's weights under 0.25's name
    message = (r"layer 'stem_conv' has weight shapes \[\(3, 3, 3, 8\)\] in the model but \[\(3, 3, 3, 16\)\] in the "
               r"file \(its layer 'conv1', number 1 of the file's 55")
    with pytest.raises(ValueError, match=message):
        keras_mobile.create_model("mobilenetv1_025", input_shape=(128, 128, 3), weights="imagenet")


def test_a_file_with_too_few_layers_names_the_first_missing_one(offline_cache, monkeypatch):
    no_top = KA.MobileNet(alpha=0.25, input_shape=(128, 128, 3), include_top=False, weights=None)
    _publish(no_top, offline_cache, "mobilenet_2_5_128_tf.h5", monkeypatch)  # the no-top file under the top name
    with pytest.raises(ValueError, match=r"the file has 54 layers with weights, the model 55; layer 'logits_conv'"):
        keras_mobile.create_model("mobilenetv1_025", input_shape=(128, 128, 3), weights="imagenet")


def _cut_in_half(path):
    """``path`` with its second half gone, as a download that stopped half way leaves it."""
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:len(data) // 2])
    return str(path)


@pytest.mark.parametrize("name, input_shape, fname", [
    ("mobilenetv1_025", (128, 128, 3), "mobilenet_2_5_128_tf.h5"),  # keras.applications checks no md5
    ("mobilenetv3_small_075", (None, None, 3), "weights_mobilenet_v3_small_224_0.75_float.h5"),  # md5 checked
])
def test_a_truncated_cached_file_names_it_and_says_delete_it(offline_cache, monkeypatch, name, input_shape, fname):
    # Any HDF5 file cut in half: HDF5 refuses it on open, before its layers are read.
    path = _cut_in_half(_save_legacy(keras_mobile.create_model(name, input_shape=input_shape), offline_cache / fname))
    # with its md5 checked the cut file would be downloaded again (offline: ImagenetDownloadError, tested above);
    # unchecked, as for MobileNet V1 / V2, the loader meets it
    monkeypatch.setitem(imagenet.FILE_HASHES, fname, None)
    url = published_file(_spec_of(name), input_shape).url
    message = (rf"^weights='imagenet' \({re.escape(path)}\): the file is truncated or corrupt; HDF5 cannot read it "
               rf"\(h5py: Unable to .*truncated file.*\); if the file is not the one published at {re.escape(url)}, "
               r"delete it to download it again\.$")
    with pytest.raises(ValueError, match=message) as raised:
        keras_mobile.create_model(name, input_shape=input_shape, weights="imagenet")
    assert isinstance(raised.value.__cause__, OSError)  # h5py's error, chained


@pytest.mark.both_lines  # each line's save_weights writes the file
@pytest.mark.parametrize("fname", ["mobilenetv1_025.weights.h5", "mobilenetv1_025.h5"])  # Keras 3 / legacy layout
def test_a_truncated_local_file_names_it(tmp_path, fname):
    model = keras_mobile.create_model("mobilenetv1_025", input_shape=(64, 64, 3))
    path = tmp_path / fname
    if fname.endswith(".weights.h5"):
        model.save_weights(str(path))
    else:
        _save_legacy(model, path)
    path = _cut_in_half(path)
    message = (rf"^weights='{re.escape(path)}': the file is truncated or corrupt; HDF5 cannot read it "
               r"\(h5py: Unable to .*truncated file.*\)\.$")
    with pytest.raises(ValueError, match=message):
        keras_mobile.create_model("mobilenetv1_025", input_shape=(64, 64, 3), weights=path)


@pytest.mark.parametrize("fname", ["model.onnx", "model.safetensors", "weights.npz", "notes.txt"])
def test_a_local_file_of_unknown_format_names_the_accepted_ones(tmp_path, fname):
    path = tmp_path / fname
    path.write_bytes(b"\x00" * 64)
    message = (rf"^weights='{re.escape(str(path))}' is not an HDF5 file \(file type unknown\); accepted values: a "
               r"Keras weights file, \['\.weights\.h5', '\.h5', '\.keras'\], as save_weights writes it\. A PyTorch checkpoint "
               r"\(\.safetensors, \.pth\) is converted first: python -m keras_mobile\.convert CHECKPOINT")
    with pytest.raises(ValueError, match=message):
        keras_mobile.create_model("mobilenetv1_025", input_shape=(64, 64, 3), weights=str(path))


@pytest.mark.both_lines
def test_every_shape_is_checked_before_any_weight_is_assigned(tmp_path):
    path = _save_legacy(keras_mobile.create_model("mobilenetv1_025", input_shape=(64, 64, 3), classes=10),
                        tmp_path / "ten.h5")
    model = randomize_weights(keras_mobile.create_model("mobilenetv1_025", input_shape=(64, 64, 3)))
    before = _weights_snapshot(model)
    # include_top=False: no new classifier is allowed, so the 10-class classifier is a mismatch
    with pytest.raises(ValueError, match=r"layer 'logits_conv' has weight shapes \[\(1, 1, 256, 1000\), \(1000,\)\]"):
        load_weights(model, path, include_top=False)
    for old, new in zip(before, _weights_snapshot(model)):
        np.testing.assert_array_equal(old, new)


def test_legacy_reader_reads_chunked_names_nested_groups_and_model_weights(tmp_path):
    """What the published files and full-model files contain beyond a plain ``save_weights``: names with '/'
    (tf_keras MobileNetV3: ``Conv/BatchNorm``), ``layer_names`` split into chunks, a ``/model_weights`` group."""
    source = randomize_weights(keras_mobile.create_model("mobilenetv1_025", input_shape=(64, 64, 3)), seed=4)
    plain = legacy_h5.read_layers(_save_legacy(source, tmp_path / "plain.h5"))
    path = str(tmp_path / "full_model.h5")
    with h5py.File(path, "w") as f:
        group = f.create_group("model_weights")
        names = [f"block{i}/unit" for i in range(len(plain))]
        group.attrs["layer_names0"] = [n.encode() for n in names[:20]]
        group.attrs["layer_names1"] = [n.encode() for n in names[20:]]
        for name, layer in zip(names, plain):
            layer_group = group.create_group(name)
            weight_names = [f"{name}/{w.split('/')[-1]}" for w in layer.weight_names]
            layer_group.attrs["weight_names"] = [w.encode() for w in weight_names]
            for weight_name, array in zip(weight_names, layer.arrays):
                layer_group.create_dataset(weight_name, data=array)
    assert legacy_h5.is_legacy_file(path)
    loaded = keras_mobile.create_model("mobilenetv1_025", input_shape=(64, 64, 3), weights=path)
    images = random_images(64, batch=1)
    np.testing.assert_array_equal(np.asarray(loaded(images)), np.asarray(source(images)))


# --------------------------------------------------------------------------- every published combination
_EXHAUSTIVE = [
    *[(f"mobilenetv1_{int(a * 100):03d}", KA.MobileNet, {"alpha": a}, 128, True) for a in (0.25, 0.5, 0.75, 1.0)],
    *[(f"mobilenetv2_{int(round(a * 100)):03d}", KA.MobileNetV2, {"alpha": a}, 224 if a > 1 else 96, True)
      for a in (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)],
    *[(f"mobilenetv3_{kind}{'_minimal' if minimal else ''}_{int(a * 100):03d}",
       KA.MobileNetV3Large if kind == "large" else KA.MobileNetV3Small, {"alpha": a, "minimalistic": minimal},
       64, False)
      for kind in ("large", "small") for minimal in (False, True) for a in ((1.0,) if minimal else (0.75, 1.0))],
    ("xception", KA.Xception, {}, 96, True),
]


@pytest.mark.exhaustive
@pytest.mark.both_lines
@pytest.mark.parametrize("include_top", [True, False], ids=["top", "no_top"])
@pytest.mark.parametrize("name, reference, kwargs, resolution, tf_preprocessing", _EXHAUSTIVE,
                         ids=[case[0] for case in _EXHAUSTIVE])
def test_every_published_file_equals_keras_applications(offline_cache, monkeypatch, name, reference, kwargs,
                                                        resolution, tf_preprocessing, include_top):
    input_shape = (resolution, resolution, 3)
    head = {"classifier_activation": None} if include_top else {}
    theirs = reference(input_shape=input_shape, include_top=include_top, weights=None, **head, **kwargs)
    fname = published_file(_spec_of(name), input_shape, include_top).fname
    _publish(theirs, offline_cache, fname, monkeypatch)
    ours = keras_mobile.create_model(name, input_shape=input_shape, include_top=include_top, weights="imagenet", **head)
    _assert_same_outputs(ours, theirs, resolution, tf_preprocessing)


def _spec_of(name):
    """The ``ImagenetFile`` a registered variant passes, from its registered arguments."""
    from keras_mobile.registry import model_info

    info = model_info(name)
    family = {"mobilenetv1": "mobilenet", "mobilenetv2": "mobilenet_v2", "mobilenetv3": "mobilenet_v3"}
    return ImagenetFile(family.get(info.family, info.family), **info.arguments)


# --------------------------------------------------------------------------- transfer learning: a new classifier
def _new_classifier_load(build, expected_source):
    """``build()`` under ``warnings.catch_warnings``: the model and its one ``NewClassifierWarning``."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = build()
    new = [w.message for w in caught if isinstance(w.message, legacy_h5.NewClassifierWarning)]
    assert len(new) == 1 and str(new[0]).startswith(expected_source), [str(w.message) for w in caught]
    return model, new[0]


def _assert_all_but_classifier_equal(ours, source_weights, classifier):
    with_weights = [layer for layer in ours.layers if layer.weights]
    assert with_weights[-1].name == classifier
    for layer, expected in zip(with_weights[:-1], source_weights[:-1]):
        for found, want in zip(legacy_h5.legacy_variables(layer), expected):
            np.testing.assert_array_equal(np.asarray(found), want)


@pytest.mark.both_lines
def test_imagenet_weights_with_other_classes_load_the_backbone_and_a_new_classifier(offline_cache, monkeypatch):
    theirs = _randomize(KA.MobileNet(alpha=0.25, input_shape=(128, 128, 3), weights=None), seed=3)
    _publish(theirs, offline_cache, "mobilenet_2_5_128_tf.h5", monkeypatch, seed=3)
    theirs_weights = [[np.asarray(v) for v in legacy_h5.legacy_variables(layer)]
                      for layer in theirs.layers if layer.weights]
    ours, warning = _new_classifier_load(
        lambda: keras_mobile.create_model("mobilenetv1_025", input_shape=(128, 128, 3), weights="imagenet",
                                          classes=7), "weights='imagenet'")
    assert warning.layer == "logits_conv"
    assert [(shape, file_shape) for _, shape, file_shape in warning.weights] == [
        ((1, 1, 256, 7), (1, 1, 256, 1000)), ((7,), (1000,))]
    _assert_all_but_classifier_equal(ours, theirs_weights, "logits_conv")


@pytest.mark.both_lines
@pytest.mark.parametrize("kind", ["weights.h5", "h5", "keras"])
def test_a_file_with_other_classes_loads_the_backbone_and_a_new_classifier(tmp_path, kind):
    if kind == "keras" and LEGACY:
        pytest.skip("the .keras file is written by Keras 3 here; tf_keras reads the .weights.h5 / .h5 cases")
    source = randomize_weights(keras_mobile.create_model("mobilenetv2_035", input_shape=(64, 64, 3), classes=10),
                               seed=5)
    path = str(tmp_path / f"ten.{kind}")
    if kind == "h5":
        _save_legacy(source, path)
    elif kind == "keras":
        source.save(path)
    else:
        source.save_weights(path)
    ours, warning = _new_classifier_load(
        lambda: keras_mobile.create_model("mobilenetv2_035", input_shape=(64, 64, 3), classes=3, weights=path),
        "weights=")
    assert warning.layer == "logits" and [w[1:] for w in warning.weights] == [((1280, 3), (1280, 10)), ((3,), (10,))]
    source_weights = [[np.asarray(v) for v in legacy_h5.legacy_variables(layer)]
                      for layer in source.layers if layer.weights]
    _assert_all_but_classifier_equal(ours, source_weights, "logits")
    # another width is not a new classifier: still an error naming the first layer that differs
    with pytest.raises(ValueError, match=r"does not fit model 'mobilenetv2_0.50'"):
        keras_mobile.create_model("mobilenetv2_050", input_shape=(64, 64, 3), classes=3, weights=path)

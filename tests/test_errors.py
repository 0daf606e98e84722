"""Bad input: a clear ValueError naming the argument and the accepted values."""

import numpy as np
import pytest

import keras_mobile
import keras_mobile.compression
import tfds_configs
from helpers import REPRESENTATIVES, keras


@pytest.mark.parametrize(
    "builder, kwargs, message",
    [
        (keras_mobile.MobileNetV2, {"alpha": 0}, r"alpha=0 is not supported; accepted values: a number in \(0.0, 4.0\]"),
        (keras_mobile.MobileNetV2, {"alpha": True}, r"alpha=True"),
        (keras_mobile.MobileNet, {"alpha": 0.01}, r"alpha=0.01 is not supported; accepted values: a number in \[0.04, 4\]"),
        (keras_mobile.MobileNet, {"depth_multiplier": 0}, r"depth_multiplier=0 .*an integer >= 1"),
        (keras_mobile.MobileNetV3, {"model_type": "medium"}, r"model_type='medium' .*\['large', 'small'\]"),
        (keras_mobile.MobileNetV3Small, {"minimalistic": 1}, r"minimalistic=1 .*True or False"),
        (keras_mobile.MixNet, {"variant": "xl"}, r"variant='xl' .*\['s', 'm', 'l'\]"),
        (keras_mobile.MixNet, {"width": 0}, r"width=0 is not supported; accepted values: a number in \(0.0, 4.0\]"),
        (keras_mobile.ReXNet, {"width": "1.0"}, r"width='1.0' is not supported"),
        (keras_mobile.MobileNetV2, {"include_top": 1}, r"include_top=1 is not supported; accepted values: True or False"),
        (keras_mobile.MobileNetV2, {"input_shape": (16, 16, 3)}, r"input_shape=\(16, 16, 3\) .*>= 32"),
        (keras_mobile.Xception, {"input_shape": (64, 64, 3)}, r"input_shape=\(64, 64, 3\) .*>= 71"),
        (keras_mobile.MobileNetV2, {"input_shape": (224, 224)}, r"input_shape=\(224, 224\)"),
        (keras_mobile.MobileNetV2, {"classes": 0}, r"classes=0 .*an integer >= 1"),
        (keras_mobile.MobileNetV2, {"classes": 2.5}, r"classes=2.5"),
        (keras_mobile.MobileNetV2, {"include_top": False, "pooling": "mean"}, r"pooling='mean' .*\[None, 'avg', 'max'\]"),
        (keras_mobile.MobileNetV2, {"classifier_activation": "softmaxx"}, r"classifier_activation='softmaxx'"),
        (keras_mobile.MobileNetV2, {"alpha": 1.3, "input_shape": (96, 96, 3), "weights": "imagenet"},
         r"input_shape=\(96, 96, 3\) is not supported; accepted values: \[\(224, 224, 3\)\] for alpha=1.3"),
        (keras_mobile.MobileNetV2, {"classes": 0, "weights": "imagenet"},  # (other classes: a new classifier)
         r"classes=0 is not supported; accepted values: an integer >= 1"),
        (keras_mobile.MobileNetV3Small, {"alpha": 0.75, "minimalistic": True, "weights": "imagenet"},
         r"alpha=0.75 is not supported; accepted values: \[1.0\] and minimalistic=True with weights='imagenet'"),
        (keras_mobile.MobileNet, {"depth_multiplier": 2, "weights": "imagenet"},
         r"depth_multiplier=2 is not supported; accepted values: 1 with weights='imagenet'"),
        (keras_mobile.MobileNetV2, {"weights": 3}, r"weights=3 is not supported"),
        (keras_mobile.MobileNetV2, {"weights": "imagenett"},
         r"weights='imagenett' is not supported; accepted values: None, 'imagenet' .* \(no such file: 'imagenett'\)"),
        # an option the output would ignore is refused, naming both
        (keras_mobile.MobileNetV2, {"features_only": True, "include_top": True},
         r"include_top=True is not supported; accepted values: False or left out with features_only=True"),
        (keras_mobile.MobileNetV2, {"features_only": True, "pooling": "avg"},
         r"pooling='avg' is not supported; accepted values: None or left out with features_only=True"),
        (keras_mobile.MobileNetV2, {"features_only": True, "classes": 10},
         r"classes=10 is not supported; accepted values: left out with features_only=True"),
        (keras_mobile.MobileNetV2, {"pooling": "avg"},
         r"pooling='avg' is not supported; accepted values: None or left out with include_top=True"),
        (keras_mobile.MobileNetV2, {"include_top": False, "classifier_activation": None},
         r"classifier_activation=None is not supported; accepted values: left out with include_top=False"),
        (keras_mobile.MobileNetV2, {"features_only": 1}, r"features_only=1 is not supported; accepted values: True or False"),
        (keras_mobile.MobileNetV2, {"dropout_rate": 1.5}, r"dropout_rate=1.5 is not supported; accepted values: a number in \[0.0, 1.0\)"),
        (keras_mobile.MobileNet, {"dropout_rate": 1.0}, r"dropout_rate=1.0 is not supported"),
        (keras_mobile.SqueezeNet, {"dropout_rate": "0.5"}, r"dropout_rate='0.5' is not supported"),
    ],
)
def test_bad_arguments_are_named(builder, kwargs, message):
    kwargs.setdefault("input_shape", kwargs.get("input_shape", (None, None, 3)))
    with pytest.raises(ValueError, match=message):
        builder(**kwargs)


def test_unknown_keyword_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="got an unexpected keyword argument 'alhpa'"):
        keras_mobile.MobileNetV2(alhpa=0.5)


def test_builders_signature_lists_architecture_then_shared_options():
    import inspect

    from keras_mobile.builder import ModelOptions

    names = list(inspect.signature(keras_mobile.MobileNetV2).parameters)
    shared = [field for field in ModelOptions.__dataclass_fields__]
    assert names == ["alpha", "dropout_rate"] + shared
    assert "ModelOptions" in keras_mobile.MobileNetV2.__doc__


def test_unknown_model_name_lists_candidates():
    with pytest.raises(ValueError, match=r"name='mobilenetv2_999' is not supported; accepted values: \[.*'mobilenetv2_100'"):
        keras_mobile.create_model("mobilenetv2_999")


def test_unknown_model_name_lists_the_closest_names_first_then_every_other():
    from keras_mobile.registry import check_model_name

    with pytest.raises(ValueError) as error:
        keras_mobile.create_model("mobilenetv2_100x")
    message = str(error.value)
    assert message.startswith("name='mobilenetv2_100x' is not supported; accepted values: ['mobilenetv2_100', ")
    assert message.endswith(" (registered models, the closest first).")
    assert all(f"'{name}'" in message for name in keras_mobile.list_models())
    with pytest.raises(ValueError, match=r"^model.name='vgg16' is not supported; accepted values: \['mixnet_l', "
                                         r".* \(registered models\)\.$"):  # nothing close: every name, sorted
        check_model_name("vgg16", arg="model.name")


@pytest.mark.parametrize("family, name", sorted(REPRESENTATIVES.items()))
def test_every_family_checks_its_dropout_rate_before_building(family, name):
    with pytest.raises(ValueError, match=r"^dropout_rate=-0.1 is not supported; accepted values: a number in \[0.0, 1.0\)"):
        keras_mobile.create_model(name, dropout_rate=-0.1)


def test_features_only_alone_and_with_include_top_false_build():
    for kwargs in ({}, {"include_top": False}, {"pooling": None}):
        model = keras_mobile.MobileNetV2(alpha=0.35, input_shape=(32, 32, 3), features_only=True, **kwargs)
        assert sorted(model.output) == ["stride_16", "stride_2", "stride_32", "stride_4", "stride_8"]


# --------------------------------------------------------------------------- the other public functions
@pytest.fixture(scope="module")
def tiny():
    """A 4-class model at 32 x 32 (built once for the module)."""
    return keras_mobile.create_model("mobilenetv2_035", input_shape=(32, 32, 3), classes=4)


@pytest.fixture
def files(tmp_path):
    """A folder of files that are not what their names say, and a folder without class folders."""
    (tmp_path / "bad.tflite").write_bytes(b"not a flatbuffer")
    (tmp_path / "ckpt.safetensors").write_bytes(b"")
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "no_classes").mkdir()
    (tmp_path / "saved").mkdir()  # models a case saves first
    return tmp_path


def _export(model, directory, **kwargs):
    from keras_mobile.export import export_model

    return export_model(model, directory, **{"formats": ("tflite_int8",), **kwargs})


def _predictor(path, **kwargs):
    from keras_mobile.predict import Predictor

    return Predictor(path, **kwargs)


def _saved_keras(model, directory):
    path = str(directory / "model.keras")
    model.save(path)
    return path


def _predict_paths(paths):
    from keras_mobile.predict import Predictor

    return Predictor.__call__(None, paths)  # the paths are checked before the (here absent) model is used


def _load_dataset(spec, data_dir):
    return tfds_configs.load(spec, data_dir=str(data_dir))


# (call(model, files), exception type, message): every check runs before any conversion, training or file write
API_CASES = [
    pytest.param(lambda m, f: keras_mobile.profile_model("mobilenetv2_100x"), ValueError,
                 r"^model='mobilenetv2_100x' is not supported; accepted values: \['mobilenetv2_100', ", id="profile-name"),
    pytest.param(lambda m, f: keras_mobile.profile_model(3), ValueError,
                 r"^model=3 is not supported; accepted values: a built Keras model .* or a registered model name",
                 id="profile-int"),
    pytest.param(lambda m, f: keras_mobile.list_models(3), ValueError,
                 r"^pattern=3 is not supported; accepted values: a string", id="list_models-int"),
    pytest.param(lambda m, f: _export(m, f / "out", representative_data="abc"), ValueError,
                 r"^representative_data='abc' is not supported; accepted values: an array of images \(n, 32, 32, 3\)",
                 id="export-representative-str"),
    pytest.param(lambda m, f: _export(m, f / "out", representative_data=np.zeros((2, 16, 16, 3))), ValueError,
                 r"^representative_data='an array of shape \(2, 16, 16, 3\)' is not supported; .*image shape \(32, 32, 3\)",
                 id="export-representative-shape"),
    pytest.param(lambda m, f: _export(m, f / "out", formats=3), ValueError,
                 r"^formats=3 is not supported; accepted values: a non-empty subset of \['savedmodel'", id="export-formats"),
    pytest.param(lambda m, f: _export(m, f / "out", resolution="a"), ValueError,
                 r"^resolution='a' is not supported; accepted values: None, an int >= 1 or a \(height, width\) pair",
                 id="export-resolution"),
    pytest.param(lambda m, f: _export(m, f / "out", calibration_steps=0), ValueError,
                 r"^calibration_steps=0 is not supported; accepted values: an integer >= 1", id="export-calibration"),
    pytest.param(lambda m, f: _export(m, f / "out", tolerances={"tflite_int8": 1}), ValueError,
                 r"^tolerances=\{'tflite_int8': 1\} is not supported; accepted values: None or a dict",
                 id="export-tolerances"),
    pytest.param(lambda m, f: _export(m, f / "out", formats=("onnx",), opset="17"), ValueError,
                 r"^opset='17' is not supported; accepted values: an integer >= 1", id="export-opset"),
    pytest.param(lambda m, f: _export(m, f / "out", sample_inputs="abc"), ValueError,
                 r"^sample_inputs='abc' is not supported; accepted values: an array \(n, 32, 32, 3\)",
                 id="export-sample-inputs"),
    pytest.param(lambda m, f: _export(m, f / "out", preprocessing={"crop": object()}), ValueError,
                 r"^preprocessing=\{'crop': .*\} is not supported; accepted values: None or a JSON-able dict",
                 id="export-preprocessing"),
    pytest.param(lambda m, f: _export(m, f / "out", labels="abcd"), ValueError,
                 r"^labels='abcd' is not supported; accepted values: None or a list of 4 class names", id="export-labels"),
    pytest.param(lambda m, f: _export(m, str(f / "a_file")), ValueError,
                 r"^directory=.*a_file' is not supported; accepted values: the path of a directory", id="export-directory"),
    pytest.param(lambda m, f: _export("mobilenetv2_035", f / "out"), ValueError,
                 r"^model='mobilenetv2_035' is not supported; accepted values: a built Keras model", id="export-model"),
    pytest.param(lambda m, f: keras_mobile.convert_weights(str(f / "nope.safetensors"), "rexnet_100",
                                                            str(f / "o.weights.h5")),
                 ValueError, r"^checkpoint='.*nope.safetensors' is not supported; accepted values: the path of an "
                             r"existing checkpoint file \(.safetensors, .pth, .* \(no such file\)", id="convert-checkpoint"),
    pytest.param(lambda m, f: keras_mobile.convert_weights(f / "ckpt.safetensors", "mobilenetv2_100",
                                                            f / "o.weights.h5"), ValueError,
                 r"^model_name='mobilenetv2_100' is not supported; accepted values: a model of a family with a PyTorch "
                 r"reference, \['mixnet', .*\(the mobilenetv2 family has none", id="convert-family"),
    pytest.param(lambda m, f: keras_mobile.convert_weights(f / "ckpt.safetensors", "rexnet_100x", f / "o.weights.h5"),
                 ValueError, r"^model_name='rexnet_100x' is not supported; accepted values: \['rexnet_100', ",
                 id="convert-name"),
    pytest.param(lambda m, f: keras_mobile.convert_weights(f / "ckpt.safetensors", "rexnet_100", f / "o.weights.h5",
                                                            alpha=0.5), TypeError,
                 "unexpected keyword argument 'alpha'", id="convert-override"),  # before the checkpoint is read
    pytest.param(lambda m, f: _predictor(3), ValueError,
                 r"^model=3 is not supported; accepted values: the path of a SavedModel directory", id="predict-model-int"),
    pytest.param(lambda m, f: _predictor(f / "bad.tflite"), ValueError,
                 r"^model='.*bad.tflite' is not supported; accepted values: a TFLite model file \(this .tflite file is "
                 r"not a TFLite flatbuffer\)", id="predict-not-tflite"),
    pytest.param(lambda m, f: _predictor(f / "bad.tflite", model_name="mobilenetv2_035"), ValueError,
                 r"^model_name='mobilenetv2_035' is not supported; accepted values: None for a tflite model",
                 id="predict-model-name-unused"),
    pytest.param(lambda m, f: _predictor(_saved_keras(m, f / "saved"), resolution=64), ValueError,
                 r"^resolution=64 is not supported; accepted values: None or 32 \(the input side of this keras model\)",
                 id="predict-resolution-fixed"),
    pytest.param(lambda m, f: _predictor(f / "bad.tflite", num_threads=0), ValueError,
                 r"^num_threads=0 is not supported; accepted values: an integer >= 1", id="predict-threads"),
    pytest.param(lambda m, f: _predict_paths("photo.jpg"), ValueError, r"^paths='photo.jpg' is not supported; accepted values: a non-empty list of image paths",
                 id="predict-paths-str"),
    pytest.param(lambda m, f: keras_mobile.compression.prune_channels(m, 0.2, return_report=1), ValueError,
                 r"^return_report=1 is not supported; accepted values: True or False", id="prune_channels-report"),
    pytest.param(lambda m, f: keras_mobile.compression.prune_channels(m, 0.2, data=[(np.zeros((1, 32, 32, 3)), [0])]),
                 ValueError, r"^data='list' is not supported; accepted values: None with criterion='l1' \(only "
                             r"'taylor' reads data\)", id="prune_channels-data"),
    pytest.param(lambda m, f: keras_mobile.optimize_for_inference(m, input_size=5.0), ValueError,
                 r"^input_size=5.0 is not supported; accepted values: None or \(height, width\) of positive ints",
                 id="optimize-input-size"),
    pytest.param(lambda m, f: keras_mobile.optimize_for_inference(m, plans="x"), ValueError,
                 r"^plans='x' is not supported; accepted values: None or a dict \{kernel size: DepthwisePlan\}",
                 id="optimize-plans"),
    pytest.param(lambda m, f: _load_dataset("folder:/nope/photos", f / "data"), ValueError,
                 r"^dataset='folder:/nope/photos' is not supported; accepted values: 'folder:<path>' of an existing "
                 r"folder with one sub-folder per class \(the folder '/nope/photos' does not exist\)",
                 id="load-folder-missing"),
    pytest.param(lambda m, f: _load_dataset(f"folder:{f / 'no_classes'}", f / "data"),
                 tfds_configs.UnusableDatasetError,
                 r"^image folder '.*no_classes' needs at least 2 class folders \(one sub-folder per class\); found \[\]",
                 id="load-folder-empty"),
    pytest.param(lambda m, f: _load_dataset("tfds:no_such_dataset", f / "data"),
                 tfds_configs.UnusableDatasetError,
                 r"^dataset='tfds:no_such_dataset' is not a TFDS dataset", id="load-tfds-unknown"),
]


@pytest.mark.parametrize("call, error, message", API_CASES)
def test_bad_api_arguments_are_named(tiny, files, call, error, message):
    before = sorted(p.name for p in files.iterdir())
    with pytest.raises(error, match=message):
        call(tiny, files)
    assert sorted(p.name for p in files.iterdir()) == before  # nothing written (export: no staging directory)


@pytest.mark.both_lines  # tf_keras raises its own error for non-tensors
def test_input_tensor_must_be_symbolic():
    import numpy as np

    with pytest.raises(ValueError, match="input_tensor must be a symbolic Keras tensor"):
        keras_mobile.MobileNetV2(input_tensor=np.zeros((1, 64, 64, 3)))


@pytest.mark.both_lines
def test_input_shape_must_match_input_tensor():
    with pytest.raises(ValueError, match=r"does not match input_tensor's shape"):
        keras_mobile.MobileNetV2(input_shape=(96, 96, 3), input_tensor=keras.Input((64, 64, 3)))

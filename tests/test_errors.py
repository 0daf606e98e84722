"""Bad input: a clear ValueError naming the argument and the accepted values."""

import pytest

import keras_mobile
from helpers import keras


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
    with pytest.raises(ValueError, match=r"name='mobilenetv2_999' is not a registered model; accepted values: \[.*'mobilenetv2_100'"):
        keras_mobile.create_model("mobilenetv2_999")


@pytest.mark.both_lines  # tf_keras raises its own error for non-tensors
def test_input_tensor_must_be_symbolic():
    import numpy as np

    with pytest.raises(ValueError, match="input_tensor must be a symbolic Keras tensor"):
        keras_mobile.MobileNetV2(input_tensor=np.zeros((1, 64, 64, 3)))


@pytest.mark.both_lines
def test_input_shape_must_match_input_tensor():
    with pytest.raises(ValueError, match=r"does not match input_tensor's shape"):
        keras_mobile.MobileNetV2(input_shape=(96, 96, 3), input_tensor=keras.Input((64, 64, 3)))

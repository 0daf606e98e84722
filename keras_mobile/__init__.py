"""keras_mobile: lightweight CNNs for Keras 3 and tf_keras.

``import keras_mobile`` builds Keras 3 models (any ``KERAS_BACKEND``); set
``TF_USE_LEGACY_KERAS=1`` before the first model is built to build tf_keras
models instead.

    import keras_mobile
    model = keras_mobile.MobileNetV2(alpha=0.35, input_shape=(160, 160, 3))
    model = keras_mobile.create_model("rexnet_100", classes=10)
    keras_mobile.list_models("mobilenetv3_*")
    keras_mobile.profile_model(model)              # params, Mult-Adds, memory traffic per layer
    keras_mobile.export_model(model, "out/")       # SavedModel / TFLite / ONNX, each checked against Keras

The public names load on first use (PEP 562): importing the package imports
no Keras, so ``tfds_configs`` and ``train_tpu`` can use its small helpers
(``keras_mobile.validation``) before a Keras line is chosen. Importing any
builder, or ``keras_mobile.layers``, registers the custom layers that
``keras.saving.load_model`` needs for ``.keras`` files.
"""

import importlib

# public name -> the module that defines it
_PUBLIC = {
    "MobileNet": "keras_mobile.models.mobilenet_v1",
    "MobileNetV1": "keras_mobile.models.mobilenet_v1",
    "MobileNetV2": "keras_mobile.models.mobilenet_v2",
    "MobileNetV3": "keras_mobile.models.mobilenet_v3",
    "MobileNetV3Large": "keras_mobile.models.mobilenet_v3",
    "MobileNetV3Small": "keras_mobile.models.mobilenet_v3",
    "MixNet": "keras_mobile.models.mixnet",
    "MixNetS": "keras_mobile.models.mixnet",
    "MixNetM": "keras_mobile.models.mixnet",
    "MixNetL": "keras_mobile.models.mixnet",
    "MobileNeXt": "keras_mobile.models.mobilenext",
    "ReXNet": "keras_mobile.models.rexnet",
    "ShuffleNetV1": "keras_mobile.models.shufflenet_v1",
    "ShuffleNetV2": "keras_mobile.models.shufflenet_v2",
    "SqueezeNet": "keras_mobile.models.squeezenet",
    "Xception": "keras_mobile.models.xception",
    "create_model": "keras_mobile.registry",
    "list_models": "keras_mobile.registry",
    "model_info": "keras_mobile.registry",
    "export_model": "keras_mobile.export",
    "profile_model": "keras_mobile.profile",
    "keras_line": "keras_mobile.backend",
}

__version__ = "0.1.0"
__all__ = sorted(_PUBLIC)


def __getattr__(name):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'keras_mobile' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))

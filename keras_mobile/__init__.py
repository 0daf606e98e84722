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
    keras_mobile.optimize_for_inference(model)     # the same function in a graph LiteRT runs faster

The public names load on first use (PEP 562): importing the package imports
no Keras, so ``tfds_configs`` and ``train_tpu`` can use its small helpers
(``keras_mobile.validation``) before a Keras line is chosen. Importing any
builder, or ``keras_mobile.layers``, registers the custom layers that
``keras.saving.load_model`` needs for ``.keras`` files.
"""

import importlib

# public name -> the module that defines it; the family builders (``MobileNetV2``, ...) come from
# ``keras_mobile.models``, which finds every family module by itself.
_PUBLIC = {
    "create_model": "keras_mobile.registry",
    "list_models": "keras_mobile.registry",
    "model_info": "keras_mobile.registry",
    "export_model": "keras_mobile.export",
    "optimize_for_inference": "keras_mobile.inference_rewrites",
    "profile_model": "keras_mobile.profile",
    "convert_weights": "keras_mobile.convert",
    "decode_predictions": "keras_mobile.pretrained.imagenet_classes",
    "keras_line": "keras_mobile.backend",
}

__version__ = "0.1.0"


def _builders():
    return importlib.import_module("keras_mobile.models").load_families()


def __getattr__(name):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
    elif name[:1].isupper() and name in (builders := _builders()):
        value = builders[name]
    else:
        raise AttributeError(f"module 'keras_mobile' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC) | set(_builders()))

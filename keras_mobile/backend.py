"""Which Keras the package builds with: Keras 3 by default, tf_keras on request.

The choice follows TensorFlow's own switch: ``TF_USE_LEGACY_KERAS=1`` set before
``import keras_mobile`` selects ``tf_keras`` (needed by TF-MOT); otherwise the
multi-backend ``keras`` package is used with whatever ``KERAS_BACKEND`` says.
Every other module imports Keras from here and nowhere else.
"""

import os

_LEGACY_VALUES = ("1", "true", "True")  # the values TensorFlow itself accepts

IS_LEGACY_KERAS = os.environ.get("TF_USE_LEGACY_KERAS", "") in _LEGACY_VALUES

if IS_LEGACY_KERAS:
    import tf_keras as keras  # noqa: F401  (re-exported)
else:
    import keras  # noqa: F401  (re-exported)

layers = keras.layers


def keras_line():
    """``"tf_keras"`` or ``"keras3"``: the Keras line this process builds with."""
    return "tf_keras" if IS_LEGACY_KERAS else "keras3"


def backend_name():
    """The array backend: ``tensorflow`` under tf_keras, else Keras 3's backend."""
    return "tensorflow" if IS_LEGACY_KERAS else keras.backend.backend()


def register_serializable(name):
    """Register a custom layer class under ``keras_mobile>name`` on either line."""
    if IS_LEGACY_KERAS:
        return keras.utils.register_keras_serializable(package="keras_mobile", name=name)
    return keras.saving.register_keras_serializable(package="keras_mobile", name=name)

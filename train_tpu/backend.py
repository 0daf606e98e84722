"""The Keras line of the harness: tf_keras (TF-MOT needs it), selected before TensorFlow or keras_mobile load it.

Importing this module sets ``TF_USE_LEGACY_KERAS=1`` and exposes ``keras``
(``tf_keras``); ``train_tpu/__init__.py`` imports it first, so every module of
the package (``from train_tpu.backend import keras``) runs on tf_keras. If
keras_mobile already built on Keras 3 in this process, the import stops with a
RuntimeError saying how to run the harness.
"""

import os
import sys

KERAS3_MESSAGE = (
    "train_tpu trains on tf_keras (TF_USE_LEGACY_KERAS=1), but keras_mobile was already imported on Keras 3 in "
    "this process. Run the harness in its own process: `python -m train_tpu ...`, or start Python with "
    "`TF_USE_LEGACY_KERAS=1 python ...` and import train_tpu before keras_mobile."
)


def _select_tf_keras():
    # Keras 3 in the process is fine as long as keras_mobile builds with tf_keras; the models decide the line.
    backend = sys.modules.get("keras_mobile.backend")
    if backend is not None and not backend.IS_LEGACY_KERAS:
        raise RuntimeError(KERAS3_MESSAGE)
    os.environ["TF_USE_LEGACY_KERAS"] = "1"


_select_tf_keras()

import tf_keras as keras  # noqa: E402  (after the switch)

__all__ = ["keras", "KERAS3_MESSAGE"]

"""Training harness: tf.distribute training of keras_mobile models on TPU / GPU / multi-worker / CPU.

    python -m train_tpu                                   # laptop default: trains, evaluates, exports, prints a summary
    python -m train_tpu --experiment=mobilenetv2_imagenet --tpu=my-tpu --data_dir=gs://... --model_dir=gs://...
    python -m train_tpu --prune --qat                     # then pruning and QAT phases, ending in an int8 TFLite

As library functions (no flags):

    import train_tpu
    config = train_tpu.resolve_config("default", overrides=["train.epochs=1"], model_dir="/tmp/run")
    summary = train_tpu.run(config)

The harness runs on tf_keras (TF-MOT needs it): importing ``train_tpu`` sets
``TF_USE_LEGACY_KERAS=1`` before TensorFlow or keras_mobile load. If
keras_mobile was already imported on Keras 3 in this process, the import
stops with a RuntimeError saying how to run it.
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

from train_tpu.config import Config, resolve_config, write_config  # noqa: E402,F401
from train_tpu.experiments import get_experiment, list_experiments  # noqa: E402,F401


def run(config):
    """Run ``config`` (train / eval / train_and_eval, then export); returns the summary dict."""
    from train_tpu import trainer

    return trainer.run(config)


__all__ = ["Config", "resolve_config", "write_config", "run", "list_experiments", "get_experiment", "keras"]

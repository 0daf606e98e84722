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

from train_tpu.backend import keras  # noqa: F401  (first: selects tf_keras before anything loads Keras)

from train_tpu.config import Config, resolve_config, write_config  # noqa: F401
from train_tpu.driver import run  # noqa: F401  (train / eval / train_and_eval, then export: the summary)
from train_tpu.experiments import get_experiment, list_experiments  # noqa: F401

__all__ = ["Config", "resolve_config", "write_config", "run", "list_experiments", "get_experiment", "keras"]

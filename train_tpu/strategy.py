"""tf.distribute strategy and mixed-precision policy from the runtime config.

TPU (by name, ``local`` or ``grpc://host:port``, through the cluster resolver),
mirrored multi-GPU, multi-worker (``TF_CONFIG``), one device, or the default
strategy. A requested TPU that cannot be found is an error, never a silent CPU run.
"""

import json
import os

import tensorflow as tf

from train_tpu.backend import keras


class StrategyError(RuntimeError):
    """The requested accelerator or cluster is not available."""


def create_strategy(runtime):
    """The `tf.distribute.Strategy` for ``runtime`` (a `config.RuntimeConfig`)."""
    kind = runtime.strategy
    if kind == "auto":
        if runtime.tpu:
            kind = "tpu"
        elif _tf_config_has_cluster():
            kind = "multi_worker"
        elif tf.config.list_physical_devices("GPU"):
            kind = "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "one_device"
        else:
            kind = "default"
    if kind == "tpu":
        return _tpu_strategy(runtime.tpu or "local")
    if kind == "multi_worker":
        if not _tf_config_has_cluster():
            raise StrategyError(
                "runtime.strategy='multi_worker' needs the TF_CONFIG environment variable with a 'cluster' and a "
                "'task' (see https://www.tensorflow.org/guide/distributed_training#TF_CONFIG)."
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    if kind == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        if runtime.num_gpus is not None:
            if runtime.num_gpus > len(gpus):
                raise StrategyError(f"runtime.num_gpus={runtime.num_gpus} but only {len(gpus)} GPU(s) are visible.")
            gpus = gpus[: runtime.num_gpus]
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if kind == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    return tf.distribute.get_strategy()


def _tf_config_has_cluster():
    raw = os.environ.get("TF_CONFIG", "")
    if not raw:
        return False
    try:
        spec = json.loads(raw)
    except json.JSONDecodeError as error:
        raise StrategyError(f"TF_CONFIG is not valid JSON: {error}") from None
    cluster = spec.get("cluster", {})
    return sum(len(v) for v in cluster.values()) > 1


def _tpu_strategy(tpu):
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        if tpu != "local":
            tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise StrategyError(
            f"runtime.tpu={tpu!r}: no TPU found ({type(error).__name__}: {error}). Give the TPU's name, 'local' on a "
            "TPU VM, or grpc://host:8470; the run stops rather than train on CPU."
        ) from error
    if not tf.config.list_logical_devices("TPU"):
        raise StrategyError(f"runtime.tpu={tpu!r}: the cluster resolver found no TPU devices; not training on CPU.")
    return tf.distribute.TPUStrategy(resolver)


def is_tpu(strategy):
    return isinstance(strategy, (tf.distribute.TPUStrategy, tf.distribute.experimental.TPUStrategy))


def uses_gpu(strategy):
    try:
        devices = strategy.extended.worker_devices
    except RuntimeError:  # the default strategy: whatever TensorFlow places ops on
        return bool(tf.config.list_logical_devices("GPU"))
    return any("GPU" in d.upper() for d in devices)


def compute_dtype(runtime, strategy):
    """The resolved precision: 'float32', 'bfloat16' or 'float16'."""
    if runtime.mixed_precision != "auto":
        return runtime.mixed_precision
    if is_tpu(strategy):
        return "bfloat16"
    if uses_gpu(strategy):
        return "float16"
    return "float32"


def set_precision(precision):
    """Set tf_keras's global policy; returns the policy name."""
    name = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}[precision]
    keras.mixed_precision.set_global_policy(name)
    return name


def task_info(strategy):
    """(is_chief, task_type, task_id) for checkpoint / summary writing."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None) if resolver else None
    task_id = getattr(resolver, "task_id", None) if resolver else None
    if task_type is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True, task_type, task_id
    is_chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and "chief" not in
                                        json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {}))
    return is_chief, task_type, task_id

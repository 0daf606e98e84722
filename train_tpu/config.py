"""The experiment config: schema, defaults, YAML files, dotted overrides, validation.

Resolution order (later wins): schema defaults -> named experiment preset
(``experiments.py``) -> YAML config file -> overrides (``--set a.b=v`` and the
convenience flags). Every key is checked: an unknown key or a bad value raises
``ValueError`` naming the dotted key and what it accepts; nothing is coerced
except an int given for a float field. The resolved config is written to
``<model_dir>/config.yaml`` (atomically) by ``write_config``.

    config = resolve_config("mobilenetv2_imagenet", overrides=["optimizer.lr=0.1"])
"""

import dataclasses
import os
import typing
from typing import Optional, Tuple

import yaml

MODES = ("train", "eval", "train_and_eval")
STRATEGIES = ("auto", "tpu", "mirrored", "multi_worker", "one_device", "default")
PRECISIONS = ("auto", "float32", "bfloat16", "float16")
OPTIMIZERS = ("sgd", "rmsprop", "adamw")
SCHEDULES = ("cosine", "exponential", "linear", "constant")
WEIGHT_DECAY_MODES = ("l2", "decoupled")
EXPORT_FORMATS = ("savedmodel", "tflite_fp32", "tflite_fp16", "tflite_dynamic_int8", "tflite_int8", "onnx")
NORMALIZATIONS = ("raw", "inception", "imagenet")
PRUNE_SCHEDULES = ("polynomial_decay", "constant")


@dataclasses.dataclass
class ModelConfig:
    name: str = "mobilenetv2_035"
    alpha: Optional[float] = None  # width multiplier override (builders with an `alpha` argument)
    resolution: Optional[int] = None  # None: the dataset's train resolution
    dropout_rate: Optional[float] = None  # None: the builder's default
    sync_batch_norm: bool = False  # BatchNorm statistics over the global batch (all replicas)
    bn_momentum: Optional[float] = None  # None: the builder's (keras.applications 0.999, PyTorch-born 0.9)
    weights: str = ""  # optional .weights.h5 / .h5 to start from


@dataclasses.dataclass
class DataConfig:
    dataset: str = "default"
    data_dir: Optional[str] = None
    normalization: str = "raw"  # keras_mobile models rescale [0, 255] themselves
    randaugment_num_ops: int = 0
    randaugment_factor: float = 0.5
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    shuffle_buffer_size: int = 10_000
    eval_batch_size: Optional[int] = None  # None: train.batch_size
    cache_eval: bool = True


@dataclasses.dataclass
class OptimizerConfig:
    name: str = "sgd"
    lr: float = 0.1  # at `reference_batch_size` if that is > 0, else absolute
    reference_batch_size: int = 0  # > 0: lr scales linearly to lr * batch_size / reference_batch_size
    momentum: float = 0.9
    nesterov: bool = False
    rho: float = 0.9  # RMSProp decay
    epsilon: float = 1e-3  # RMSProp: inside the sqrt (TF style); AdamW: as usual
    beta_1: float = 0.9
    beta_2: float = 0.999
    weight_decay: float = 0.0
    weight_decay_mode: str = "l2"  # l2: wd * sum(w^2) / 2 added to the loss (TF-slim); decoupled: AdamW-style
    decay_depthwise: bool = True  # apply weight decay to depthwise kernels too
    clipnorm: Optional[float] = None


@dataclasses.dataclass
class ScheduleConfig:
    name: str = "cosine"
    warmup_epochs: float = 0.0
    decay_rate: float = 0.97  # exponential: multiply by this every `decay_epochs`
    decay_epochs: float = 2.4
    staircase: bool = True  # exponential: step once per `decay_epochs` (per-epoch steps)
    min_lr_ratio: float = 0.0  # cosine / linear end value as a fraction of lr


@dataclasses.dataclass
class TrainConfig:
    batch_size: int = 64  # global, over all replicas
    epochs: Optional[float] = 10.0
    train_steps: Optional[int] = None  # overrides epochs when set
    label_smoothing: float = 0.1
    ema_decay: float = 0.0  # 0 disables EMA; decay ramps as min(d, (1+n)/(10+n)) like tf.train.ExponentialMovingAverage
    steps_per_execution: int = 1
    checkpoint_every_steps: Optional[int] = None  # None: every epoch
    keep_checkpoints: int = 3
    log_every_steps: int = 0  # 0: once per execution
    eval_every_epochs: int = 0  # 0: only at the end (train_and_eval)
    seed: int = 0
    deterministic: bool = False  # op determinism + deterministic input (resume reproduces a run exactly)


@dataclasses.dataclass
class DistillConfig:
    teacher: str = ""  # registered model name, or a .keras / .h5 / SavedModel path; "" disables
    teacher_weights: str = ""  # weights file for a registered teacher
    temperature: float = 4.0
    loss_weight: float = 0.5  # loss = (1 - w) * CE(labels) + w * T^2 * KL(teacher || student)


@dataclasses.dataclass
class RuntimeConfig:
    strategy: str = "auto"
    tpu: str = ""  # TPU name, "local", or grpc://host:port
    num_gpus: Optional[int] = None  # mirrored: None = all visible
    mixed_precision: str = "auto"  # auto: bfloat16 on TPU, float16 on GPU, float32 on CPU
    xla: bool = False


@dataclasses.dataclass
class ExportConfig:
    enabled: bool = True
    formats: Tuple[str, ...] = ("savedmodel", "tflite_fp32", "tflite_int8")
    calibration_images: int = 64  # eval-split images for int8 calibration and parity samples
    eval_tflite: bool = True  # top-1 of every exported TFLite model on the whole eval split (LiteRT)


@dataclasses.dataclass
class PruneConfig:
    """Phase after float training: magnitude pruning fine-tuned from the float weights (``phases.py``)."""

    enabled: bool = False
    target_sparsity: float = 0.5  # fraction of zeros in every prunable kernel (conv, depthwise, dense)
    m_by_n: str = ""  # e.g. "2:4": structured m-by-n sparsity instead of target_sparsity
    schedule: str = "polynomial_decay"  # or "constant"
    epochs: float = 5.0
    # Peak lr of the phase (cosine to 0, no warmup); None: optimizer.lr / 5. Either one is scaled like
    # optimizer.lr when optimizer.reference_batch_size > 0.
    lr: Optional[float] = None
    ramp_fraction: float = 0.5  # the sparsity reaches its target after this fraction of the phase's steps
    frequency_steps: Optional[int] = None  # steps between mask updates; None: a quarter epoch
    skip_layers: Tuple[str, ...] = ()  # layer names left dense
    distill_from_float: bool = False  # the float model (EMA weights) as distillation teacher


@dataclasses.dataclass
class QatConfig:
    """Last phase: quantization-aware training from the float (or pruned) weights, exported as int8 TFLite."""

    enabled: bool = False
    epochs: float = 3.0
    # Peak lr of the phase (cosine to 0, no warmup); None: optimizer.lr / 10. Either one is scaled like
    # optimizer.lr when optimizer.reference_batch_size > 0.
    lr: Optional[float] = None
    preserve_sparsity: bool = True  # after a prune phase: TF-MOT's pruning-preserving scheme (PQAT)
    distill_from_float: bool = False  # the float model (EMA weights) as distillation teacher


@dataclasses.dataclass
class Config:
    mode: str = "train_and_eval"
    model_dir: str = "/tmp/train_tpu"
    experiment: str = "default"
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = dataclasses.field(default_factory=ScheduleConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    distill: DistillConfig = dataclasses.field(default_factory=DistillConfig)
    runtime: RuntimeConfig = dataclasses.field(default_factory=RuntimeConfig)
    export: ExportConfig = dataclasses.field(default_factory=ExportConfig)
    prune: PruneConfig = dataclasses.field(default_factory=PruneConfig)
    qat: QatConfig = dataclasses.field(default_factory=QatConfig)

    def to_dict(self):
        return _to_plain(dataclasses.asdict(self))


# key -> accepted choices; key -> (low, high, low_open, high_open) numeric range
_CHOICES = {
    "mode": MODES,
    "runtime.strategy": STRATEGIES,
    "runtime.mixed_precision": PRECISIONS,
    "optimizer.name": OPTIMIZERS,
    "optimizer.weight_decay_mode": WEIGHT_DECAY_MODES,
    "schedule.name": SCHEDULES,
    "data.normalization": NORMALIZATIONS,
    "prune.schedule": PRUNE_SCHEDULES,
}
_INF = float("inf")
_RANGES = {
    "model.alpha": (0, _INF, True, True),
    "model.resolution": (32, _INF, False, True),
    "model.dropout_rate": (0, 1, False, True),
    "model.bn_momentum": (0, 1, False, True),
    "data.randaugment_num_ops": (0, _INF, False, True),
    "data.randaugment_factor": (0, 1, False, False),
    "data.mixup_alpha": (0, _INF, False, True),
    "data.cutmix_alpha": (0, 1, False, False),
    "data.shuffle_buffer_size": (1, _INF, False, True),
    "data.eval_batch_size": (1, _INF, False, True),
    "optimizer.lr": (0, _INF, True, True),
    "optimizer.reference_batch_size": (0, _INF, False, True),
    "optimizer.momentum": (0, 1, False, True),
    "optimizer.rho": (0, 1, False, True),
    "optimizer.epsilon": (0, _INF, True, True),
    "optimizer.beta_1": (0, 1, False, True),
    "optimizer.beta_2": (0, 1, False, True),
    "optimizer.weight_decay": (0, _INF, False, True),
    "optimizer.clipnorm": (0, _INF, True, True),
    "schedule.warmup_epochs": (0, _INF, False, True),
    "schedule.decay_rate": (0, 1, True, False),
    "schedule.decay_epochs": (0, _INF, True, True),
    "schedule.min_lr_ratio": (0, 1, False, False),
    "train.batch_size": (1, _INF, False, True),
    "train.epochs": (0, _INF, True, True),
    "train.train_steps": (1, _INF, False, True),
    "train.label_smoothing": (0, 1, False, True),
    "train.ema_decay": (0, 1, False, True),
    "train.steps_per_execution": (1, _INF, False, True),
    "train.checkpoint_every_steps": (1, _INF, False, True),
    "train.keep_checkpoints": (1, _INF, False, True),
    "train.log_every_steps": (0, _INF, False, True),
    "train.eval_every_epochs": (0, _INF, False, True),
    "train.seed": (0, _INF, False, True),
    "distill.temperature": (0, _INF, True, True),
    "distill.loss_weight": (0, 1, False, False),
    "runtime.num_gpus": (1, _INF, False, True),
    "export.calibration_images": (1, _INF, False, True),
    "prune.target_sparsity": (0, 1, True, True),
    "prune.epochs": (0, _INF, True, True),
    "prune.lr": (0, _INF, True, True),
    "prune.ramp_fraction": (0, 1, True, False),
    "prune.frequency_steps": (1, _INF, False, True),
    "qat.epochs": (0, _INF, True, True),
    "qat.lr": (0, _INF, True, True),
}


# --------------------------------------------------------------------------- resolution
def resolve_config(experiment=None, config_file=None, overrides=(), model_dir=None, mode=None):
    """defaults -> preset `experiment` -> YAML `config_file` -> `overrides` -> validated `Config`.

    overrides: ``["a.b=value", ...]`` (values parsed as YAML scalars/lists) or a
    nested / dotted dict; applied in order.
    """
    from train_tpu import experiments  # local: experiments imports this module

    tree = Config().to_dict()
    name = experiment or "default"
    _merge(tree, experiments.get_experiment(name).overrides, origin=f"experiment {name!r}")
    tree["experiment"] = name
    if config_file:
        _merge(tree, load_yaml(config_file), origin=f"config file {config_file!r}")
    _merge(tree, parse_overrides(overrides), origin="overrides")
    if model_dir is not None:
        tree["model_dir"] = model_dir
    if mode is not None:
        tree["mode"] = mode
    return from_dict(tree)


def load_yaml(path):
    import tensorflow as tf  # gfile: also reads gs:// paths

    if not tf.io.gfile.exists(path):
        raise ValueError(f"config_file={path!r} does not exist.")
    with tf.io.gfile.GFile(path, "r") as f:
        data = yaml.safe_load(f.read()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"config_file={path!r} must hold a mapping of config keys; got {type(data).__name__}.")
    return data


def parse_overrides(overrides):
    """``["optimizer.lr=0.1", ...]`` or a dict -> one nested dict (later entries win)."""
    if isinstance(overrides, dict):
        return _nest(overrides)
    if isinstance(overrides, str):
        overrides = [overrides]
    tree = {}
    for item in overrides or ():
        if not isinstance(item, str) or "=" not in item:
            raise ValueError(f"override {item!r} must look like 'section.key=value' (e.g. optimizer.lr=0.1).")
        key, value = item.split("=", 1)
        key = key.strip()
        try:
            parsed = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError as error:
            raise ValueError(f"override {key}={value!r}: the value is not valid YAML ({error}).") from None
        _merge(tree, _nest({key: parsed}), origin="overrides", check=False)
    return tree


def _nest(flat):
    tree = {}
    for key, value in flat.items():
        if isinstance(value, dict):
            value = _nest(value)
        parts = str(key).split(".")
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"config key {key!r} conflicts with a value set for {part!r}.")
        if isinstance(value, dict) and isinstance(node.get(parts[-1]), dict):
            _merge(node[parts[-1]], value, origin="overrides", check=False)
        else:
            node[parts[-1]] = value
    return tree


def _merge(tree, update, origin, prefix="", check=True):
    for key, value in update.items():
        dotted = f"{prefix}{key}"
        if "." in str(key):
            _merge(tree, _nest({key: value}), origin, prefix, check)
            continue
        if check and key not in tree:
            known = sorted(tree)
            raise ValueError(
                f"unknown config key {dotted!r} (from {origin}); known keys"
                f"{' in ' + repr(prefix[:-1]) if prefix else ''}: {known}."
            )
        if check and isinstance(tree[key], dict):
            if not isinstance(value, dict):
                raise ValueError(f"config key {dotted!r} (from {origin}) is a section; give its keys, e.g. {dotted}.<key>=...")
            _merge(tree[key], value, origin, dotted + ".", check)
        elif isinstance(value, dict) and isinstance(tree.get(key), dict):
            _merge(tree[key], value, origin, dotted + ".", check)
        else:
            if check and isinstance(value, dict):
                raise ValueError(f"config key {dotted!r} (from {origin}) takes a value, not a mapping.")
            tree[key] = value


# --------------------------------------------------------------------------- validation
def from_dict(tree):
    """A validated `Config` from a (complete or partial) nested dict."""
    base = Config().to_dict()
    _merge(base, tree, origin="config")
    sections = {}
    for field in dataclasses.fields(Config):
        value = base[field.name]
        if dataclasses.is_dataclass(field.default_factory if field.default_factory is not dataclasses.MISSING else None):
            cls = field.default_factory
            kwargs = {f.name: _check_value(f"{field.name}.{f.name}", value[f.name], f.type) for f in dataclasses.fields(cls)}
            sections[field.name] = cls(**kwargs)
        else:
            sections[field.name] = _check_value(field.name, value, field.type)
    config = Config(**sections)
    _check_cross_fields(config)
    return config


def _check_value(key, value, annotation):
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union and type(None) in args:
        if value is None:
            return None
        annotation = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if value is None:
        raise ValueError(f"config key {key!r} must not be null; expected {_type_name(annotation)}.")
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"config key {key!r} must be a list of strings; got {value!r}.")
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"config key {key!r} must be a list of strings; got item {item!r}.")
        if key == "export.formats":
            unknown = [v for v in value if v not in EXPORT_FORMATS]
            if unknown:
                raise ValueError(f"config key 'export.formats' has {unknown}; accepted values: {list(EXPORT_FORMATS)}.")
        return tuple(value)
    if annotation is bool:
        if not isinstance(value, bool):
            raise ValueError(f"config key {key!r} must be true or false; got {value!r}.")
    elif annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"config key {key!r} must be an integer; got {value!r}.")
    elif annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"config key {key!r} must be a number; got {value!r}.")
        value = float(value)
        if value != value:
            raise ValueError(f"config key {key!r} must be a number; got NaN.")
    elif annotation is str:
        if key == "prune.m_by_n" and isinstance(value, int) and not isinstance(value, bool):
            raise ValueError(f"config key 'prune.m_by_n' must be a string like '2:4'; got {value!r} (YAML reads an "
                             "unquoted 2:4 as a base-60 number: quote it, --set \"prune.m_by_n='2:4'\").")
        if not isinstance(value, str):
            raise ValueError(f"config key {key!r} must be a string; got {value!r}.")
    if key in _CHOICES and value not in _CHOICES[key]:
        raise ValueError(f"config key {key!r} is {value!r}; accepted values: {list(_CHOICES[key])}.")
    if key in _RANGES:
        low, high, low_open, high_open = _RANGES[key]
        bad = value < low or value > high or (low_open and value == low) or (high_open and value == high)
        if bad:
            left = "(" if low_open else "["
            right = ")" if high_open else "]"
            raise ValueError(f"config key {key!r} is {value!r}; accepted values: {left}{low}, {high}{right}.")
    return value


def _type_name(annotation):
    return getattr(annotation, "__name__", str(annotation))


def _check_cross_fields(config):
    from keras_mobile.registry import list_models

    if config.model.name not in list_models():
        raise ValueError(f"config key 'model.name' is {config.model.name!r}; accepted values: {list_models()}.")
    import tfds_configs

    if config.data.dataset not in tfds_configs.list_datasets():
        raise ValueError(
            f"config key 'data.dataset' is {config.data.dataset!r}; accepted values: {tfds_configs.list_datasets()}."
        )
    if config.train.epochs is None and config.train.train_steps is None:
        raise ValueError("config keys 'train.epochs' and 'train.train_steps' are both null; set one of them.")
    if (config.data.mixup_alpha or config.data.cutmix_alpha) and config.distill.teacher:
        raise ValueError("data.mixup_alpha / data.cutmix_alpha cannot be combined with distill.teacher in this harness.")
    if config.optimizer.weight_decay_mode == "decoupled" and config.optimizer.name != "adamw" and config.optimizer.weight_decay:
        raise ValueError(
            f"config key 'optimizer.weight_decay_mode' is 'decoupled' with optimizer.name={config.optimizer.name!r}; "
            "decoupled weight decay is supported for 'adamw' only (use 'l2')."
        )
    if config.distill.teacher_weights and not config.distill.teacher:
        raise ValueError("config key 'distill.teacher_weights' is set but 'distill.teacher' is empty.")
    if config.runtime.tpu and config.runtime.strategy not in ("auto", "tpu"):
        raise ValueError(f"config key 'runtime.tpu' is set but runtime.strategy is {config.runtime.strategy!r}; use 'tpu' or 'auto'.")
    if not config.model_dir:
        raise ValueError("config key 'model_dir' must not be empty.")
    if config.prune.m_by_n:
        parse_m_by_n(config.prune.m_by_n)


def parse_m_by_n(text):
    """``"2:4"`` -> ``(2, 4)``; ValueError naming ``prune.m_by_n`` otherwise."""
    parts = str(text).split(":")
    try:
        m, n = (int(p) for p in parts)
    except ValueError:
        m = n = None
    if m is None or len(parts) != 2 or not 1 <= m < n:
        raise ValueError(f"config key 'prune.m_by_n' is {text!r}; accepted values: '' (off) or 'm:n' with "
                         "1 <= m < n, e.g. '2:4' (m zeros in every n consecutive weights).")
    return m, n


# --------------------------------------------------------------------------- output
def to_yaml(config):
    return yaml.safe_dump(config.to_dict(), sort_keys=False, default_flow_style=False)


def write_config(config, model_dir=None, filename="config.yaml"):
    """Write the resolved config to ``<model_dir>/config.yaml`` atomically; returns the path."""
    path = os.path.join(model_dir or config.model_dir, filename)
    atomic_write(path, to_yaml(config))
    return path


def atomic_write(path, text):
    """Write ``text`` to ``path`` via a temporary file and a rename (no half-written file)."""
    import tensorflow as tf

    directory = os.path.dirname(path)
    if directory:
        tf.io.gfile.makedirs(directory)
    temp = f"{path}.tmp-{os.getpid()}"
    with tf.io.gfile.GFile(temp, "w") as f:
        f.write(text)
    tf.io.gfile.rename(temp, path, overwrite=True)
    return path


def _to_plain(value):
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    return value


def read_config(path):
    """A validated `Config` from a written ``config.yaml``."""
    return from_dict(load_yaml(path))


__all__ = ["Config", "parse_m_by_n", "resolve_config", "parse_overrides", "from_dict", "write_config", "read_config", "to_yaml"]

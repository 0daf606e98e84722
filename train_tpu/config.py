"""The experiment config: schema, defaults, YAML files, dotted overrides, validation.

Resolution order (later wins): schema defaults -> named experiment preset
(``experiments.py``) -> YAML config file -> overrides (``--set a.b=v`` and the
convenience flags). Every key is checked: an unknown key or a bad value raises
``ValueError`` naming the dotted key and what it accepts, in the message format
of ``keras_mobile.validation`` (``optimizer.lr=0.0 is not supported; accepted
values: a number > 0.``); nothing is coerced except an int given for a float
field. Each field's range or choices sit beside it, in its field metadata, so a
renamed field keeps its check. The resolved config is written to
``<model_dir>/config.yaml`` (atomically) by ``write_config``.

    config = resolve_config("mobilenetv2_imagenet", overrides=["optimizer.lr=0.1"])
"""

import dataclasses
import os
import typing
from typing import Optional, Tuple

import yaml

import tfds_configs
from keras_mobile import validation
from keras_mobile.compression import CRITERIA as CHANNEL_CRITERIA
from keras_mobile.compression import SCHEDULES as PRUNE_SCHEDULES
from keras_mobile.export import FORMATS as EXPORT_FORMATS
from keras_mobile.registry import check_model_name, list_models, width_override
from keras_mobile.validation import fail, interval, items_of, one_of, range_of
from train_tpu import experiments
from train_tpu import files

MODES = ("train", "eval", "train_and_eval")
STRATEGIES = ("auto", "tpu", "mirrored", "multi_worker", "one_device", "default")
PRECISIONS = ("auto", "float32", "bfloat16", "float16")
OPTIMIZERS = ("sgd", "rmsprop", "adamw")
SCHEDULES = ("cosine", "exponential", "linear", "constant")
WEIGHT_DECAY_MODES = ("l2", "decoupled")
NORMALIZATIONS = tuple(tfds_configs.NORMALIZATIONS)

class ConfigError(ValueError):
    """A config value that cannot work, found when the run uses it (a weights file that does not fit the model,
    ...); the message names the key. ``python -m train_tpu`` prints it on one line."""


# Field metadata of this module (beside keras_mobile.validation's rule): words added to a type error.
_TYPE_HINT = "train_tpu.config.type_hint"


def _field(default, rule=None, type_hint=None):
    """A dataclass field with its accepted values (``interval`` / ``one_of`` / ``items_of``) in its metadata."""
    metadata = dict(rule or {})
    if type_hint:
        metadata[_TYPE_HINT] = type_hint
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass
class ModelConfig:
    name: str = "mobilenetv2_035"  # a registered model (checked against keras_mobile.list_models())
    # Width multiplier, passed as the builder's own width argument (the registry's width_arg: alpha, width or
    # scale); None: the variant's. Families without one (Xception, SqueezeNet) refuse it.
    width: Optional[float] = _field(None, interval(0, low_open=True))
    resolution: Optional[int] = _field(None, interval(32, integer=True))  # None: the dataset's train resolution
    dropout_rate: Optional[float] = _field(None, interval(0, 1, high_open=True))  # None: the builder's default
    sync_batch_norm: bool = False  # BatchNorm statistics over the global batch (all replicas)
    # None: the builder's (keras.applications 0.999, PyTorch-born 0.9)
    bn_momentum: Optional[float] = _field(None, interval(0, 1, high_open=True))
    # "" (random initialisation), "imagenet" (families with keras.applications files) or a .weights.h5 / .h5
    # file. When the dataset's classes differ from the checkpoint's, the backbone is loaded and the classifier
    # is new (its skipped weights are logged and listed in summary.json under "weights").
    weights: str = ""

    def width_kwargs(self):
        """``{width_arg: width}`` for the builder (``{}`` when width is None); ValueError if it has no width."""
        return {} if self.width is None else width_override(self.name, self.width, arg="model.width")


@dataclasses.dataclass
class DataConfig:
    # a registered dataset (tfds_configs.list_datasets()), "folder:PATH" (one sub-folder per class; prepared
    # into data_dir on first use) or "tfds:NAME[/CONFIG][:VERSION]" (any TFDS dataset prepared in data_dir)
    dataset: str = "default"
    data_dir: Optional[str] = None
    # tfds: datasets without validation / test splits: which tenth of train is held out for evaluation
    holdout_seed: int = _field(0, interval(0, integer=True))
    normalization: str = _field("raw", one_of(*NORMALIZATIONS))  # raw: keras_mobile models rescale [0, 255]
    # random-resized crop: area fraction and aspect-ratio ranges (Inception's 0.08-1 and 3/4-4/3 by default)
    crop_area_range: Tuple[float, float] = _field((0.08, 1.0), range_of(0, 1, low_open=True))
    crop_aspect_ratio_range: Tuple[float, float] = _field((3 / 4, 4 / 3), range_of(0, low_open=True))
    randaugment_num_ops: int = _field(0, interval(0, integer=True))
    randaugment_factor: float = _field(0.5, interval(0, 1))
    mixup_alpha: float = _field(0.0, interval(0))
    cutmix_alpha: float = _field(0.0, interval(0, 1))
    shuffle_buffer_size: int = _field(10_000, interval(1, integer=True))
    eval_batch_size: Optional[int] = _field(None, interval(1, integer=True))  # None: train.batch_size
    cache_eval: bool = True


@dataclasses.dataclass
class OptimizerConfig:
    name: str = _field("sgd", one_of(*OPTIMIZERS))
    lr: float = _field(0.1, interval(0, low_open=True))  # at `reference_batch_size` if that is > 0, else absolute
    # > 0: lr scales linearly to lr * batch_size / reference_batch_size
    reference_batch_size: int = _field(0, interval(0, integer=True))
    momentum: float = _field(0.9, interval(0, 1, high_open=True))
    nesterov: bool = False
    rho: float = _field(0.9, interval(0, 1, high_open=True))  # RMSProp decay
    epsilon: float = _field(1e-3, interval(0, low_open=True))  # RMSProp: inside the sqrt (TF style); AdamW: usual
    beta_1: float = _field(0.9, interval(0, 1, high_open=True))
    beta_2: float = _field(0.999, interval(0, 1, high_open=True))
    weight_decay: float = _field(0.0, interval(0))
    # l2: wd * sum(w^2) / 2 added to the loss (TF-slim); decoupled: AdamW-style
    weight_decay_mode: str = _field("l2", one_of(*WEIGHT_DECAY_MODES))
    decay_depthwise: bool = True  # apply weight decay to depthwise kernels too
    clipnorm: Optional[float] = _field(None, interval(0, low_open=True))
    # the backbone's learning rate (every layer but the classifier) as a fraction of the classifier's
    backbone_lr_multiplier: float = _field(1.0, interval(0, low_open=True))


@dataclasses.dataclass
class ScheduleConfig:
    name: str = _field("cosine", one_of(*SCHEDULES))
    warmup_epochs: float = _field(0.0, interval(0))
    decay_rate: float = _field(0.97, interval(0, 1, low_open=True))  # exponential: x this every decay_epochs
    decay_epochs: float = _field(2.4, interval(0, low_open=True))
    staircase: bool = True  # exponential: step once per `decay_epochs` (per-epoch steps)
    min_lr_ratio: float = _field(0.0, interval(0, 1))  # cosine / linear end value as a fraction of lr


@dataclasses.dataclass
class TrainConfig:
    batch_size: int = _field(64, interval(1, integer=True))  # global, over all replicas
    epochs: Optional[float] = _field(10.0, interval(0, low_open=True))
    train_steps: Optional[int] = _field(None, interval(1, integer=True))  # overrides epochs when set
    label_smoothing: float = _field(0.1, interval(0, 1, high_open=True))
    # 0 disables EMA; decay ramps as min(d, (1+n)/(10+n)) like tf.train.ExponentialMovingAverage
    ema_decay: float = _field(0.0, interval(0, 1, high_open=True))
    steps_per_execution: int = _field(1, interval(1, integer=True))
    checkpoint_every_steps: Optional[int] = _field(None, interval(1, integer=True))  # None: every epoch
    keep_checkpoints: int = _field(3, interval(1, integer=True))
    log_every_steps: int = _field(0, interval(0, integer=True))  # 0: once per execution
    eval_every_epochs: int = _field(0, interval(0, integer=True))  # 0: only at the end (train_and_eval)
    # the first epochs train the classifier only (backbone frozen, its BatchNorm in inference mode); needs
    # model.weights (a random backbone is not worth freezing)
    freeze_backbone_epochs: float = _field(0.0, interval(0))
    # network slimming (Liu et al. 2017): loss += slimming * sum |gamma| over every BatchNormalization, so that
    # channel_prune.criterion='bn_gamma' has unimportant channels to find (the paper uses 1e-5 to 1e-4)
    slimming: float = _field(0.0, interval(0))
    seed: int = _field(0, interval(0, integer=True))
    deterministic: bool = False  # op determinism + deterministic input (resume reproduces a run exactly)


@dataclasses.dataclass
class DistillConfig:
    teacher: str = ""  # registered model name, or a .keras / .h5 / SavedModel path; "" disables
    teacher_weights: str = ""  # weights file for a registered teacher
    temperature: float = _field(4.0, interval(0, low_open=True))
    # loss = (1 - w) * CE(labels) + w * T^2 * KL(teacher || student)
    loss_weight: float = _field(0.5, interval(0, 1))


@dataclasses.dataclass
class RuntimeConfig:
    strategy: str = _field("auto", one_of(*STRATEGIES))
    tpu: str = ""  # TPU name, "local", or grpc://host:port
    num_gpus: Optional[int] = _field(None, interval(1, integer=True))  # mirrored: None = all visible
    # auto: bfloat16 on TPU, float16 on GPU, float32 on CPU
    mixed_precision: str = _field("auto", one_of(*PRECISIONS))
    xla: bool = False


@dataclasses.dataclass
class ExportConfig:
    enabled: bool = True
    formats: Tuple[str, ...] = _field(("savedmodel", "keras", "tflite_fp32", "tflite_int8"), items_of(*EXPORT_FORMATS))
    # eval-split images for int8 calibration and parity samples
    calibration_images: int = _field(64, interval(1, integer=True))
    eval_tflite: bool = True  # top-1 of every exported TFLite model on the whole eval split (LiteRT)
    # Least top-1 agreement of an int8 TFLite model with the Keras model on the parity samples; None: keras_mobile's
    # default (export.TOLERANCES). 0 checks the max abs difference alone: a barely trained model's near-uniform
    # outputs make the int8 arg-max a coin toss among near-ties.
    int8_min_top1_agreement: Optional[float] = _field(None, interval(0, 1))


@dataclasses.dataclass
class ChannelPruneConfig:
    """Phase after float training: whole channels removed (a narrower dense model), fine-tuned (``phases.py``)."""

    # the fraction of Mult-Adds to remove, in (0, 1); 0 disables the phase
    mac_reduction: float = _field(0.0, interval(0, 1, high_open=True))
    criterion: str = _field("l1", one_of(*CHANNEL_CRITERIA))  # which channels go first
    round_to: int = _field(8, interval(1, integer=True))  # every pruned group keeps a multiple of this
    skip_layers: Tuple[str, ...] = ()  # layer names left exactly as they are
    taylor_batches: int = _field(8, interval(1, integer=True))  # training batches the 'taylor' criterion reads
    epochs: float = _field(5.0, interval(0, low_open=True))
    # Peak lr of the phase (cosine to 0, no warmup); None: optimizer.lr / 5. Either one is scaled like
    # optimizer.lr when optimizer.reference_batch_size > 0.
    lr: Optional[float] = _field(None, interval(0, low_open=True))
    distill_from_float: bool = True  # the float model (EMA weights) as distillation teacher

    @property
    def enabled(self):
        return self.mac_reduction > 0


@dataclasses.dataclass
class PruneConfig:
    """Phase after float training: magnitude pruning fine-tuned from the float weights (``phases.py``)."""

    enabled: bool = False
    # fraction of zeros in every prunable kernel (conv, depthwise, dense)
    target_sparsity: float = _field(0.5, interval(0, 1, low_open=True, high_open=True))
    # e.g. "2:4": structured m-by-n sparsity instead of target_sparsity (read through `m_by_n_pair`)
    m_by_n: str = _field("", type_hint=(
        " such as '2:4' (YAML reads an unquoted 2:4 as a base-60 number: quote it, --set \"prune.m_by_n='2:4'\")"))
    schedule: str = _field("polynomial_decay", one_of(*PRUNE_SCHEDULES))
    epochs: float = _field(5.0, interval(0, low_open=True))
    # Peak lr of the phase (cosine to 0, no warmup); None: optimizer.lr / 5. Either one is scaled like
    # optimizer.lr when optimizer.reference_batch_size > 0.
    lr: Optional[float] = _field(None, interval(0, low_open=True))
    # the sparsity reaches its target after this fraction of the phase's steps
    ramp_fraction: float = _field(0.5, interval(0, 1, low_open=True))
    # steps between mask updates; None: a quarter epoch
    frequency_steps: Optional[int] = _field(None, interval(1, integer=True))
    skip_layers: Tuple[str, ...] = ()  # layer names left dense
    distill_from_float: bool = False  # the float model (EMA weights) as distillation teacher

    @property
    def m_by_n_pair(self):
        """``(m, n)`` parsed from ``m_by_n`` ("2:4" -> (2, 4)), None when it is "" (unstructured sparsity)."""
        return validation.parse_m_by_n("prune.m_by_n", self.m_by_n) if self.m_by_n else None


@dataclasses.dataclass
class QatConfig:
    """Last phase: quantization-aware training from the float (or pruned) weights, exported as int8 TFLite."""

    enabled: bool = False
    epochs: float = _field(3.0, interval(0, low_open=True))
    # Peak lr of the phase (cosine to 0, no warmup); None: optimizer.lr / 10. Either one is scaled like
    # optimizer.lr when optimizer.reference_batch_size > 0.
    lr: Optional[float] = _field(None, interval(0, low_open=True))
    preserve_sparsity: bool = True  # after a prune phase: TF-MOT's pruning-preserving scheme (PQAT)
    distill_from_float: bool = False  # the float model (EMA weights) as distillation teacher


@dataclasses.dataclass
class Config:
    mode: str = _field("train_and_eval", one_of(*MODES))
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
    channel_prune: ChannelPruneConfig = dataclasses.field(default_factory=ChannelPruneConfig)
    prune: PruneConfig = dataclasses.field(default_factory=PruneConfig)
    qat: QatConfig = dataclasses.field(default_factory=QatConfig)

    def to_dict(self):
        return _to_plain(dataclasses.asdict(self))


def fields_by_key():
    """``{dotted key: dataclasses.Field}`` for every value of the schema (sections flattened)."""
    keys = {}
    for field in dataclasses.fields(Config):
        if _section(field) is None:
            keys[field.name] = field
        else:
            keys.update({f"{field.name}.{f.name}": f for f in dataclasses.fields(_section(field))})
    return keys


def _section(field):
    """The section dataclass of a ``Config`` field, or None for a plain value."""
    factory = field.default_factory
    return factory if factory is not dataclasses.MISSING and dataclasses.is_dataclass(factory) else None


# --------------------------------------------------------------------------- resolution
def resolve_config(experiment=None, config_file=None, overrides=(), model_dir=None, mode=None):
    """defaults -> preset `experiment` -> YAML `config_file` -> `overrides` -> validated `Config`.

    overrides: ``["a.b=value", ...]`` (values parsed as YAML scalars/lists) or a
    nested / dotted dict; applied in order.
    """
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
    """The mapping in the YAML file at ``path`` (local or gs://)."""
    if not files.exists(path):
        raise ValueError(f"config_file={path!r} does not exist.")
    data = yaml.safe_load(files.read_text(path)) or {}
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
                raise ValueError(
                    f"config key {dotted!r} (from {origin}) is a section; give its keys, e.g. {dotted}.<key>=...")
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
    values = {}
    for field in dataclasses.fields(Config):
        section = _section(field)
        if section is None:
            values[field.name] = _check_value(field.name, base[field.name], field)
        else:
            values[field.name] = section(**{
                f.name: _check_value(f"{field.name}.{f.name}", base[field.name][f.name], f)
                for f in dataclasses.fields(section)
            })
    config = Config(**values)
    _check_cross_fields(config)
    return config


def _check_value(key, value, field):
    """``value`` of the field at dotted ``key``: its type (from the annotation), then its rule (from its metadata)."""
    annotation = field.type
    if typing.get_origin(annotation) is typing.Union and type(None) in typing.get_args(annotation):
        if value is None:
            return None
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_args(annotation) == (float, float):  # a (min, max) range: --set data.crop_area_range=0.25,1
        if isinstance(value, str):
            try:
                value = [float(v) for v in value.split(",")]
            except ValueError:
                pass
        if isinstance(value, list):
            value = tuple(value)
    elif typing.get_origin(annotation) in (tuple, list):
        if isinstance(value, str):  # --set export.formats=savedmodel,tflite_int8
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
            fail(key, value, "a list of strings")
        value = tuple(value)
    elif annotation is bool:
        validation.check_bool(key, value)
    elif annotation is int:
        validation.check_int(key, value)
    elif annotation is float:
        value = validation.check_number(key, value)
    elif annotation is str and not isinstance(value, str):
        fail(key, value, "a string" + field.metadata.get(_TYPE_HINT, ""))
    return validation.check_field(key, value, field)


def _check_cross_fields(config):
    """Checks that read more than one field, or the registries of models and datasets."""
    check_model_name(config.model.name, arg="model.name")
    config.model.width_kwargs()  # model.width for a family without a width multiplier fails here
    tfds_configs.check_spec(config.data.dataset, arg="data.dataset", exists=True)
    weights = config.model.weights
    if weights and weights != "imagenet" and not files.exists(weights):
        fail("model.weights", weights, "'' (random initialisation), 'imagenet' or the path of an existing weights "
                                       "file (.weights.h5 / .h5) or .keras model file")
    if config.train.freeze_backbone_epochs and not weights:
        fail("train.freeze_backbone_epochs", config.train.freeze_backbone_epochs,
             "0 while model.weights is '' (freezing a randomly initialised backbone trains nothing useful); "
             "set model.weights ('imagenet' or a weights file)")
    if config.train.epochs is None and config.train.train_steps is None:
        fail("train.epochs", None, "a number > 0 when train.train_steps is null (set one of them)")
    if (config.data.mixup_alpha or config.data.cutmix_alpha) and config.distill.teacher:
        fail("distill.teacher", config.distill.teacher,
             "'' when data.mixup_alpha or data.cutmix_alpha is set (this harness does not combine them)")
    o = config.optimizer
    if o.weight_decay_mode == "decoupled" and o.name != "adamw" and o.weight_decay:
        fail("optimizer.weight_decay_mode", o.weight_decay_mode,
             f"'l2' with optimizer.name={o.name!r} (decoupled weight decay is supported for 'adamw' only)")
    teacher = config.distill.teacher
    if config.distill.teacher_weights and not teacher:
        fail("distill.teacher_weights", config.distill.teacher_weights, "'' while distill.teacher is empty")
    if teacher and teacher in list_models():
        if not config.distill.teacher_weights:
            fail("distill.teacher_weights", config.distill.teacher_weights,
                 f"a weights file: a registered teacher ({teacher!r}) needs one (an untrained teacher teaches nothing)")
    elif teacher and not files.exists(teacher):
        fail("distill.teacher", teacher, "'', a registered model name or an existing .keras / .h5 / SavedModel path")
    if config.runtime.tpu and config.runtime.strategy not in ("auto", "tpu"):
        fail("runtime.strategy", config.runtime.strategy, "'tpu' or 'auto' when runtime.tpu is set")
    validation.check_str("model_dir", config.model_dir, allow_empty=False)
    config.prune.m_by_n_pair  # parsed now: a bad value fails at resolution, not when the prune phase starts


# --------------------------------------------------------------------------- output
def to_yaml(config):
    return yaml.safe_dump(config.to_dict(), sort_keys=False, default_flow_style=False)


def write_config(config, model_dir=None, filename="config.yaml"):
    """Write the resolved config to ``<model_dir>/config.yaml`` atomically; returns the path."""
    return files.atomic_write(os.path.join(model_dir or config.model_dir, filename), to_yaml(config))


def read_config(path):
    """A validated `Config` from a written ``config.yaml``."""
    return from_dict(load_yaml(path))


def _to_plain(value):
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    return value


def recipe_table():
    """A markdown table of every preset as resolved (optimizer, lr at its batch, schedule, regularisation, length)."""
    rows = ["| experiment | model | optimizer | lr (batch) | schedule | wd | ls | dropout | EMA | epochs / steps |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for name in experiments.list_experiments():
        c = resolve_config(name)
        o, s, t = c.optimizer, c.schedule, c.train
        sched = s.name if s.name != "exponential" else f"x{s.decay_rate} / {s.decay_epochs} ep"
        if s.warmup_epochs:
            sched = f"warmup {s.warmup_epochs:g} ep + {sched}"
        lr = o.lr * (t.batch_size / o.reference_batch_size if o.reference_batch_size else 1)
        length = f"{t.train_steps} steps" if t.train_steps else f"{t.epochs:g} ep"
        rows.append(f"| {name} | {c.model.name} | {o.name} | {lr:g} ({t.batch_size}) | {sched} | "
                    f"{o.weight_decay:g} {o.weight_decay_mode} | {t.label_smoothing:g} | {c.model.dropout_rate} | "
                    f"{t.ema_decay:g} | {length} |")
    return "\n".join(rows)


__all__ = ["Config", "ConfigError", "resolve_config", "parse_overrides", "from_dict", "write_config", "read_config", "to_yaml",
           "fields_by_key", "recipe_table"]

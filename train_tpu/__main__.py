"""``python -m train_tpu [flags]``: flags -> config -> run. With no flags: the laptop default.

    python -m train_tpu                                              # default dataset, a few minutes on CPU
    python -m train_tpu --experiment=mixnet_s_imagenet --tpu=local --data_dir=gs://b/tfds --model_dir=gs://b/run1
    python -m train_tpu --config_file=my.yaml --set optimizer.lr=0.1 --set train.epochs=3
    python -m train_tpu --flagfile=run.flags
    python -m train_tpu --prune --qat                                # then 50% pruning, then QAT -> int8 TFLite
    python -m train_tpu --qat --qat_epochs=3 --distill_from_float   # QAT with the float model as teacher
    python -m train_tpu --slimming=1e-4 --channel_prune=0.3 --channel_prune_criterion=bn_gamma --qat  # 30% fewer Mult-Adds, int8
    python -m train_tpu --dataset=folder:~/photos --experiment=finetune --weights=imagenet   # your own images
    python -m train_tpu --dataset=tfds:oxford_iiit_pet --data_dir=~/tensorflow_datasets          # any prepared TFDS set
    python -m train_tpu --list_experiments

A bad flag or config value (or a dataset / weights file that cannot be used)
prints one ``train_tpu: <message>`` line and exits with status 1 (an unknown or
malformed flag too, and a phase's flag given while its phase is off); other
errors keep their traceback. Library INFO logs stay off the console unless
``--verbosity=0`` (absl) asks for them.

Resolution order: defaults -> --experiment preset -> --config_file -> the flags below -> --set overrides.
"""

import train_tpu  # noqa: F401  (selects tf_keras before anything else loads Keras)

import sys

import yaml
from absl import app
from absl import flags
from absl import logging

import tfds_configs
from keras_mobile import cli
from keras_mobile.pretrained.imagenet import ImagenetDownloadError
from keras_mobile.validation import fail
from train_tpu import config as config_lib
from train_tpu import experiments

# Errors that mean "this value cannot work" (the message names it), found while the run starts: printed on one line.
USER_ERRORS = (config_lib.ConfigError, tfds_configs.DatasetNotPreparedError, tfds_configs.ManualDownloadError,
               tfds_configs.UnusableDatasetError, ImagenetDownloadError)

# flag -> dotted config key (only flags given on the command line override the config)
_FLAG_KEYS = {
    "model": "model.name",
    "width": "model.width",
    "weights": "model.weights",
    "resolution": "model.resolution",
    "dataset": "data.dataset",
    "data_dir": "data.data_dir",
    "batch_size": "train.batch_size",
    "epochs": "train.epochs",
    "train_steps": "train.train_steps",
    "freeze_backbone_epochs": "train.freeze_backbone_epochs",
    "backbone_lr_multiplier": "optimizer.backbone_lr_multiplier",
    "teacher": "distill.teacher",
    "teacher_weights": "distill.teacher_weights",
    "tpu": "runtime.tpu",
    "strategy": "runtime.strategy",
    "mixed_precision": "runtime.mixed_precision",
    "xla": "runtime.xla",
    "steps_per_execution": "train.steps_per_execution",
    "deterministic": "train.deterministic",
    "seed": "train.seed",
    "slimming": "train.slimming",
    "channel_prune": "channel_prune.mac_reduction",
    "channel_prune_criterion": "channel_prune.criterion",
    "channel_prune_epochs": "channel_prune.epochs",
    "channel_prune_lr": "channel_prune.lr",
    "prune": "prune.enabled",
    "target_sparsity": "prune.target_sparsity",
    "m_by_n": "prune.m_by_n",
    "prune_epochs": "prune.epochs",
    "prune_lr": "prune.lr",
    "qat": "qat.enabled",
    "qat_epochs": "qat.epochs",
    "qat_lr": "qat.lr",
    "distill_from_float": ("channel_prune.distill_from_float", "prune.distill_from_float", "qat.distill_from_float"),
}
# flag -> the config sections of the phases it acts in: given while all of them are off, it is refused
_PHASE_FLAGS = {
    "channel_prune_criterion": ("channel_prune",),
    "channel_prune_epochs": ("channel_prune",),
    "channel_prune_lr": ("channel_prune",),
    "target_sparsity": ("prune",),
    "m_by_n": ("prune",),
    "prune_epochs": ("prune",),
    "prune_lr": ("prune",),
    "qat_epochs": ("qat",),
    "qat_lr": ("qat",),
    "distill_from_float": ("channel_prune", "prune", "qat"),
}
# config section -> the flag that turns its phase on
_PHASE_SWITCHES = {"channel_prune": "--channel_prune=FRACTION", "prune": "--prune", "qat": "--qat"}
# (flag, flag): the second overrides the first, so the two are not given together
_EXCLUSIVE_FLAGS = (("epochs", "train_steps"), ("target_sparsity", "m_by_n"))

flags.DEFINE_string("experiment", "default", "Named preset (--list_experiments).")
flags.DEFINE_string("config_file", None, "YAML file of config values on top of the preset.")
flags.DEFINE_multi_string("set", [], "Dotted override, e.g. --set optimizer.lr=0.1 (repeatable; last wins).")
flags.DEFINE_string("model_dir", None, "Checkpoints, TensorBoard, config.yaml, summary.json, export/.")
flags.DEFINE_enum("mode", None, ["train", "eval", "train_and_eval"], "What to run (default: the config's).")
flags.DEFINE_bool("list_experiments", False, "Print the presets and exit.")
flags.DEFINE_string("model", None, "Registered model name (keras_mobile.list_models()).")
flags.DEFINE_float("width", None, "Width multiplier of the model's family: alpha, width or scale, whichever its "
                   "builder takes (alias: --alpha); families without one refuse it.")
flags.DEFINE_alias("alpha", "width")
flags.DEFINE_string("weights", None, "Start from: 'imagenet' or a .weights.h5 / .h5 file; other classes than the "
                    "file's: the backbone is loaded and the classifier is new.")
flags.DEFINE_integer("resolution", None, "Input side in pixels.")
flags.DEFINE_string("dataset", None, "A registered dataset (tfds_configs.list_datasets()), folder:PATH (one "
                    "sub-folder per class) or tfds:NAME[/CONFIG][:VERSION] (prepared in --data_dir).")
flags.DEFINE_string("data_dir", None, "TFDS data_dir.")
flags.DEFINE_integer("batch_size", None, "Global batch size (all replicas).")
flags.DEFINE_float("epochs", None, "Training epochs.")
flags.DEFINE_integer("train_steps", None, "Training steps (overrides --epochs).")
flags.DEFINE_float("freeze_backbone_epochs", None, "Train only the classifier for the first N epochs (backbone "
                   "frozen, BatchNorm in inference mode); needs --weights.")
flags.DEFINE_float("backbone_lr_multiplier", None, "The backbone's learning rate as a fraction of the classifier's.")
flags.DEFINE_string("teacher", None, "Distillation teacher: registered name (+ --teacher_weights) or saved model path.")
flags.DEFINE_string("teacher_weights", None, "Weights file of a registered teacher.")
flags.DEFINE_string("tpu", None, "TPU name, 'local' or grpc://host:port.")
flags.DEFINE_string("strategy", None, "auto|tpu|mirrored|multi_worker|one_device|default.")
flags.DEFINE_string("mixed_precision", None, "auto|float32|bfloat16|float16.")
flags.DEFINE_bool("xla", None, "XLA-compile the forward/backward pass.")
flags.DEFINE_integer("steps_per_execution", None, "Steps per tf.function call.")
flags.DEFINE_bool("deterministic", None, "Op determinism + deterministic input pipeline.")
flags.DEFINE_integer("seed", None, "Random seed.")
flags.DEFINE_float("slimming", None, "Float training: L1 penalty on BatchNorm gammas (network slimming), e.g. 1e-4.")
flags.DEFINE_float("channel_prune", None, "After float training: remove this fraction of the Mult-Adds as whole "
                   "channels, then fine-tune with the float model as teacher (model_dir/channel_prune).")
flags.DEFINE_string("channel_prune_criterion", None,
                    f"Channel pruning: which channels go first, one of {list(config_lib.CHANNEL_CRITERIA)}.")
flags.DEFINE_float("channel_prune_epochs", None, "Channel-pruning phase epochs.")
flags.DEFINE_float("channel_prune_lr", None, "Channel-pruning phase peak learning rate.")
flags.DEFINE_bool("prune", None, "After float training: a magnitude-pruning phase (model_dir/prune).")
flags.DEFINE_float("target_sparsity", None, "Pruning: fraction of zeros per prunable kernel, in (0, 1).")
flags.DEFINE_string("m_by_n", None, "Pruning: structured sparsity instead, e.g. 2:4.")
flags.DEFINE_float("prune_epochs", None, "Pruning phase epochs.")
flags.DEFINE_float("prune_lr", None, "Pruning phase peak learning rate.")
flags.DEFINE_bool("qat", None, "Last: a quantization-aware training phase exported as int8 TFLite (model_dir/qat).")
flags.DEFINE_float("qat_epochs", None, "QAT phase epochs.")
flags.DEFINE_float("qat_lr", None, "QAT phase peak learning rate.")
flags.DEFINE_bool("distill_from_float", None, "The float model as distillation teacher in the channel_prune / prune / qat phases.")

FLAGS = flags.FLAGS


def config_from_flags():
    """The resolved config: --experiment, --config_file, the flags given on the command line, then --set."""
    overrides = [
        f"{key}={_yaml(FLAGS[name].value)}"
        for name, keys in _FLAG_KEYS.items() if FLAGS[name].present
        for key in ((keys,) if isinstance(keys, str) else keys)
    ]
    overrides += list(FLAGS.set)
    for first, second in _EXCLUSIVE_FLAGS:
        if FLAGS[first].present and FLAGS[second].present:
            fail(f"--{first}", FLAGS[first].value, f"left out with --{second} (--{second} overrides it)")
    config = config_lib.resolve_config(FLAGS.experiment, FLAGS.config_file, overrides,
                                       model_dir=FLAGS.model_dir, mode=FLAGS.mode)
    for name, sections in _PHASE_FLAGS.items():
        if FLAGS[name].present and not any(getattr(config, section).enabled for section in sections):
            phases = " or ".join(_PHASE_SWITCHES[section] for section in sections)
            fail(f"--{name}", FLAGS[name].value, f"left out unless {phases} turns its phase on")
    return config


def parse_flags(argv):
    """absl's flag parsing (``app.run``'s ``flags_parser``): an unknown or malformed flag is one line
    ``train_tpu: <message>`` and exit status 1 (absl's default prints two)."""
    try:
        return FLAGS(argv)
    except flags.Error as error:
        sys.exit(cli.error_line("train_tpu", f"{error} (python -m train_tpu --helpshort lists the flags)."))


def _yaml(value):
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def main(argv):
    if len(argv) > 1:
        sys.exit(cli.error_line("train_tpu", f"arguments {argv[1:]} are not supported; accepted values: flags only, "
                                             "--name=value (python -m train_tpu --helpshort lists them)."))
    if FLAGS.list_experiments:
        for name in experiments.list_experiments():
            print(f"{name}: {experiments.get_experiment(name).description}")
        return
    if not FLAGS["verbosity"].present:  # library INFO logs (TFDS's reader, ...) off the console by default
        logging.set_verbosity(logging.WARNING)
    try:
        config = config_from_flags()
    except ValueError as error:  # a bad flag, --set or config file value: the message names the key
        sys.exit(cli.error_line("train_tpu", error))
    try:
        train_tpu.run(config)
    except USER_ERRORS as error:
        sys.exit(cli.error_line("train_tpu", error))


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)

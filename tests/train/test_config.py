"""Config: resolution order defaults -> preset -> file -> overrides, validation errors, flags, written config,
the width multiplier through the registry."""

import pytest
import yaml

import train_tpu
from keras_mobile.registry import model_info
from keras_mobile.validation import field_rule
from train_tpu import __main__ as main
from train_tpu import config as config_lib
from train_tpu import experiments
from train_tpu import models as models_lib
from train_helpers import config_from_argv

pytestmark = pytest.mark.tf_keras_line  # train_tpu runs on tf_keras


def test_defaults_then_preset_then_file_then_overrides(tmp_path):
    defaults = config_lib.Config()
    preset = train_tpu.resolve_config("mobilenetv2_imagenet")
    assert defaults.optimizer.name == "sgd" and preset.optimizer.name == "rmsprop"   # preset over defaults
    assert preset.optimizer.lr == 0.045 and preset.train.batch_size == 96 * 16
    assert preset.data.shuffle_buffer_size == defaults.data.shuffle_buffer_size         # untouched key: default
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"optimizer": {"lr": 0.2, "momentum": 0.8}, "train": {"epochs": 3}}))
    filed = train_tpu.resolve_config("mobilenetv2_imagenet", config_file=str(path))
    assert (filed.optimizer.lr, filed.optimizer.momentum, filed.optimizer.name) == (0.2, 0.8, "rmsprop")
    final = train_tpu.resolve_config("mobilenetv2_imagenet", config_file=str(path),
                                     overrides=["optimizer.lr=0.1", "train.batch_size=32", "optimizer.lr=0.3"])
    assert final.optimizer.lr == 0.3 and final.optimizer.momentum == 0.8 and final.train.batch_size == 32
    assert final.experiment == "mobilenetv2_imagenet"
    # dict overrides (nested or dotted) are the library form of --set
    assert train_tpu.resolve_config(overrides={"optimizer": {"lr": 0.5}}).optimizer.lr == 0.5
    assert train_tpu.resolve_config(overrides={"optimizer.lr": 0.6}).optimizer.lr == 0.6


@pytest.mark.parametrize(
    "override, message",
    [
        ("optimizer.lrr=0.1", "unknown config key 'optimizer.lrr'"),
        ("optimiser.lr=0.1", "unknown config key 'optimiser'"),
        ("optimizer.name=adam", "optimizer.name='adam' is not supported; accepted values: ['sgd', 'rmsprop', 'adamw']."),
        ("optimizer.lr=fast", "optimizer.lr='fast' is not supported; accepted values: a number."),
        ("optimizer.lr=-1", "optimizer.lr=-1.0 is not supported; accepted values: a number > 0."),
        ("optimizer.lr=0.0", "optimizer.lr=0.0 is not supported; accepted values: a number > 0."),
        ("train.batch_size=12.5", "train.batch_size=12.5 is not supported; accepted values: an integer."),
        ("train.batch_size=0", "train.batch_size=0 is not supported; accepted values: an integer >= 1."),
        ("train.batch_size=null", "train.batch_size=None is not supported; accepted values: an integer."),
        ("train.ema_decay=1.0", "train.ema_decay=1.0 is not supported; accepted values: a number in [0, 1)."),
        ("train.deterministic=1", "train.deterministic=1 is not supported; accepted values: True or False."),
        ("mode=fit", "mode='fit' is not supported; accepted values: ['train', 'eval', 'train_and_eval']."),
        ("runtime.strategy=gpu", "runtime.strategy='gpu' is not supported; accepted values: ['auto', 'tpu',"),
        ("model.name=resnet50", "model.name='resnet50' is not supported; accepted values: ["),
        ("data.dataset=mnist", "data.dataset='mnist' is not supported; accepted values: a registered dataset (cifar10,"),
        ("data.dataset='folder:'", "data.dataset='folder:' is not supported; accepted values: a registered dataset ("),
        ("model.weights=/no/such.weights.h5", "model.weights='/no/such.weights.h5' is not supported; accepted values: "
                                              "'' (random initialisation), 'imagenet' or the path of an existing"),
        ("train.freeze_backbone_epochs=1", "train.freeze_backbone_epochs=1.0 is not supported; accepted values: 0 "
                                           "while model.weights is ''"),
        ("data.crop_area_range=[0.5,0.2]", "data.crop_area_range=[0.5, 0.2] is not supported; accepted values: a "
                                           "(min, max) pair of numbers with min <= max, each in (0, 1]."),
        ("data.crop_area_range=0.1", "data.crop_area_range=0.1 is not supported; accepted values: a (min, max) pair"),
        ("optimizer.backbone_lr_multiplier=0", "optimizer.backbone_lr_multiplier=0.0 is not supported; accepted "
                                               "values: a number > 0."),
        ("export.formats=[savedmodel,coreml]", "export.formats=['savedmodel', 'coreml'] is not supported; accepted "
                                               "values: a list of items from ['savedmodel',"),
        ("optimizer=0.1", "config key 'optimizer' (from overrides) is a section"),
        ("lr", "must look like 'section.key=value'"),
    ],
)
def test_validation_errors_name_the_key(override, message):
    with pytest.raises(ValueError) as error:
        train_tpu.resolve_config("default", overrides=[override])
    assert message in str(error.value)


def test_unknown_key_in_file_and_unknown_experiment(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  epoch: 3\n")
    with pytest.raises(ValueError, match=r"unknown config key 'train.epoch' \(from config file"):
        train_tpu.resolve_config(config_file=str(path))
    with pytest.raises(ValueError, match=r"experiment='imagenet' is not supported; accepted values: \["):
        train_tpu.resolve_config("imagenet")
    with pytest.raises(ValueError, match="does not exist"):
        train_tpu.resolve_config(config_file=str(tmp_path / "missing.yaml"))


def test_written_config_round_trips_and_is_atomic(tmp_path):
    config = train_tpu.resolve_config("mixnet_s_imagenet", overrides=["train.epochs=1"], model_dir=str(tmp_path))
    path = train_tpu.write_config(config)
    assert path == str(tmp_path / "config.yaml")
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]  # no temporary file left behind
    assert config_lib.read_config(path) == config


def test_every_preset_resolves_and_cites_sources():
    for name in experiments.list_experiments():
        config = train_tpu.resolve_config(name)
        assert config.experiment == name
        assert experiments.get_experiment(name).sources
    for name in ("mobilenetv2_imagenet", "mobilenetv3_large_imagenet", "mobilenetv3_small_imagenet",
                 "mobilenext_imagenet", "mixnet_s_imagenet", "shufflenetv2_imagenet"):
        assert name in experiments.EXPERIMENTS
    mixnet = train_tpu.resolve_config("mixnet_s_imagenet")
    assert mixnet.optimizer.lr * mixnet.train.batch_size / mixnet.optimizer.reference_batch_size == 0.256
    assert "| mixnet_s_imagenet | mixnet_s | rmsprop | 0.256 (4096)" in config_lib.recipe_table()


def test_flags_map_to_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optimizer:\n  lr: 0.2\n")
    argv = ["train_tpu", "--experiment=mobilenetv3_small_imagenet", f"--config_file={path}", "--batch_size=64",
            "--width=0.75", "--set", "optimizer.lr=0.01", "--set", "export.formats=savedmodel",
            f"--model_dir={tmp_path}", "--mode=eval", "--tpu=local"]
    config = config_from_argv(argv)
    assert config.train.batch_size == 64 and config.model.width == 0.75 and config.optimizer.lr == 0.01
    assert config.export.formats == ("savedmodel",) and config.mode == "eval" and config.runtime.tpu == "local"
    assert config.model.name == "mobilenetv3_small_100" and config.model_dir == str(tmp_path)
    weights = tmp_path / "start.weights.h5"
    weights.write_bytes(b"")
    config = config_from_argv(["train_tpu", "--experiment=finetune", f"--dataset=folder:{tmp_path}",
                               f"--weights={weights}", "--freeze_backbone_epochs=3", "--backbone_lr_multiplier=0.2",
                               "--set", "data.crop_area_range=0.3,1"])
    assert (config.data.dataset, config.model.weights) == (f"folder:{tmp_path}", str(weights))
    assert (config.train.freeze_backbone_epochs, config.optimizer.backbone_lr_multiplier) == (3.0, 0.2)
    assert config.data.crop_area_range == (0.3, 1.0) and config.model.name == "mobilenetv2_100"


# Every key that carried a range or a choice when they lived in tables keyed by dotted strings (_RANGES,
# _CHOICES): each must still carry a rule in its field's metadata (a renamed field keeps its check).
RULED_KEYS = """
    mode model.width model.resolution model.dropout_rate model.bn_momentum data.normalization
    data.randaugment_num_ops data.randaugment_factor data.mixup_alpha data.cutmix_alpha data.shuffle_buffer_size
    data.eval_batch_size optimizer.name optimizer.lr optimizer.reference_batch_size optimizer.momentum
    optimizer.rho optimizer.epsilon optimizer.beta_1 optimizer.beta_2 optimizer.weight_decay
    optimizer.weight_decay_mode optimizer.clipnorm schedule.name schedule.warmup_epochs schedule.decay_rate
    schedule.decay_epochs schedule.min_lr_ratio train.batch_size train.epochs train.train_steps
    train.label_smoothing train.ema_decay train.steps_per_execution train.checkpoint_every_steps
    train.keep_checkpoints train.log_every_steps train.eval_every_epochs train.seed distill.temperature
    distill.loss_weight runtime.strategy runtime.mixed_precision runtime.num_gpus export.formats
    export.calibration_images prune.target_sparsity prune.schedule prune.epochs prune.lr prune.ramp_fraction
    prune.frequency_steps qat.epochs qat.lr
""".split()


def test_ranges_and_choices_live_in_field_metadata():
    fields = config_lib.fields_by_key()
    unruled = [key for key in RULED_KEYS if key not in fields or field_rule(fields[key]) is None]
    assert not unruled, unruled
    # A representative few, checked by the rule beside the field (the message names the dotted key).
    for override, message in [
        ("model.resolution=16", "model.resolution=16 is not supported; accepted values: an integer >= 32."),
        ("data.cutmix_alpha=1.5", "data.cutmix_alpha=1.5 is not supported; accepted values: a number in [0, 1]."),
        ("schedule.decay_rate=0", "schedule.decay_rate=0.0 is not supported; accepted values: a number in (0, 1]."),
        ("prune.ramp_fraction=0", "prune.ramp_fraction=0.0 is not supported; accepted values: a number in (0, 1]."),
        ("runtime.mixed_precision=int8", "runtime.mixed_precision='int8' is not supported; accepted values: ["),
        ("train.seed=-1", "train.seed=-1 is not supported; accepted values: an integer >= 0."),
    ]:
        with pytest.raises(ValueError) as error:
            train_tpu.resolve_config("default", overrides=[override])
        assert message in str(error.value), (override, str(error.value))


def _trainable_params(model):
    return sum(int(w.shape.num_elements()) for w in model.trainable_weights)


@pytest.mark.parametrize("argv, name, width, reference", [
    # ReXNet calls it width, MobileNetV2 alpha, ShuffleNetV2 scale: the registry says which.
    (["--model=rexnet_100", "--width=1.3"], "rexnet_100", 1.3, "rexnet_130"),
    (["--model=mobilenetv2_035", "--alpha=0.5"], "mobilenetv2_035", 0.5, "mobilenetv2_050"),
    (["--model=shufflenet_v2_x0_5", "--width=1.0"], "shufflenet_v2_x0_5", 1.0, "shufflenet_v2_x1_0"),
])
def test_width_flag_reaches_every_family_width_argument(tmp_path, argv, name, width, reference):
    # No BatchNorm rewrite (the default preset's bn_momentum): one build per case.
    config = config_from_argv(["train_tpu", *argv, f"--model_dir={tmp_path}", "--set", "model.bn_momentum=null"])
    assert config.model.name == name and config.model.width == width
    # 1000 classes: the registry's reference counts are ImageNet heads. The count does not depend on the input
    # size, so the smallest one builds.
    model = models_lib.build_model(config, num_classes=1000, resolution=model_info(name).min_resolution)
    assert _trainable_params(model) == model_info(reference).reference[0]


def test_width_for_a_family_without_one_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError) as error:
        config_from_argv(["train_tpu", "--model=xception", "--width=0.5", f"--model_dir={tmp_path}"])
    message = str(error.value)
    assert message.startswith("model.width=0.5 is not supported") and "accepted values: None" in message
    assert "xception family has no width multiplier" in message and "['xception']" in message
    # python -m train_tpu: the message, no traceback (exit status 1).
    main.FLAGS.unparse_flags()
    main.FLAGS(["train_tpu", "--model=xception", "--alpha=0.5", f"--model_dir={tmp_path}"])
    try:
        with pytest.raises(SystemExit) as exit_:
            main.main(["train_tpu"])
    finally:
        main.FLAGS.unparse_flags()
    assert exit_.value.code == f"train_tpu: {message}"


def test_requested_tpu_that_is_missing_is_an_error():
    from train_tpu import strategy

    with pytest.raises(strategy.StrategyError, match="runtime.tpu='local': no TPU found"):
        strategy.create_strategy(config_lib.RuntimeConfig(strategy="tpu", tpu="local"))
    with pytest.raises(strategy.StrategyError, match="TF_CONFIG"):
        strategy.create_strategy(config_lib.RuntimeConfig(strategy="multi_worker"))

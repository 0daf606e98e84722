"""Config: resolution order defaults -> preset -> file -> overrides, validation errors, flags, written config."""

import pytest
import yaml

import train_tpu
from train_tpu import config as config_lib
from train_tpu import experiments
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
        ("optimizer.name=adam", "'optimizer.name' is 'adam'; accepted values: ['sgd', 'rmsprop', 'adamw']"),
        ("optimizer.lr=fast", "config key 'optimizer.lr' must be a number"),
        ("optimizer.lr=-1", "config key 'optimizer.lr' is -1.0; accepted values: (0, inf)"),
        ("train.batch_size=12.5", "config key 'train.batch_size' must be an integer"),
        ("train.ema_decay=1.0", "config key 'train.ema_decay' is 1.0"),
        ("train.deterministic=1", "config key 'train.deterministic' must be true or false"),
        ("mode=fit", "config key 'mode' is 'fit'; accepted values: ['train', 'eval', 'train_and_eval']"),
        ("runtime.strategy=gpu", "'runtime.strategy' is 'gpu'; accepted values"),
        ("model.name=resnet50", "config key 'model.name' is 'resnet50'; accepted values"),
        ("data.dataset=mnist", "config key 'data.dataset' is 'mnist'; accepted values"),
        ("export.formats=[savedmodel,coreml]", "config key 'export.formats' has ['coreml']"),
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
    with pytest.raises(ValueError, match=r"'experiment' is 'imagenet'; accepted values: \["):
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
    assert "| mixnet_s_imagenet | mixnet_s | rmsprop | 0.256 (4096)" in experiments.recipe_table()


def test_flags_map_to_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optimizer:\n  lr: 0.2\n")
    argv = ["train_tpu", "--experiment=mobilenetv3_small_imagenet", f"--config_file={path}", "--batch_size=64",
            "--width=0.75", "--set", "optimizer.lr=0.01", "--set", "export.formats=savedmodel",
            f"--model_dir={tmp_path}", "--mode=eval", "--tpu=local"]
    config = config_from_argv(argv)
    assert config.train.batch_size == 64 and config.model.alpha == 0.75 and config.optimizer.lr == 0.01
    assert config.export.formats == ("savedmodel",) and config.mode == "eval" and config.runtime.tpu == "local"
    assert config.model.name == "mobilenetv3_small_100" and config.model_dir == str(tmp_path)


def test_requested_tpu_that_is_missing_is_an_error():
    from train_tpu import strategy

    with pytest.raises(strategy.StrategyError, match="runtime.tpu='local': no TPU found"):
        strategy.create_strategy(config_lib.RuntimeConfig(strategy="tpu", tpu="local"))
    with pytest.raises(strategy.StrategyError, match="TF_CONFIG"):
        strategy.create_strategy(config_lib.RuntimeConfig(strategy="multi_worker"))

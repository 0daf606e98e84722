"""The harness's channel_prune phase and network slimming (the whole chain float -> channel_prune -> prune ->
qat runs in tests/train/test_phases.py)."""

import os

import numpy as np
import pytest
import tensorflow as tf

import train_tpu
from train_helpers import RESOLUTION, config_from_argv, tiny_overrides
from train_tpu import driver
from train_tpu import phases as phases_lib
from train_tpu.config import ConfigError

pytestmark = pytest.mark.tf_keras_line  # the harness runs on tf_keras


def test_channel_prune_phase_config_and_order(tmp_path):
    config = train_tpu.resolve_config("default", overrides={
        "channel_prune.mac_reduction": 0.5, "prune.enabled": True, "qat.enabled": True, "train.slimming": 1e-4,
        "train.ema_decay": 0.999}, model_dir=str(tmp_path))
    assert phases_lib.enabled_phases(config) == ["float", "channel_prune", "prune", "qat"]
    phase = phases_lib.create_phase(config, "channel_prune")
    assert phase.previous == "float" and phase.model_dir == str(tmp_path / "channel_prune")
    c = phase.config
    assert (c.train.slimming, c.train.ema_decay, c.optimizer.lr) == (0.0, 0.0, config.optimizer.lr / 5)
    assert c.channel_prune.distill_from_float
    assert phases_lib.create_phase(config, "prune").previous == "channel_prune"
    plain = train_tpu.resolve_config("default", model_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"phase 'channel_prune' is not enabled \(channel_prune.mac_reduction is 0\)"):
        phases_lib.create_phase(plain, "channel_prune")
    # Before the phase has pruned, its architecture cannot be built (a later phase says so).
    with pytest.raises(ValueError, match="has no architecture.json"):
        phases_lib.create_phase(config, "qat").architecture(10, 32)


def test_channel_prune_flags_and_bad_values():
    config = config_from_argv(["train_tpu", "--channel_prune=0.3", "--channel_prune_criterion=bn_gamma",
                               "--slimming=1e-4", "--channel_prune_epochs=2", "--nodistill_from_float"])
    assert (config.channel_prune.mac_reduction, config.channel_prune.criterion, config.channel_prune.epochs) == \
        (0.3, "bn_gamma", 2.0)
    assert config.train.slimming == 1e-4 and not config.channel_prune.distill_from_float
    for argv, message in (
            (["--channel_prune=1"], r"channel_prune.mac_reduction=1.0 is not supported; accepted values: a number in \[0, 1\)"),
            (["--channel_prune_criterion=norm"], r"channel_prune.criterion='norm' is not supported; accepted values: "
                                                 r"\['l1', 'bn_gamma', 'taylor'\]"),
            (["--slimming=-1"], r"train.slimming=-1.0 is not supported")):
        with pytest.raises(ValueError, match=message):
            config_from_argv(["train_tpu", *argv])


@pytest.mark.parametrize("section, message", [
    ({"skip_layers": ["no_such_layer"]}, r"channel_prune: skip_layers=\['no_such_layer'\] is not supported; "
                                         r"accepted values: names of layers of model .*\(unknown: \['no_such_layer'\]\)"),
    ({"mac_reduction": 0.99}, r"channel_prune.mac_reduction=0.99 is not supported; accepted values: at most 0.876 "
                              r"for mobilenetv2_035 with channel_prune.round_to=8 and channel_prune.skip_layers=\[\]\."),
])
def test_channel_prune_values_that_cannot_work_fail_before_any_training(tmp_path, default_data_dir, section, message):
    overrides = tiny_overrides(default_data_dir, **{"channel_prune.mac_reduction": 0.3,
                                                    **{f"channel_prune.{k}": v for k, v in section.items()}})
    config = train_tpu.resolve_config("default", overrides=overrides, model_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=message):
        train_tpu.run(config)
    assert not os.listdir(tmp_path)  # nothing trained, nothing written


def test_slimming_adds_the_l1_of_every_batchnorm_gamma_to_the_loss(tmp_path, default_data_dir):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (16, RESOLUTION, RESOLUTION, 3)).astype("float32")
    labels = rng.integers(0, 10, 16).astype("int32")
    losses, gammas = {}, None
    for slimming in (0.0, 0.5):
        config = train_tpu.resolve_config("default", overrides=tiny_overrides(default_data_dir, **{
            "train.slimming": slimming, "train.deterministic": True, "schedule.warmup_epochs": 0.0, "model_dir": str(tmp_path / str(slimming))}))
        trainer = driver.make_trainer(config)
        batches = iter(trainer.distribute(tf.data.Dataset.from_tensors((images, labels)).repeat()))
        if slimming:
            bn = [layer for layer in trainer.model.layers if type(layer).__name__ == "BatchNormalization"]
            assert len(trainer.slimming_vars) == len(bn) > 10
            gammas = sum(float(np.abs(v.numpy()).sum()) for v in trainer.slimming_vars)
            before = [v.numpy().copy() for v in trainer.slimming_vars]
        losses[slimming] = trainer.run_steps(batches, 1)[0]
    # Same seed, same batch, same initial weights: the first loss differs by exactly the penalty.
    assert losses[0.5] - losses[0.0] == pytest.approx(0.5 * gammas, rel=1e-4)
    # ... and its subgradient pulls every gamma down (SGD lr 0.05: by about lr * 0.5 beyond the data's gradient).
    moved = np.concatenate([v.numpy() - b for v, b in zip(trainer.slimming_vars, before)])
    assert np.median(moved) < -0.01

"""The harness's channel_prune phase and network slimming: float -> narrower dense model -> (sparse, int8)."""

import json
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


def _chain_overrides(default_data_dir, **extra):
    return tiny_overrides(default_data_dir, **{
        "train.train_steps": 8, "train.deterministic": True,
        # the float and channel_prune phases export .keras only; the qat phase always exports tflite_int8
        "export.enabled": True, "export.formats": ["keras"], "export.calibration_images": 8,
        "export.eval_tflite": False,
        "channel_prune.mac_reduction": 0.3, "channel_prune.criterion": "taylor", "channel_prune.taylor_batches": 2,
        "channel_prune.epochs": 0.02,
        "qat.enabled": True, "qat.epochs": 0.02,
        **extra,
    })


@pytest.mark.slow
def test_float_channel_prune_qat_chain_exports_the_narrower_model(tmp_path, default_data_dir):
    from keras_mobile import compression
    from keras_mobile import profile_model
    from train_tpu.backend import keras

    config = train_tpu.resolve_config("default", overrides=_chain_overrides(default_data_dir), model_dir=str(tmp_path))
    summary = train_tpu.run(config)
    pruned, qat = summary["phases"]["channel_prune"], summary["phases"]["qat"]
    phase_dir = tmp_path / "channel_prune"

    # The phase pruned 30% of the float model's Mult-Adds (taylor, on training batches), trained its own steps
    # in its own directory with the float model as teacher, and its summary states the profiled model.
    assert list(summary["phases"]) == ["channel_prune", "qat"]
    assert pruned["channel_pruning"]["criterion"] == "taylor" and pruned["distillation_teacher"] == "float phase"
    assert pruned["channel_pruning"]["mult_adds_before"] == summary["mult_adds"]
    assert 0.3 <= pruned["channel_pruning"]["mac_reduction"] < 0.33
    assert pruned["mult_adds"] == pruned["channel_pruning"]["mult_adds_after"]
    assert pruned["trainable_params"] == pruned["channel_pruning"]["params_after"] < summary["trainable_params"]
    assert pruned["train"]["final_step"] == 4  # ceil(0.02 * 187)
    report = json.loads((phase_dir / "channel_pruning.json").read_text())
    assert report["mult_adds_after"] == pruned["mult_adds"] and report["layers"]
    assert (phase_dir / "architecture.json").is_file()

    # The exported .keras model is the narrower one (same Mult-Adds), and the QAT phase quantized that
    # architecture: the int8 file's conv / depthwise / dense filters hold exactly its kernels' weights.
    exported = keras.models.load_model(phase_dir / "export" / "model.keras", compile=False)
    assert profile_model(exported).mult_adds == pruned["mult_adds"]
    kernels = sorted(int(np.prod(layer.weights[0].shape)) for layer in exported.layers
                     if type(layer).__name__ in ("Conv2D", "DepthwiseConv2D", "Dense"))
    content = (tmp_path / "qat" / "export" / "model_int8.tflite").read_bytes()
    filters = sorted(r["params"] for r in compression.tflite_weight_sparsity(content)
                     if "quant_preprocess/" not in r["layer"])
    assert filters == kernels
    assert qat["export"]["formats"]["tflite_int8"]["top1_agreement"] >= 0.75

    # Running it again resumes: no phase trains again, and the architecture is read, not pruned again.
    mtime = os.path.getmtime(phase_dir / "architecture.json")
    again = train_tpu.run(train_tpu.resolve_config(
        "default", overrides={**_chain_overrides(default_data_dir), "export.enabled": False}, model_dir=str(tmp_path)))
    for s in (again, again["phases"]["channel_prune"], again["phases"]["qat"]):
        assert s["train"]["start_step"] == s["train"]["final_step"]
    assert os.path.getmtime(phase_dir / "architecture.json") == mtime
    assert again["phases"]["channel_prune"]["channel_pruning"] == pruned["channel_pruning"]


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

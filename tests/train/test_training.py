"""In-process harness checks (default strategy): NaN guard, EMA + export, input-pipeline state, summary, a failed
export raised as it came."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

import keras_mobile
import train_tpu
from keras_mobile.export import ExportError
from train_tpu import driver
from train_tpu import trainer as trainer_lib

from helpers import assert_topk_matches
from train_helpers import tiny_overrides

pytestmark = pytest.mark.tf_keras_line  # the harness runs on tf_keras


def _trainer(default_data_dir, model_dir, **extra):
    config = train_tpu.resolve_config("default", overrides=tiny_overrides(default_data_dir, model_dir=str(model_dir), **extra))
    return driver.make_trainer(config)


@pytest.mark.slow
def test_nan_guard_stops_and_keeps_last_good_checkpoint(tmp_path, default_data_dir):
    good = _trainer(default_data_dir, tmp_path, **{"train.train_steps": 2, "train.checkpoint_every_steps": 1})
    good.train(log=lambda *a: None)
    latest = good.saver.latest
    assert latest.endswith("ckpt-2")
    # Same model_dir, an absurd learning rate: resumes at step 2, then the loss / weights go non-finite.
    bad = _trainer(default_data_dir, tmp_path, **{"train.train_steps": 20, "train.checkpoint_every_steps": 1,
                                          "optimizer.lr": 1e30})
    with pytest.raises(trainer_lib.NonFiniteLossError) as error:
        bad.train(log=lambda *a: None)
    message = str(error.value)
    latest = bad.saver.latest
    assert "non-finite" in message and latest in message and "optimizer.lr" in message
    # The latest checkpoint is a good one from before the failure (every save checks the weights are finite).
    kept = int(latest.rsplit("-", 1)[1])
    assert 2 <= kept < int(bad.step.numpy()) < 20
    reader = tf.train.load_checkpoint(latest)
    for name in reader.get_variable_to_shape_map():
        value = reader.get_tensor(name)
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            assert np.all(np.isfinite(value)), name


def test_epoch_seeded_input_skips_consumed_batches(tmp_path, default_data_dir):
    t = _trainer(default_data_dir, tmp_path, **{"train.deterministic": True})
    epoch0 = [b[1].numpy() for b, _ in zip(t.train_dataset(epoch=0), range(4))]
    resumed = [b[1].numpy() for b, _ in zip(t.train_dataset(epoch=0, skip_steps=2), range(2))]
    epoch1 = [b[1].numpy() for b, _ in zip(t.train_dataset(epoch=1), range(2))]
    again = [b[1].numpy() for b, _ in zip(t.train_dataset(epoch=0), range(4))]
    assert all(np.array_equal(a, b) for a, b in zip(epoch0, again))          # deterministic per epoch
    assert all(np.array_equal(a, b) for a, b in zip(epoch0[2:], resumed))    # resume skips consumed batches
    assert not all(np.array_equal(a, b) for a, b in zip(epoch0[:2], epoch1))  # a new epoch reshuffles


@pytest.mark.slow
def test_ema_weights_differ_from_raw_and_are_exported(tmp_path, default_data_dir):
    config = train_tpu.resolve_config("default", overrides=tiny_overrides(
        default_data_dir, model_dir=str(tmp_path), **{"train.train_steps": 6, "train.ema_decay": 0.9,
                                              "export.enabled": True, "export.formats": ["savedmodel"],
                                              "export.calibration_images": 16}))
    summary = train_tpu.run(config, log=lambda *a: None)
    assert summary["export"]["weights"] == "ema"
    with open(tmp_path / "summary.json") as f:
        written = json.load(f)
    for key in ("metrics", "params", "mult_adds", "wall_seconds", "artifacts", "export"):
        assert key in written, key
    assert written["metrics"]["eval_weights"] == "ema"
    assert written["mult_adds"] > 0 and written["params"] > 0
    assert os.path.exists(tmp_path / "config.yaml") and os.path.exists(tmp_path / "export" / "export_report.json")
    leftovers = [p.name for p in tmp_path.iterdir() if ".tmp" in p.name or p.name.startswith(".export")]
    assert not leftovers, leftovers

    # Rebuild from the checkpoint: the EMA weights differ from the raw ones, and the export holds the EMA ones.
    restored = driver.make_trainer(config)
    assert restored.restore() == 6
    raw, ema = restored.model.get_weights(), restored.ema_model.get_weights()
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(raw, ema)) > 1e-4
    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    exported = tf.saved_model.load(str(tmp_path / "export" / "saved_model")).signatures["serving_default"]
    out = list(exported(tf.constant(images)).values())[0].numpy()
    ema_probs = tf.nn.softmax(restored.ema_model(images, training=False)).numpy()
    raw_probs = tf.nn.softmax(restored.model(images, training=False)).numpy()
    assert np.max(np.abs(out - ema_probs)) < 1e-5
    assert np.max(np.abs(out - raw_probs)) > 1e-4
    # The reported top-1 is the EMA model's on the whole eval split, recomputed here by hand.
    import tfds_configs

    source = tfds_configs.load("default", data_dir=default_data_dir)
    batches = [(np.asarray(restored.ema_model(x, training=False)), y.numpy())
               for x, y in tfds_configs.eval_input(source, global_batch_size=100, image_size=32, normalization="raw")]
    scores, labels = (np.concatenate(parts) for parts in zip(*batches))
    # 6 steps: near-uniform outputs, so images within rounding of a tie may rank either way here (eager, batch 100)
    assert_topk_matches(written["metrics"]["eval_top1"], scores, labels)


def test_failed_export_is_recorded_then_raised_as_it_came(tmp_path, default_data_dir, monkeypatch):
    failure = ExportError("tflite_int8: top-1 agreement with the Keras model is 0.100 (required >= 0.9)")

    def export_model(*args, **kwargs):
        raise failure

    monkeypatch.setattr(keras_mobile, "export_model", export_model)
    config = train_tpu.resolve_config("default", overrides=tiny_overrides(
        default_data_dir, model_dir=str(tmp_path), **{"train.train_steps": 1, "export.enabled": True,
                                                      "export.calibration_images": 4}), mode="train")
    with pytest.raises(ExportError) as error:
        train_tpu.run(config, log=lambda *a: None)
    assert error.value is failure  # the original error and its traceback, not a RuntimeError built from a string
    assert error.traceback[-1].name == "export_model"
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["export"]["error"] == f"ExportError: {failure}"
    assert written["train"]["final_step"] == 1

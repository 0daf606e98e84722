"""Training on your own data: folder: and tfds: datasets through the harness, transfer learning (new classifier,
frozen backbone, backbone learning-rate multiplier), per-class results, labels beside the exported models,
``keras_mobile.predict`` on every format, and the CLI's one-line errors."""

import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import keras_mobile
import train_tpu
from keras_mobile.predict import Predictor
from train_tpu import driver
from tfds_configs import testing as tfds_testing

from helpers import COLOUR_CLASSES, make_image_folder, python_env, run_python
from train_helpers import MODEL, RESOLUTION, tiny_overrides

pytestmark = pytest.mark.tf_keras_line  # the harness runs on tf_keras

CLASSES = sorted(COLOUR_CLASSES)


def _weights_file(path, classes, seed=0):
    """A MobileNetV2 0.35 weights file with ``classes`` outputs and seeded weights (a stand-in checkpoint)."""
    model = keras_mobile.create_model(MODEL, input_shape=(RESOLUTION, RESOLUTION, 3), classes=classes,
                                      classifier_activation=None)
    rng = np.random.default_rng(seed)
    model.set_weights([w + rng.normal(0, 0.01, w.shape).astype(w.dtype) for w in model.get_weights()])
    model.save_weights(str(path))
    return str(path)


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """One harness run on an image folder, from a 5-class checkpoint: 2 frozen steps, 10 more, export.

    Deterministic. Twelve steps of a new 3-class classifier leave its outputs close to one another, where the
    int8 arg-max is a coin toss decided by the CPU's rounding: the int8 export is compared by max abs difference
    alone (``export.int8_min_top1_agreement=0``; the export still requires every output within 0.25).
    """
    base = tmp_path_factory.mktemp("own_data")
    root = make_image_folder(str(base / "photos"), per_class=20)
    weights = _weights_file(base / "five.weights.h5", classes=5)
    overrides = tiny_overrides(str(base / "data"), **{
        "data.dataset": f"folder:{root}", "model.weights": weights, "train.batch_size": 8,
        "train.train_steps": 12, "train.deterministic": True,
        "train.freeze_backbone_epochs": 0.34, "optimizer.backbone_lr_multiplier": 0.5,
        "export.enabled": True, "export.formats": ["savedmodel", "keras", "tflite_fp32", "tflite_int8"],
        "export.calibration_images": 6, "export.int8_min_top1_agreement": 0.0})
    config = train_tpu.resolve_config("default", overrides=overrides, model_dir=str(base / "run"))
    summary = train_tpu.run(config, log=lambda *a: None)
    return {"summary": summary, "root": root, "base": base, "weights": weights}


def test_folder_dataset_trains_from_a_checkpoint_with_a_new_classifier(folder_run):
    summary = folder_run["summary"]
    assert summary["dataset"] == f"folder:{folder_run['root']}"
    assert summary["weights"]["source"] == folder_run["weights"]
    assert summary["weights"]["new_layers"] == ["logits"]
    assert [(w["model_shape"], w["file_shape"]) for w in summary["weights"]["skipped_weights"]] == [
        ([1280, 3], [1280, 5]), ([3], [5])]
    # 54 training images / batch 8 = 6 steps per epoch; 0.34 epochs frozen = 2 steps
    assert summary["frozen_backbone_steps"] == 2 and summary["train"]["final_step"] == 12


def test_per_class_accuracy_and_confusion_matrix(folder_run):
    summary = folder_run["summary"]
    per_class = summary["per_class"]
    assert list(per_class["accuracy"]) == CLASSES
    assert sum(per_class["examples"].values()) == summary["metrics"]["eval_examples"] == 6
    overall = sum(per_class["accuracy"][c] * per_class["examples"][c] for c in CLASSES) / 6
    assert overall == pytest.approx(summary["metrics"]["eval_top1"], abs=1e-6)
    png = summary["artifacts"]["confusion_matrix"]
    assert png == os.path.join(summary["artifacts"]["model_dir"], "confusion_matrix.png")
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_labels_travel_with_the_export_and_predict_reads_every_format(folder_run, tmp_path):
    export_dir = folder_run["summary"]["export"]["directory"]
    with open(os.path.join(export_dir, "labels.txt")) as f:
        assert f.read().splitlines() == CLASSES
    images = [os.path.join(folder_run["root"], c, "001.jpg") for c in CLASSES]
    reference = Predictor(os.path.join(export_dir, "model.keras"))
    assert (reference.resolution, reference.normalization, reference.labels) == (RESOLUTION, "raw", CLASSES)
    expected = reference.scores(images)
    assert np.allclose(expected.sum(-1), 1.0, atol=1e-5)
    for name in ("saved_model", "model_fp32.tflite"):
        np.testing.assert_allclose(Predictor(os.path.join(export_dir, name)).scores(images), expected, atol=1e-4)
    int8 = Predictor(os.path.join(export_dir, "model_int8.tflite"))
    assert np.max(np.abs(int8.scores(images) - expected)) <= 0.25  # the export's own int8 tolerance
    # a weights file needs the architecture: --model, the labels for the classes, the resolution
    weights = str(tmp_path / "trained.weights.h5")
    tf_keras = __import__("tf_keras")
    tf_keras.models.load_model(os.path.join(export_dir, "model.keras"), compile=False).save_weights(weights)
    from_weights = Predictor(weights, model_name=MODEL, labels=os.path.join(export_dir, "labels.txt"),
                             resolution=RESOLUTION)
    np.testing.assert_allclose(from_weights.scores(images), expected, atol=1e-5)
    ranked = reference(images, top=2)
    assert [len(r) for r in ranked] == [2, 2, 2]
    assert all(r[0][1] >= r[1][1] and r[0][0] in CLASSES for r in ranked)
    result = run_python(["-m", "keras_mobile.predict", os.path.join(export_dir, "model_int8.tflite"), *images,
                         "--top", "2"], timeout=120, env=python_env(legacy=True))
    lines = result.stdout.splitlines()
    assert lines[0::3] == images
    assert all(re.fullmatch(r"  \d\.\d{4}  (blue|green|red)", line) for i, line in enumerate(lines) if i % 3)


def _layer_weights(model):
    return {layer.name: [np.array(w) for w in layer.weights] for layer in model.layers if layer.weights}


def _trainer(tmp_path, default_data_dir, weights=None, **extra):
    weights = weights or _weights_file(tmp_path / "ten.weights.h5", classes=10)
    config = train_tpu.resolve_config("default", overrides=tiny_overrides(
        default_data_dir, **{"model.weights": weights, "model_dir": str(tmp_path / "run"), **extra}))
    return driver.make_trainer(config)


def _fixed_batches(trainer, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (16, RESOLUTION, RESOLUTION, 3)).astype("float32")
    labels = rng.integers(0, 10, 16).astype("int32")
    return iter(trainer.distribute(tf.data.Dataset.from_tensors((images, labels)).repeat()))


def test_frozen_steps_keep_the_backbone_and_its_batchnorm_statistics(tmp_path, default_data_dir):
    trainer = _trainer(tmp_path, default_data_dir, **{"train.freeze_backbone_epochs": 0.02})
    assert trainer.freeze_steps == round(0.02 * trainer.steps_per_epoch) >= 3 and trainer.head_layer.name == "logits"
    assert trainer.models.weights["new_layers"] == []  # same classes as the file: nothing new
    before = _layer_weights(trainer.model)
    batches = _fixed_batches(trainer)
    trainer.run_steps(batches, 2)
    frozen = _layer_weights(trainer.model)
    for name, values in before.items():
        changed = any(not np.array_equal(a, b) for a, b in zip(values, frozen[name]))
        assert changed == (name == "logits"), name  # BatchNorm moving statistics included
    trainer.step.assign(trainer.freeze_steps)  # past the frozen steps: the whole model trains
    trainer.run_steps(batches, 1)
    after = _layer_weights(trainer.model)
    assert not np.array_equal(after["stem_conv"][0], frozen["stem_conv"][0])
    assert not np.array_equal(after["stem_bn"][2], frozen["stem_bn"][2])  # moving mean updates again


def test_backbone_lr_multiplier_scales_the_backbone_step_only(tmp_path, default_data_dir):
    deltas = {}
    trainer = _trainer(tmp_path, default_data_dir, **{"optimizer.backbone_lr_multiplier": 0.25,
                                                      "optimizer.momentum": 0.0, "schedule.warmup_epochs": 0.0})  # SGD: no state
    start = trainer.model.get_weights()
    for multiplier in (1.0, 0.25):  # the same step from the same weights, the multiplier traced in
        trainer.model.set_weights(start)
        trainer.backbone_lr_multiplier = multiplier
        trainer._train_fns.clear()
        before = _layer_weights(trainer.model)
        trainer.run_steps(_fixed_batches(trainer), 1)
        after = _layer_weights(trainer.model)
        deltas[multiplier] = {n: [b - a for a, b in zip(before[n], after[n])] for n in before}
    for name, full in deltas[1.0].items():
        for index, (d_full, d_scaled) in enumerate(zip(full, deltas[0.25][name])):
            trainable = not (name.endswith("_bn") and index >= 2)  # BN moving statistics are not optimized
            factor = 1.0 if name == "logits" or not trainable else 0.25
            np.testing.assert_allclose(d_scaled, factor * d_full, rtol=1e-4, atol=1e-7, err_msg=f"{name}[{index}]")


def test_tfds_dataset_without_eval_splits_trains_and_evaluates_on_a_held_out_slice(tmp_path):
    data_dir = str(tmp_path / "data")
    tfds_testing.write_catalog_metadata(None, data_dir, tfds_name="mnist", splits=("train",), num_examples=40)
    overrides = tiny_overrides(data_dir, **{"data.dataset": "tfds:mnist", "train.train_steps": 1,
                                            "train.batch_size": 8})
    config = train_tpu.resolve_config("default", overrides=overrides, model_dir=str(tmp_path / "run"))
    with tfds.testing.mock_data(num_examples=40, data_dir=data_dir):
        summary = train_tpu.run(config, log=lambda *a: None)
    assert summary["dataset"] == "tfds:mnist"
    assert summary["eval_split"].startswith("no 'validation' or 'test' split: evaluated on train[:10%]")
    assert summary["train"]["final_step"] == 1 and summary["metrics"]["eval_examples"] > 0  # (mock data: any count)
    assert list(summary["per_class"]["accuracy"]) == [str(i) for i in range(10)]


def test_cli_user_errors_are_one_line_and_library_info_logs_stay_off_the_console(tmp_path):
    root = make_image_folder(str(tmp_path / "photos"), per_class=8)
    wide = str(tmp_path / "wide.weights.h5")  # another width than --model: cannot be loaded
    keras_mobile.create_model("mobilenetv2_050", input_shape=(RESOLUTION, RESOLUTION, 3), classes=5).save_weights(wide)
    bad = run_python(["-m", "train_tpu", f"--dataset=folder:{root}", f"--data_dir={tmp_path / 'data'}",
                      f"--model={MODEL}", f"--resolution={RESOLUTION}", "--batch_size=8", "--train_steps=2",
                      f"--model_dir={tmp_path / 'run'}", f"--weights={wide}", "--freeze_backbone_epochs=0.5"],
                     timeout=180, env=python_env(legacy=True), check=False)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines()[-1].startswith(
        f"train_tpu: model.weights='{wide}' cannot be loaded: weights='{wide}' does not fit model 'mobilenetv2_0.35'")
    # The folder was prepared first (tfds_configs logs that at INFO): no absl INFO line reached the console.
    assert os.path.isdir(tmp_path / "data" / "photos")
    assert [line for line in bad.stderr.splitlines() if re.match(r"I\d{4} [\d:.]+ +\d+ \S+\.py:\d+\]", line)] == []

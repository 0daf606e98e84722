"""The export step of a phase: ``keras_mobile.export_model`` on the phase's export model, figures into the summary.

The export model comes from the phase (``models.TrainingModels.export_model``:
the EMA or raw float weights, the stripped pruned model, or the QAT model).
Every artifact is checked by keras_mobile against Keras; the per-format
figures (size, gzipped size, parity, eval top-1 of each TFLite model) go into
``summary["export"]``. The dataset's class names travel with the models
(``labels.txt``), and the report records the input preprocessing, which
``python -m keras_mobile.predict`` reads. A failure is recorded there too, then raised as it
came (an ``ExportError`` stays an ``ExportError``, with its traceback).
"""

import os

import numpy as np

import keras_mobile
import tfds_configs
from keras_mobile import compression
from keras_mobile import tflite
from keras_mobile.export import LABELS as EXPORT_LABELS
from keras_mobile.export import TOLERANCES as EXPORT_TOLERANCES
from keras_mobile.export import REPORT as EXPORT_REPORT
from train_tpu import files

SPARSITY_REPORT = "sparsity.json"


def export(trainer, summary):
    """Export ``trainer``'s trained models into ``<model_dir>/export``; fills ``summary["export"]``, returns it."""
    config = trainer.config
    directory = os.path.join(config.model_dir, "export")
    images = representative_images(trainer, config.export.calibration_images)
    model = trainer.models.export_model()
    if trainer.models.reports_sparsity:
        _record_sparsity(model, config.model_dir, summary)
    try:
        report = keras_mobile.export_model(
            model, directory, formats=config.export.formats, resolution=trainer.resolution,
            representative_data=images, sample_inputs=images[:16], labels=trainer.source.class_names,
            preprocessing={"normalization": config.data.normalization, "resolution": trainer.resolution,
                           "crop_fraction": trainer.source.config.crop_fraction},
            tolerances=_int8_tolerances(config.export),
        )
    except Exception as error:
        summary["export"] = {"error": f"{type(error).__name__}: {error}", "directory": directory}
        raise
    summary["export"] = {
        "directory": directory,
        "weights": "ema" if trainer.ema_model is not None else "raw",
        "formats": {
            name: {k: entry[k] for k in ("path", "bytes", "max_abs_diff", "top1_agreement") if k in entry}
            for name, entry in report["formats"].items()
        },
        "report": os.path.join(directory, EXPORT_REPORT),
        "labels": os.path.join(directory, EXPORT_LABELS),
    }
    for name, entry in report["formats"].items():
        path = os.path.join(directory, entry["path"])
        summary["artifacts"][name] = path
        if name.startswith("tflite"):
            content = files.read_bytes(path)
            summary["export"]["formats"][name]["gzip_bytes"] = compression.gzip_size(content)
            if config.export.eval_tflite:
                summary["export"]["formats"][name]["eval_top1"] = tflite_top1(trainer, content)
    return summary


def _int8_tolerances(export_config):
    """``export.int8_min_top1_agreement`` as ``export_model``'s tolerances for the formats whose check has one."""
    if export_config.int8_min_top1_agreement is None:
        return None
    return {name: {"min_top1": export_config.int8_min_top1_agreement}
            for name in export_config.formats if EXPORT_TOLERANCES[name]["min_top1"] is not None}


def representative_images(trainer, count):
    """``count`` eval-split images as the model sees them (float32 numpy): calibration and parity samples."""
    ds = tfds_configs.eval_input(trainer.source, global_batch_size=count, image_size=trainer.resolution,
                                 normalization=trainer.config.data.normalization)
    images, _ = next(iter(ds))
    return images.numpy().astype("float32")


def _record_sparsity(model, model_dir, summary):
    """The exported (stripped) model's per-layer sparsity, written to sparsity.json, summed up in the summary."""
    report = compression.sparsity_report(model)
    path = files.write_json(os.path.join(model_dir, SPARSITY_REPORT), report)
    summary["sparsity"] = {
        "total": compression.total_sparsity(report),
        "min_layer": min(row["sparsity"] for row in report),
        "layers": len(report),
        "report": path,
    }
    summary["artifacts"]["sparsity"] = path


def tflite_top1(trainer, content):
    """Top-1 of a TFLite model (LiteRT, batch 1) over the whole eval split."""
    runner = tflite.Runner(content)
    ds = tfds_configs.eval_input(trainer.source, global_batch_size=256, image_size=trainer.resolution,
                                 normalization=trainer.config.data.normalization)
    correct = count = 0
    for images, labels in ds:
        predictions = runner(images.numpy()).argmax(-1)
        correct += int(np.sum(predictions == labels.numpy().reshape(-1)))
        count += len(predictions)
    return correct / max(1, count)

"""The end-of-run summary (metrics, params, Mult-Adds, wall time, artifacts) and the export step."""

import os
import platform

import tensorflow as tf

import keras_mobile
from keras_mobile.export import REPORT as EXPORT_REPORT
from keras_mobile.export import export as export_model  # the function (keras_mobile.export is also re-exported as a function)


def build_summary(trainer, result, wall_start):
    config = trainer.config
    model = trainer.model
    summary = {
        "experiment": config.experiment,
        "model": config.model.name,
        "dataset": config.data.dataset,
        "resolution": trainer.resolution,
        "global_batch_size": trainer.global_batch,
        "strategy": type(trainer.strategy).__name__,
        "replicas": trainer.strategy.num_replicas_in_sync,
        "precision": trainer.precision,
        "ema": bool(trainer.ema_model is not None),
        "distillation_teacher": config.distill.teacher or None,
        "params": int(model.count_params()),
        "trainable_params": int(sum(int(tf.size(v)) for v in model.trainable_variables)),
        "mult_adds": None,
        "metrics": {},
        "train": result.get("train"),
        "artifacts": {
            "model_dir": config.model_dir,
            "config": result.get("config"),
            "checkpoint": trainer.saver.latest,
            "tensorboard": config.model_dir,
        },
        "host": {"python": platform.python_version(), "tensorflow": tf.__version__, "cpus": os.cpu_count()},
    }
    if "eval" in result:
        summary["metrics"] = {f"eval_{k}": v for k, v in result["eval"].items()}
        summary["metrics"]["eval_weights"] = "ema" if trainer.ema_model is not None else "raw"
    if "eval_raw_weights" in result:
        summary["metrics"].update({f"eval_raw_{k}": v for k, v in result["eval_raw_weights"].items()
                                   if k != "examples"})
    try:
        summary["mult_adds"] = int(keras_mobile.profile(model).mult_adds)
    except Exception as error:  # noqa: BLE001  (the profile is informative; never fail a run on it)
        summary["mult_adds_error"] = f"{type(error).__name__}: {error}"
    return summary


def export(trainer, summary):
    """Export the EMA (or raw) weights with keras_mobile.export; the parity report goes into the summary."""
    config = trainer.config
    directory = os.path.join(config.model_dir, "export")
    images = None
    from train_tpu.trainer import representative_images

    images = representative_images(trainer, config.export.calibration_images)
    model = trainer.export_model()
    try:
        report = export_model(
            model, directory, formats=config.export.formats, resolution=trainer.resolution,
            representative_data=images, sample_inputs=images[:16],
        )
    except Exception as error:  # noqa: BLE001  (recorded in the summary, then raised by the caller)
        summary["export"] = {"error": f"{type(error).__name__}: {error}", "directory": directory}
        return summary
    summary["export"] = {
        "directory": directory,
        "weights": "ema" if trainer.ema_model is not None else "raw",
        "formats": {
            name: {k: entry[k] for k in ("path", "bytes", "max_abs_diff", "top1_agreement") if k in entry}
            for name, entry in report["formats"].items()
        },
        "report": os.path.join(directory, EXPORT_REPORT),
    }
    for name, entry in report["formats"].items():
        summary["artifacts"][name] = os.path.join(directory, entry["path"])
    return summary


def format_summary(summary):
    lines = ["", "=" * 72, f"train_tpu summary: {summary['experiment']} / {summary['model']} on {summary['dataset']}"]
    m = summary.get("metrics", {})
    if m:
        keys = [k for k in m if k.startswith("eval_top") or k == "eval_loss"]
        lines.append("  eval (" + str(m.get("eval_weights")) + " weights): "
                     + ", ".join(f"{k[5:]} {m[k]:.4f}" for k in keys) + f" on {m.get('eval_examples')} images")
        if "eval_raw_top1" in m:
            lines.append(f"  eval (raw weights): top1 {m['eval_raw_top1']:.4f}")
    t = summary.get("train") or {}
    if t:
        ips = t.get("images_per_second")
        lines.append(f"  train: steps {t['start_step']} -> {t['final_step']} ({t['epochs']:.2f} epochs), final loss "
                     f"{t['final_loss']:.4f}, " + (f"{ips:.1f} images/s" if ips else "images/s n/a"))
    mult_adds = summary.get("mult_adds")
    lines.append(f"  params {summary['params']:,}, Mult-Adds "
                 + (f"{mult_adds / 1e6:.2f}M" if mult_adds else "n/a") + f" at {summary['resolution']} px")
    e = summary.get("export")
    if e:
        if "error" in e:
            lines.append(f"  export FAILED: {e['error']}")
        else:
            for name, entry in e["formats"].items():
                lines.append(f"  export {name}: {entry['path']} max|diff| {entry['max_abs_diff']:.2e}, top-1 agreement "
                             f"{entry['top1_agreement']:.3f}")
    lines.append(f"  wall time {summary.get('wall_seconds', 0):.1f} s; artifacts in {summary['artifacts']['model_dir']}")
    lines.append("=" * 72)
    return "\n".join(lines)

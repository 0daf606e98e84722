"""The end-of-run summary (metrics, params, Mult-Adds, wall time, artifacts) and the export step."""

import os
import platform

import tensorflow as tf

import keras_mobile
from keras_mobile.compression import gzip_size
from keras_mobile.export import REPORT as EXPORT_REPORT
from keras_mobile.export import export as export_model  # the function (keras_mobile.export is also re-exported as a function)


def build_summary(trainer, result, wall_start):
    config = trainer.config
    model = trainer.model
    summary = {
        "phase": trainer.phase.name if trainer.phase is not None else "float",
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
    if trainer.phase is not None:  # TF-MOT wrappers add masks / quantizer variables: the float phase has the counts
        summary["params"] = summary["trainable_params"] = None
        return summary
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
    if trainer.phase is not None:
        _phase_facts(trainer, model, summary)
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
        path = os.path.join(directory, entry["path"])
        summary["artifacts"][name] = path
        if name.startswith("tflite"):
            with tf.io.gfile.GFile(path, "rb") as f:
                content = f.read()
            summary["export"]["formats"][name]["gzip_bytes"] = gzip_size(content)
            if config.export.eval_tflite:
                summary["export"]["formats"][name]["eval_top1"] = tflite_top1(trainer, content)
    return summary


def _phase_facts(trainer, model, summary):
    """The prune phase's per-layer sparsity of the exported (stripped) model, also written to sparsity.json."""
    from keras_mobile import compression
    from train_tpu import checkpoints as ckpt_lib

    if trainer.phase.name == "prune":
        report = compression.sparsity_report(model)
        path = os.path.join(trainer.config.model_dir, "sparsity.json")
        ckpt_lib.write_json(path, report)
        summary["sparsity"] = {
            "total": compression.total_sparsity(report),
            "min_layer": min(row["sparsity"] for row in report),
            "layers": len(report),
            "report": path,
        }
        summary["artifacts"]["sparsity"] = path


def tflite_top1(trainer, content):
    """Top-1 of a TFLite model (LiteRT, batch 1) over the whole eval split."""
    import numpy as np

    import tfds_configs
    from keras_mobile import tflite

    runner = tflite.Runner(content)
    ds = tfds_configs.eval_input(trainer.source, global_batch_size=256, image_size=trainer.resolution,
                                 normalization=trainer.config.data.normalization)
    correct = count = 0
    for images, labels in ds:
        predictions = runner(images.numpy()).argmax(-1)
        correct += int(np.sum(predictions == labels.numpy().reshape(-1)))
        count += len(predictions)
    return correct / max(1, count)


def format_summary(summary):
    phase = "" if summary.get("phase", "float") == "float" else f" [phase {summary['phase']}]"
    lines = ["", "=" * 72,
             f"train_tpu summary{phase}: {summary['experiment']} / {summary['model']} on {summary['dataset']}"]
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
    if summary.get("params") is not None:
        lines.append(f"  params {summary['params']:,}, Mult-Adds "
                     + (f"{mult_adds / 1e6:.2f}M" if mult_adds else "n/a") + f" at {summary['resolution']} px")
    sparsity = summary.get("sparsity")
    if sparsity:
        lines.append(f"  sparsity {sparsity['total']:.1%} over {sparsity['layers']} prunable kernels (lowest layer "
                     f"{sparsity['min_layer']:.1%}); per layer: {sparsity['report']}")
    e = summary.get("export")
    if e:
        if "error" in e:
            lines.append(f"  export FAILED: {e['error']}")
        else:
            for name, entry in e["formats"].items():
                extra = ""
                if "gzip_bytes" in entry:
                    extra += f", {entry['bytes'] / 1024:.0f} KB ({entry['gzip_bytes'] / 1024:.0f} KB gzipped)"
                if "eval_top1" in entry:
                    extra += f", eval top1 {entry['eval_top1']:.4f}"
                lines.append(f"  export {name}: {entry['path']} max|diff| {entry['max_abs_diff']:.2e}, top-1 agreement "
                             f"{entry['top1_agreement']:.3f}{extra}")
    lines.append(f"  wall time {summary.get('wall_seconds', 0):.1f} s; artifacts in {summary['artifacts']['model_dir']}")
    lines.append("=" * 72)
    return "\n".join(lines)


def format_phases(summary):
    """One table row per phase: eval top-1 of the Keras model and of each exported TFLite model, sparsity."""
    rows = [("float", summary)] + list(summary.get("phases", {}).items())
    lines = ["", "| phase | Keras eval top-1 | TFLite eval top-1 | sparsity |", "|---|---|---|---|"]
    for name, s in rows:
        keras_top1 = s.get("metrics", {}).get("eval_top1")
        formats = (s.get("export") or {}).get("formats", {})
        tflite = ", ".join(f"{f[len('tflite_'):]} {e['eval_top1']:.4f}" for f, e in formats.items() if "eval_top1" in e)
        sparsity = s.get("sparsity", {}).get("total")
        lines.append(f"| {name} | {'n/a' if keras_top1 is None else f'{keras_top1:.4f}'} | {tflite or 'n/a'} | "
                     f"{'' if sparsity is None else f'{sparsity:.1%}'} |")
    return "\n".join(lines)

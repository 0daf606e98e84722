"""The run's summary: one dict per phase (metrics, params, Mult-Adds, wall time, artifacts), its text and table.

``build_summary`` starts a phase's dict after training and evaluation; the
export step (``export_step.py``) adds its ``export`` entry; ``driver.py`` writes
it to ``<model_dir>/summary.json`` and prints ``format_summary``.
"""

import os
import platform

import tensorflow as tf

import keras_mobile
from train_tpu import confusion
from train_tpu.phases import CHANNEL_REPORT_FILE


CHANNEL_PRUNING_TOTALS = ("criterion", "target_reduction", "round_to", "mult_adds_before", "mult_adds_after",
                          "mac_reduction", "params_before", "params_after", "params_reduction")


def build_summary(trainer, phase_name, result):
    """The summary dict of phase ``phase_name`` trained / evaluated by ``trainer``; ``result`` holds the figures
    (``config``: the written config path, ``train``, ``eval``, ``eval_raw_weights``)."""
    config = trainer.config
    model = trainer.model
    summary = {
        "phase": phase_name,
        "experiment": config.experiment,
        "model": config.model.name,
        "dataset": config.data.dataset,
        "resolution": trainer.resolution,
        "global_batch_size": trainer.global_batch,
        "strategy": type(trainer.strategy).__name__,
        "replicas": trainer.strategy.num_replicas_in_sync,
        "precision": trainer.precision,
        "ema": bool(trainer.ema_model is not None),
        # a phase distilling from the float model has no configured teacher
        "distillation_teacher": config.distill.teacher or ("float phase" if trainer.teacher is not None else None),
        "weights": trainer.models.weights,
        "frozen_backbone_steps": trainer.freeze_steps or None,
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
    pruning = trainer.models.channel_pruning
    if pruning:  # the channel_prune phase: totals here, every group and layer in the phase's JSON report
        summary["channel_pruning"] = {key: pruning[key] for key in CHANNEL_PRUNING_TOTALS}
        summary["artifacts"]["channel_pruning"] = os.path.join(config.model_dir, CHANNEL_REPORT_FILE)
    if trainer.source.eval_note:
        summary["eval_split"] = trainer.source.eval_note
    if "eval" in result:
        summary["metrics"] = {f"eval_{k}": v for k, v in result["eval"].items()}
        summary["metrics"]["eval_weights"] = "ema" if trainer.ema_model is not None else "raw"
    if result.get("confusion_matrix") is not None:
        summary["per_class"] = confusion.per_class_accuracy(result["confusion_matrix"], trainer.source.class_names)
    if "eval_raw_weights" in result:
        summary["metrics"].update({f"eval_raw_{k}": v for k, v in result["eval_raw_weights"].items()
                                   if k != "examples"})
    if trainer.models.wrapped:  # TF-MOT wrappers add masks / quantizer variables: the float phase has the counts
        summary["params"] = summary["trainable_params"] = None
        return summary
    try:
        summary["mult_adds"] = int(keras_mobile.profile_model(model).mult_adds)
    except Exception as error:  # noqa: BLE001  (the profile is informative; never fail a run on it)
        summary["mult_adds_error"] = f"{type(error).__name__}: {error}"
    return summary


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
    pruning = summary.get("channel_pruning")
    if pruning:
        lines.append(f"  channel pruning ({pruning['criterion']}): Mult-Adds {pruning['mult_adds_before'] / 1e6:.2f}M -> "
                     f"{pruning['mult_adds_after'] / 1e6:.2f}M (-{pruning['mac_reduction']:.1%}), params "
                     f"{pruning['params_before']:,} -> {pruning['params_after']:,}; per layer: "
                     f"{summary['artifacts']['channel_pruning']}")
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
    weights = summary.get("weights")
    if weights:
        new = weights.get("new_layers")
        lines.append(f"  initial weights: {weights['source']}" + (f" (new classifier: {', '.join(new)})" if new else ""))
    per_class = (summary.get("per_class") or {}).get("accuracy")
    if per_class:
        known = {k: v for k, v in per_class.items() if v is not None}
        worst = sorted(known, key=known.get)[:3]
        lines.append("  per-class top-1: lowest " + ", ".join(f"{k} {known[k]:.3f}" for k in worst)
                     + (f"; confusion matrix {summary['artifacts']['confusion_matrix']}"
                        if "confusion_matrix" in summary["artifacts"] else ""))
    lines.append(f"  wall time {summary.get('wall_seconds', 0):.1f} s; artifacts in {summary['artifacts']['model_dir']}")
    lines.append("=" * 72)
    return "\n".join(lines)


def format_phases(summary):
    """One table row per phase: Mult-Adds, eval top-1 of the Keras model and of each exported TFLite model,
    sparsity (a TF-MOT phase has the Mult-Adds of the phase before it)."""
    rows = [("float", summary)] + list(summary.get("phases", {}).items())
    lines = ["", "| phase | Mult-Adds | Keras eval top-1 | TFLite eval top-1 | sparsity |", "|---|---|---|---|---|"]
    mult_adds = None
    for name, s in rows:
        keras_top1 = s.get("metrics", {}).get("eval_top1")
        formats = (s.get("export") or {}).get("formats", {})
        tflite = ", ".join(f"{f[len('tflite_'):]} {e['eval_top1']:.4f}" for f, e in formats.items() if "eval_top1" in e)
        sparsity = s.get("sparsity", {}).get("total")
        mult_adds = s.get("mult_adds") or mult_adds
        lines.append(f"| {name} | {'n/a' if mult_adds is None else f'{mult_adds / 1e6:.2f}M'} | "
                     f"{'n/a' if keras_top1 is None else f'{keras_top1:.4f}'} | {tflite or 'n/a'} | "
                     f"{'' if sparsity is None else f'{sparsity:.1%}'} |")
    return "\n".join(lines)

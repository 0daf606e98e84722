"""The driver of a run: the phases in order, each trained, evaluated, exported and reported.

``train_tpu.run`` is this module's ``run`` (the module is not named ``run``: it would shadow that function).

    summary = run(config)             # float, then channel_prune / prune / qat when enabled; the float phase's summary

The float phase runs in ``model_dir``; each enabled compression phase
(``channel_prune``, ``prune``, ``qat``; see ``phases.py``) then runs in ``model_dir/<phase>``
from the weights of the phase before it. Every phase writes its own
config.yaml, summary.json (with per-class accuracy) and confusion_matrix.png (class names on the axes); the top-level summary.json (the float phase's)
also holds the compression phases' summaries under ``phases``. Only the chief
writes files. A failed export is recorded in the summaries, which are
written, and then raised as it came (e.g. ``keras_mobile.export.ExportError``).
"""

import contextlib
import os
import time

import tensorflow as tf
from tensorflow.python.framework import config as tf_config  # is_/disable_op_determinism: not in tf.config

import tfds_configs
from train_tpu import config as config_lib
from train_tpu import confusion
from train_tpu import export_step
from train_tpu import files
from train_tpu import phases as phases_lib
from train_tpu import report
from train_tpu import strategy as strategy_lib
from train_tpu.trainer import Trainer

CONFUSION_PNG = "confusion_matrix.png"


def run(config, strategy=None, log=print):
    """Train / evaluate / export as ``config.mode`` says, phase by phase; returns the summary."""
    with _op_determinism(config.train.deterministic):
        return _run_phases(config, strategy, log)


def make_trainer(config, phase="float", strategy=None, source=None):
    """The `Trainer` of phase ``phase`` of ``config`` (its models built; nothing restored or trained yet)."""
    phase = phases_lib.create_phase(config, phase)
    return Trainer(phase.config, phase.build, strategy=strategy, source=source)


def _run_phases(config, strategy, log):
    wall_start = time.perf_counter()
    strategy = strategy or strategy_lib.create_strategy(config.runtime)
    source = tfds_configs.load(config.data.dataset, data_dir=config.data.data_dir,
                               holdout_seed=config.data.holdout_seed)
    resolution = config.model.resolution or source.config.train_resolution
    for name in phases_lib.enabled_phases(config):
        phases_lib.create_phase(config, name).preflight(source.config.num_classes, resolution)
    summary = None  # the float phase's, holding the others under "phases"
    for name in phases_lib.enabled_phases(config):
        phase = phases_lib.create_phase(config, name)
        if phase.previous:
            log(f"\n--- phase {name!r}: fine-tuning from phase {phase.previous!r} in {phase.model_dir}")
        phase_start = time.perf_counter()
        trainer = Trainer(phase.config, phase.build, strategy=strategy, source=source)
        result = _train_and_evaluate(trainer, log)
        phase_summary = report.build_summary(trainer, name, result)
        if trainer.is_chief and result.get("confusion_matrix") is not None:
            phase_summary["artifacts"]["confusion_matrix"] = files.atomic_write(
                os.path.join(phase.model_dir, CONFUSION_PNG),
                confusion.confusion_png(result["confusion_matrix"], source.class_names,
                                        title=f"{phase.config.model.name} on {config.data.dataset} ({name} phase)"))
        if summary is None:
            summary = phase_summary
        else:
            summary.setdefault("phases", {})[name] = phase_summary
        c = phase.config
        try:
            if trainer.is_chief and c.export.enabled and c.mode != "eval":
                export_step.export(trainer, phase_summary)
        finally:  # also after a failed export: the summaries say what failed, then the error goes on up
            phase_summary["wall_seconds"] = time.perf_counter() - phase_start
            if trainer.is_chief:
                phase_summary["artifacts"]["summary"] = files.write_json(
                    os.path.join(c.model_dir, "summary.json"), phase_summary)
                log(report.format_summary(phase_summary))
                summary["wall_seconds"] = time.perf_counter() - wall_start
                files.write_json(summary["artifacts"]["summary"], summary)
    if summary.get("phases"):
        log(report.format_phases(summary))
    return summary


def _train_and_evaluate(trainer, log):
    """Train and / or evaluate as the trainer's config.mode says (config.yaml written first); returns the figures."""
    config = trainer.config
    result = {"config": config_lib.write_config(config) if trainer.is_chief else None}
    if config.mode in ("train", "train_and_eval"):
        result["train"] = trainer.train(log=log)
    elif not trainer.restore():
        raise ValueError(f"mode='eval' needs a checkpoint in {trainer.saver.directory}; none was found.")
    if config.mode in ("eval", "train_and_eval"):
        result["eval"] = trainer.evaluate(use_ema=True)
        result["confusion_matrix"] = trainer.last_confusion_matrix
        if trainer.ema_model is not None:
            result["eval_raw_weights"] = trainer.evaluate(use_ema=False)
    return result


@contextlib.contextmanager
def _op_determinism(enabled):
    """TensorFlow's process-wide op determinism on for the run when ``enabled``, restored afterwards.

    A notebook (or a test) that calls ``run`` keeps its own setting for whatever it runs next.
    """
    before = tf_config.is_op_determinism_enabled()
    if enabled and not before:
        tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if enabled and not before:
            tf_config.disable_op_determinism()

"""Subprocess entry for tests/train: runs a harness scenario in a fresh TensorFlow process.

    python tests/train/_worker.py SCENARIO OUT.npz CONFIG_JSON

Scenarios:
  one_step:      per case, one training step on a fixed global batch under MirroredStrategy over 2
                 logical CPU devices and under OneDeviceStrategy, same initial weights; saves both
                 losses and weights.
  multi_worker:  trains under MultiWorkerMirroredStrategy (TF_CONFIG from the environment) and
                 saves this worker's final weights.
  phases_mirrored: float -> prune -> QAT under MirroredStrategy over 2 logical CPUs.
  kill_after_save: ``python -m train_tpu`` with the flags in CONFIG_JSON["argv"], killed by SIGKILL from
                 inside right after its checkpoint of step CONFIG_JSON["kill_after_step"] is written (a
                 preemption at a known point, no polling race); OUT is unused.
"""

import json
import sys

import numpy as np


def one_step(out, cases):
    """For each ``{case: overrides}``: one step under OneDeviceStrategy and under MirroredStrategy over 2
    logical CPUs from the same initial weights; saves ``{case}_{strategy}_loss`` / ``_w{i}`` / ``_replicas``."""
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

    import train_tpu
    from train_tpu import driver

    results = {}
    for case, overrides in cases.items():
        teacher_path = overrides.pop("_teacher_path", None)
        if teacher_path:
            # A random teacher saved as .keras: loaded through the saved-model path of load_teacher.
            import keras_mobile

            teacher = keras_mobile.create_model(overrides["model.name"], input_shape=(32, 32, 3), classes=10,
                                                classifier_activation=None, name="teacher_src")
            rng = np.random.default_rng(1)
            teacher.set_weights([rng.normal(0, 0.05, w.shape).astype("float32") if "variance" not in v.name
                                 else np.ones(w.shape, "float32") for w, v in zip(teacher.get_weights(), teacher.weights)])
            teacher.save(teacher_path)
            overrides["distill.teacher"] = teacher_path

        rng = np.random.default_rng(0)
        batch = overrides["train.batch_size"]
        images = rng.uniform(0, 255, (batch, 32, 32, 3)).astype("float32")
        labels = rng.integers(0, 10, (batch,)).astype("int32")
        initial = None
        for name, strategy in (
            ("one", tf.distribute.OneDeviceStrategy("/cpu:0")),
            ("mirrored", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])),
        ):
            config = train_tpu.resolve_config("default", overrides={**overrides, "model_dir": f"{out}.{case}.{name}"})
            trainer = driver.make_trainer(config, strategy=strategy)
            if initial is None:
                initial = trainer.model.get_weights()
            trainer.model.set_weights(initial)
            dataset = tf.data.Dataset.from_tensors((images, labels)).repeat()
            loss, _ = trainer.run_steps(iter(trainer.distribute(dataset)), 1)
            results[f"{case}_{name}_loss"] = np.float64(loss)
            for i, w in enumerate(trainer.model.get_weights()):
                results[f"{case}_{name}_w{i}"] = w
            results[f"{case}_{name}_replicas"] = trainer.strategy.num_replicas_in_sync
        results[f"{case}_initial_count"] = len(initial)
    np.savez(out, **results)


def multi_worker(out, overrides):
    import train_tpu
    from train_tpu import driver

    config = train_tpu.resolve_config("default", overrides=overrides)
    trainer = driver.make_trainer(config)
    figures = trainer.train(log=lambda *a: None)
    weights = trainer.model.get_weights()
    np.savez(out, replicas=trainer.strategy.num_replicas_in_sync, final_step=figures["final_step"],
             strategy=type(trainer.strategy).__name__, **{f"w{i}": w for i, w in enumerate(weights)})


def phases_mirrored(out, overrides):
    """float -> prune -> QAT under MirroredStrategy over 2 logical CPUs; saves steps and pruned sparsity."""
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

    import train_tpu

    config = train_tpu.resolve_config("default", overrides=overrides)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    summary = train_tpu.run(config, strategy=strategy, log=lambda *a: None)
    with open(f"{config.model_dir}/prune/checkpoints/checkpoint") as f:
        assert "ckpt" in f.read()
    import keras_mobile.compression as compression
    from train_tpu import phases as phases_lib

    plain = phases_lib.final_plain_model(config, "prune", 10, config.model.resolution)
    report = compression.sparsity_report(plain)
    np.savez(out, replicas=summary["replicas"], prune_steps=summary["phases"]["prune"]["train"]["final_step"],
             qat_steps=summary["phases"]["qat"]["train"]["final_step"],
             prune_min_sparsity_except_stem=min(row["sparsity"] for row in report[1:]))


def kill_after_save(out, spec):
    import os
    import signal

    from absl import app

    from train_tpu import __main__ as main
    from train_tpu import checkpoints

    save = checkpoints.CheckpointSaver.save

    def save_then_die(self, step):
        path = save(self, step)
        if int(step) >= spec["kill_after_step"]:
            os.kill(os.getpid(), signal.SIGKILL)
        return path

    checkpoints.CheckpointSaver.save = save_then_die
    sys.argv = ["train_tpu", *spec["argv"]]
    app.run(main.main)


if __name__ == "__main__":
    scenario, out, overrides = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    scenarios = {"one_step": one_step, "multi_worker": multi_worker, "phases_mirrored": phases_mirrored,
                 "kill_after_save": kill_after_save}
    scenarios[scenario](out, overrides)

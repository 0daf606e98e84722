"""Subprocess entry for tests/train: runs a harness scenario in a fresh TensorFlow process.

    python tests/train/_worker.py SCENARIO OUT.npz CONFIG_JSON

Scenarios:
  one_step:      one training step on a fixed global batch under MirroredStrategy over 2 logical
                 CPU devices and under OneDeviceStrategy, same initial weights; saves both losses
                 and weights.
  multi_worker:  trains under MultiWorkerMirroredStrategy (TF_CONFIG from the environment) and
                 saves this worker's final weights.
  phases_mirrored: float -> prune -> QAT under MirroredStrategy over 2 logical CPUs.
"""

import json
import sys

import numpy as np


def one_step(out, overrides):
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

    import train_tpu
    from train_tpu import trainer as trainer_lib

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

    results = {}
    rng = np.random.default_rng(0)
    batch = overrides["train.batch_size"]
    images = rng.uniform(0, 255, (batch, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 10, (batch,)).astype("int32")
    initial = None
    for name, strategy in (
        ("one", tf.distribute.OneDeviceStrategy("/cpu:0")),
        ("mirrored", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])),
    ):
        config = train_tpu.resolve_config("default", overrides={**overrides, "model_dir": f"{out}.{name}"})
        trainer = trainer_lib.Trainer(config, strategy=strategy)
        if initial is None:
            initial = trainer.model.get_weights()
        trainer.model.set_weights(initial)
        dataset = tf.data.Dataset.from_tensors((images, labels)).repeat()
        loss, _ = trainer.run_steps(iter(trainer.distribute(dataset)), 1)
        results[f"{name}_loss"] = np.float64(loss)
        for i, w in enumerate(trainer.model.get_weights()):
            results[f"{name}_w{i}"] = w
        results[f"{name}_replicas"] = trainer.strategy.num_replicas_in_sync
    results["initial_count"] = len(initial)
    np.savez(out, **results)


def multi_worker(out, overrides):
    import train_tpu
    from train_tpu import trainer as trainer_lib

    config = train_tpu.resolve_config("default", overrides=overrides)
    trainer = trainer_lib.Trainer(config)
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
    from train_tpu import trainer as trainer_lib

    config = train_tpu.resolve_config("default", overrides=overrides)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    summary = trainer_lib.run(config, strategy=strategy, log=lambda *a: None)
    with open(f"{config.model_dir}/prune/checkpoints/checkpoint") as f:
        assert "ckpt" in f.read()
    import keras_mobile.compression as compression
    from train_tpu import phases as phases_lib

    plain = phases_lib.final_plain_model(config, "prune", 10, config.model.resolution)
    report = compression.sparsity_report(plain)
    np.savez(out, replicas=summary["replicas"], prune_steps=summary["phases"]["prune"]["train"]["final_step"],
             qat_steps=summary["phases"]["qat"]["train"]["final_step"],
             prune_min_sparsity_except_stem=min(row["sparsity"] for row in report[1:]))


if __name__ == "__main__":
    scenario, out, overrides = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    {"one_step": one_step, "multi_worker": multi_worker, "phases_mirrored": phases_mirrored}[scenario](out, overrides)

"""Compression phases after float training: ``prune``, then ``qat``, each fine-tuned from the one before.

    python -m train_tpu --prune --qat                   # float -> 50% pruned -> pruning-preserving QAT -> int8 TFLite
    python -m train_tpu --qat --distill_from_float      # float -> QAT with the float model as teacher
    python -m train_tpu --prune --m_by_n=2:4            # float -> 2:4 structured sparsity

Phases run in order: ``float`` (the usual training, in ``model_dir``), then
each enabled one in ``model_dir/<phase>/`` with its own checkpoints,
TensorBoard logs, ``summary.json`` and ``export/``. A phase starts from the
final weights of the phase before it (the float phase's EMA weights when EMA
is on), rebuilt from that phase's latest checkpoint: a killed run resumes in
the phase it was in, and finished phases are not trained again.

What a phase changes in the config (``phase_config``):

* ``train.epochs`` = the phase's epochs; peak lr = the phase's lr, cosine decay
  to 0 without warmup; no EMA (it would average pruned weights back to
  non-zero and lag the fake-quant ranges);
* float32 and no XLA: TF-MOT's wrappers (mask updates through ``merge_call``,
  fake-quant ops) are float32 and run outside XLA;
* teacher: the float model when ``<phase>.distill_from_float``, else the
  configured ``distill.teacher`` (if any);
* export: the prune phase exports the stripped model (stock layers, zeros in
  the kernels) in ``export.formats`` and reports its sparsity; the qat phase
  exports ``tflite_int8`` converted from the QAT model (ranges from its
  fake-quant nodes), checked against the QAT Keras model.

The model a phase trains is the classifier's logits; the model it
checkpoints and exports is the same graph with its softmax ``predictions``
layer (the two share every weight).
"""

import dataclasses
import os

from train_tpu import config as config_lib

PHASES = ("float", "prune", "qat")
# Default peak lr of a phase: the float run's optimizer.lr divided by this.
DEFAULT_LR_DIVISOR = {"prune": 5.0, "qat": 10.0}


def enabled_phases(config):
    """``["float", ...]``: the float phase, then every enabled compression phase in order."""
    return ["float"] + [name for name in PHASES[1:] if getattr(config, name).enabled]


def phase_dir(model_dir, name):
    return model_dir if name == "float" else os.path.join(model_dir, name)


def phase_config(config, name):
    """The config a phase trains with (see the module docstring); ``config`` itself for ``float``."""
    if name == "float":
        return config
    section = getattr(config, name)
    tree = config.to_dict()
    tree["model_dir"] = phase_dir(config.model_dir, name)
    tree["model"]["weights"] = ""  # the weights come from the previous phase
    tree["train"].update(epochs=section.epochs, train_steps=None, ema_decay=0.0)
    tree["optimizer"].update(lr=section.lr or config.optimizer.lr / DEFAULT_LR_DIVISOR[name])
    tree["schedule"].update(name="cosine", warmup_epochs=0.0, min_lr_ratio=0.0)
    tree["runtime"].update(mixed_precision="float32", xla=False)
    if section.distill_from_float:
        tree["distill"].update(teacher="", teacher_weights="")
    if name == "qat":
        tree["export"]["formats"] = ["tflite_int8"]
    return config_lib.from_dict(tree)


@dataclasses.dataclass
class PhaseModels:
    train_model: object  # logits
    full_model: object  # the same graph with its softmax head: checkpointed and exported
    teacher: object = None
    pruning_steps: tuple = ()  # PruneLowMagnitude step variables, set to the global step before each step


class CompressionPhase:
    """Builds, restores and exports the models of one compression phase of ``root`` (the float config)."""

    def __init__(self, root, name):
        if name not in PHASES[1:]:
            raise ValueError(f"phase={name!r} is not supported; accepted values: {list(PHASES[1:])}.")
        self.root = root
        self.name = name
        self.section = getattr(root, name)
        self.config = phase_config(root, name)
        order = enabled_phases(root)
        self.previous = order[order.index(name) - 1]

    # ----------------------------------------------------------------- wrappers
    def wrap(self, plain, total_steps=1000, steps_per_epoch=100):
        """TF-MOT wrappers on a plain (softmax-head) model: pruning or QAT."""
        from keras_mobile import compression

        if self.name == "prune":
            p = self.section
            kwargs = {"m_by_n": config_lib.parse_m_by_n(p.m_by_n)} if p.m_by_n else {"target_sparsity": p.target_sparsity}
            end_step, frequency = pruning_steps(p, total_steps, steps_per_epoch)
            return compression.prune_model(
                plain, schedule=p.schedule, begin_step=0, end_step=end_step, frequency=frequency,
                skip_layers=tuple(p.skip_layers), **kwargs,
            )
        scheme = "prune_preserve" if (self.previous == "prune" and self.section.preserve_sparsity) else "default_8bit"
        return compression.quantize_model(plain, scheme=scheme)

    def finalize(self, wrapped):
        """The exported model of a trained wrapped model: stripped for prune, the QAT model itself for qat."""
        from keras_mobile import compression

        return compression.strip_pruning(wrapped) if self.name == "prune" else wrapped

    # ----------------------------------------------------------------- building
    def build(self, trainer):
        """The phase's models, in the trainer's strategy scope, starting from the previous phase's weights."""
        plain = final_plain_model(self.root, self.previous, trainer.num_classes, trainer.resolution)
        full = self.wrap(plain, trainer.total_steps, trainer.steps_per_epoch)
        teacher = None
        if self.section.distill_from_float:
            from train_tpu import trainer as trainer_lib

            teacher = final_plain_model(self.root, "float", trainer.num_classes, trainer.resolution,
                                        classifier_activation=None)
            teacher = trainer_lib.keras.Model(teacher.inputs, teacher.outputs, name="teacher")
            teacher.trainable = False
        return PhaseModels(
            train_model=logits_model(full),
            full_model=full,
            teacher=teacher,
            pruning_steps=tuple(layer.pruning_step for layer in full.layers if type(layer).__name__ == "PruneLowMagnitude"),
        )

    def export_model(self, trainer):
        """A copy of the trained full model outside the strategy, finalized (stripped / QAT)."""
        from train_tpu import trainer as trainer_lib

        copy = self.wrap(trainer_lib.build_model(self.config, trainer.num_classes, trainer.resolution,
                                                 classifier_activation="softmax", sync_batch_norm=False,
                                                 name=self.root.model.name),
                         trainer.total_steps, trainer.steps_per_epoch)
        copy.set_weights(trainer.checkpoint_model.get_weights())
        return self.finalize(copy)


def pruning_steps(prune, total_steps, steps_per_epoch):
    """``(end_step, frequency)``: the target is reached at ``ramp_fraction`` of the phase, on a mask update.

    The mask is updated every ``frequency`` steps (``prune.frequency_steps``,
    default a quarter epoch, at most the ramp itself); ``end_step`` is the ramp
    rounded down to a multiple of it, so the last update reaches the target.
    """
    ramp = max(1, int(round(prune.ramp_fraction * total_steps)))
    frequency = min(prune.frequency_steps or max(1, steps_per_epoch // 4), ramp)
    return (ramp // frequency) * frequency, frequency


def logits_model(full):
    """The sub-model of ``full`` that ends before its ``predictions`` (softmax) layer; shares every weight."""
    from train_tpu import trainer as trainer_lib

    layer, node_index, _ = full.outputs[0]._keras_history
    if not layer.name.endswith("predictions"):
        raise ValueError(f"model '{full.name}' does not end in a 'predictions' layer (got {layer.name!r}).")
    # The layer's node in *this* graph: wrappers reuse unwrapped layers, which then have several nodes.
    logits = layer.inbound_nodes[node_index].input_tensors
    return trainer_lib.keras.Model(full.inputs, logits, name=f"{full.name}_logits")


def final_plain_model(root, name, num_classes, resolution, classifier_activation="softmax"):
    """Phase ``name``'s final weights in a plain (unwrapped) model, restored from its latest checkpoint.

    float: the EMA weights when EMA is on, else the raw ones. prune: the
    stripped model (masks applied). Raises ValueError when the phase has no
    checkpoint yet.
    """
    import tensorflow as tf

    from train_tpu import checkpoints as ckpt_lib
    from train_tpu import trainer as trainer_lib

    directory = os.path.join(phase_dir(root.model_dir, name), ckpt_lib.CHECKPOINT_SUBDIR)
    path = tf.train.latest_checkpoint(directory)
    if not path:
        raise ValueError(f"phase {name!r} has no checkpoint in {directory}; it must finish before the next phase.")
    if name == "float":
        plain = trainer_lib.build_model(root, num_classes, resolution, classifier_activation=None)
        key = "ema_model" if root.train.ema_decay else "model"
        tf.train.Checkpoint(**{key: plain}).restore(path).expect_partial().assert_existing_objects_matched()
        if classifier_activation is None:
            return plain
        model = trainer_lib.build_model(root, num_classes, resolution, classifier_activation=classifier_activation)
        model.set_weights(plain.get_weights())
        return model
    phase = CompressionPhase(root, name)
    base = trainer_lib.build_model(phase.config, num_classes, resolution, classifier_activation="softmax")
    wrapped = phase.wrap(base)
    tf.train.Checkpoint(model=wrapped).restore(path).expect_partial().assert_existing_objects_matched()
    plain = phase.finalize(wrapped)
    if classifier_activation is None:
        return logits_model(plain)
    return plain

"""The training phases: ``float``, then the enabled compression phases ``channel_prune``, ``prune`` and
``qat``, each fine-tuned from the one before. A phase says what it builds and from which weights; the
trainer trains whatever it is handed.

    python -m train_tpu --prune --qat                   # float -> 50% pruned -> pruning-preserving QAT -> int8 TFLite
    python -m train_tpu --qat --distill_from_float      # float -> QAT with the float model as teacher
    python -m train_tpu --prune --m_by_n=2:4            # float -> 2:4 structured sparsity
    python -m train_tpu --channel_prune=0.3 --prune --qat   # float -> 30% fewer Mult-Adds -> sparse -> int8

Phases run in order: ``float`` (the usual training, in ``model_dir``), then
each enabled one in ``model_dir/<phase>/`` with its own checkpoints,
TensorBoard logs, ``summary.json`` and ``export/``. A phase starts from the
final weights of the phase before it (the float phase's EMA weights when EMA
is on), rebuilt from that phase's latest checkpoint: a killed run resumes in
the phase it was in, and finished phases are not trained again.

``channel_prune`` (``keras_mobile.compression.prune_channels``) changes the
architecture: it removes ``channel_prune.mac_reduction`` of the Mult-Adds as
whole channels, writes the narrower model's architecture to
``model_dir/channel_prune/architecture.json`` (and the per-layer report to
``channel_pruning.json`` and the phase's summary), and every later phase
builds that architecture instead of the registered model. It is plain
training of a plain model (no TF-MOT), with the float model as distillation
teacher unless ``channel_prune.distill_from_float`` is false.

What a later phase changes in the config (``phase_config``):

* ``train.epochs`` = the phase's epochs; peak lr = the phase's lr, cosine decay
  to 0 without warmup, the same for every layer (no frozen epochs, no backbone
  multiplier, no slimming penalty); no EMA (it would average pruned weights back to
  non-zero and lag the fake-quant ranges);
* float32 and no XLA: TF-MOT's wrappers (mask updates through ``merge_call``,
  fake-quant ops) are float32 and run outside XLA;
* teacher: the float model when ``<phase>.distill_from_float``, else the
  configured ``distill.teacher`` (if any);
* export: ``channel_prune`` exports the narrower model in ``export.formats``; the prune phase exports
  the stripped model (stock layers, zeros in the kernels) in ``export.formats`` and reports its
  sparsity; the qat phase exports ``tflite_int8`` converted from the QAT model (ranges from its
  fake-quant nodes), checked against the QAT Keras model.

The model a later phase trains is the classifier's logits; the model it
checkpoints and exports is the same graph with its softmax ``predictions``
layer (the two share every weight).
"""

import os

import tensorflow as tf

import tfds_configs
from keras_mobile import compression
from train_tpu import config as config_lib
from train_tpu import files
from train_tpu import models as models_lib
from train_tpu import strategy as strategy_lib
from train_tpu.backend import keras
from train_tpu.checkpoints import CHECKPOINT_SUBDIR

PHASES = ("float", "channel_prune", "prune", "qat")
# Default peak lr of a compression phase: the float run's optimizer.lr divided by this.
DEFAULT_LR_DIVISOR = {"channel_prune": 5.0, "prune": 5.0, "qat": 10.0}
ARCHITECTURE_FILE = "architecture.json"  # the channel-pruned model's architecture (softmax head), in its model_dir
CHANNEL_REPORT_FILE = "channel_pruning.json"


def enabled_phases(config):
    """``["float", ...]``: the float phase, then every enabled compression phase in order."""
    return ["float"] + [name for name in PHASES[1:] if getattr(config, name).enabled]


def create_phase(root, name):
    """Phase ``name`` of the run configured by ``root`` (the float config)."""
    if name not in _PHASE_TYPES:
        raise ValueError(f"phase={name!r} is not supported; accepted values: {list(PHASES)}.")
    return _PHASE_TYPES[name](root)


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
    tree["train"].update(epochs=section.epochs, train_steps=None, ema_decay=0.0, freeze_backbone_epochs=0.0,
                         slimming=0.0)
    tree["optimizer"].update(lr=section.lr or config.optimizer.lr / DEFAULT_LR_DIVISOR[name],
                             backbone_lr_multiplier=1.0)
    tree["schedule"].update(name="cosine", warmup_epochs=0.0, min_lr_ratio=0.0)
    tree["runtime"].update(mixed_precision="float32", xla=False)
    if section.distill_from_float:
        tree["distill"].update(teacher="", teacher_weights="")
    if name == "qat":
        tree["export"]["formats"] = ["tflite_int8"]
    return config_lib.from_dict(tree)


def pruning_schedule(prune, total_steps, steps_per_epoch):
    """``(end_step, frequency)``: the target is reached at ``ramp_fraction`` of the phase, on a mask update.

    The mask is updated every ``frequency`` steps (``prune.frequency_steps``,
    default a quarter epoch, at most the ramp itself); ``end_step`` is the ramp
    rounded down to a multiple of it, so the last update reaches the target.
    """
    ramp = max(1, int(round(prune.ramp_fraction * total_steps)))
    frequency = min(prune.frequency_steps or max(1, steps_per_epoch // 4), ramp)
    return (ramp // frequency) * frequency, frequency


def final_plain_model(root, name, num_classes, resolution, classifier_activation="softmax"):
    """Phase ``name``'s final weights in a plain (unwrapped) model; see ``Phase.final_model``."""
    return create_phase(root, name).final_model(num_classes, resolution, classifier_activation)


class Phase:
    """One phase of the run configured by ``root``: its config and directory, what it builds, its final weights."""

    name = None

    def __init__(self, root):
        self.root = root
        self.config = phase_config(root, self.name)
        self.previous = None  # the phase whose final weights this one starts from

    @property
    def model_dir(self):
        return self.config.model_dir

    def build(self, num_classes, resolution, total_steps, steps_per_epoch):
        """The phase's ``models.TrainingModels`` (call inside the strategy's scope)."""
        raise NotImplementedError

    def architecture(self, num_classes, resolution, classifier_activation="softmax", sync_batch_norm=None,
                     name=None):
        """A randomly initialised plain model of the architecture this phase trains (softmax head by default,
        logits with ``classifier_activation=None``); ``sync_batch_norm`` None: as ``model.sync_batch_norm``."""
        raise NotImplementedError

    def preflight(self, num_classes, resolution):
        """Checks that need the built model, run by the driver before any phase trains (a value that cannot
        work fails in seconds, not after the float training)."""

    def final_model(self, num_classes, resolution, classifier_activation="softmax"):
        """The phase's final weights in a plain (unwrapped) model, restored from its latest checkpoint.

        Raises ValueError when the phase has no checkpoint yet.
        """
        raise NotImplementedError

    def _latest_checkpoint(self):
        directory = os.path.join(self.model_dir, CHECKPOINT_SUBDIR)
        path = tf.train.latest_checkpoint(directory)
        if not path:
            raise ValueError(
                f"phase {self.name!r} has no checkpoint in {directory}; it must finish before the next phase.")
        return path

    def _configured_teacher(self, num_classes, resolution):
        distill = self.config.distill
        if not distill.teacher:
            return None
        return models_lib.load_teacher(distill, num_classes, resolution, self.config.data.normalization == "raw")


class FloatPhase(Phase):
    """The usual training of the configured model, with an EMA copy when ``train.ema_decay`` > 0."""

    name = "float"

    def build(self, num_classes, resolution, total_steps, steps_per_epoch):
        config = self.config
        if config.mode == "eval":  # the weights come from the checkpoint
            model, weights_report = models_lib.build_model(config, num_classes, resolution), None
        else:
            model, weights_report = models_lib.build_pretrained_model(config, num_classes, resolution)
        ema = None
        if config.train.ema_decay:
            ema = models_lib.build_model(config, num_classes, resolution, name="ema")
            ema.set_weights(model.get_weights())

        def export_model():  # the EMA (or raw) weights
            return models_lib.float32_copy(config, ema if ema is not None else model, num_classes, resolution)

        return models_lib.TrainingModels(
            train_model=model, checkpoint_model=model, export_model=export_model, ema_model=ema,
            teacher=self._configured_teacher(num_classes, resolution), weights=weights_report,
        )

    def architecture(self, num_classes, resolution, classifier_activation="softmax", sync_batch_norm=None,
                     name=None):
        return models_lib.build_model(self.config, num_classes, resolution, classifier_activation=classifier_activation,
                                      sync_batch_norm=sync_batch_norm, name=name)

    def final_model(self, num_classes, resolution, classifier_activation="softmax"):
        """The EMA weights when EMA is on, else the raw ones."""
        path = self._latest_checkpoint()
        plain = self.architecture(num_classes, resolution, classifier_activation=None)
        key = "ema_model" if self.config.train.ema_decay else "model"
        tf.train.Checkpoint(**{key: plain}).restore(path).expect_partial().assert_existing_objects_matched()
        if classifier_activation is None:
            return plain
        model = self.architecture(num_classes, resolution, classifier_activation=classifier_activation)
        model.set_weights(plain.get_weights())
        return model


class FineTunePhase(Phase):
    """A phase after ``float``: fine-tuned from the previous phase's final weights, its logits trained, its
    softmax-head model checkpointed, the float model as teacher when ``<phase>.distill_from_float``."""

    def __init__(self, root):
        super().__init__(root)
        self.section = getattr(root, self.name)
        order = enabled_phases(root)
        if self.name not in order:
            raise ValueError(f"phase {self.name!r} is not enabled ({_enable_hint(self.name)}).")
        self.previous = order[order.index(self.name) - 1]

    def architecture(self, num_classes, resolution, classifier_activation="softmax", sync_batch_norm=None,
                     name=None):
        """The previous phase's architecture (the registered model, or the channel-pruned one)."""
        return create_phase(self.root, self.previous).architecture(
            num_classes, resolution, classifier_activation, sync_batch_norm, name)

    def _teacher(self, num_classes, resolution):
        if self.section.distill_from_float:
            return models_lib.frozen(
                create_phase(self.root, "float").final_model(num_classes, resolution, classifier_activation=None))
        return self._configured_teacher(num_classes, resolution)

    def _restore_final(self, model):
        tf.train.Checkpoint(model=model).restore(self._latest_checkpoint()).expect_partial() \
            .assert_existing_objects_matched()
        return model


class ChannelPrunePhase(FineTunePhase):
    """Structured channel pruning: ``channel_prune.mac_reduction`` of the Mult-Adds removed as whole channels,
    then the narrower dense model fine-tuned and exported in ``export.formats``.

    The pruning runs when the phase has no checkpoint yet; it writes the architecture (``ARCHITECTURE_FILE``)
    and the report (``CHANNEL_REPORT_FILE``) to the phase's directory, which a resumed or later phase reads.
    """

    name = "channel_prune"

    def build(self, num_classes, resolution, total_steps, steps_per_epoch):
        has_checkpoint = bool(tf.train.latest_checkpoint(os.path.join(self.model_dir, CHECKPOINT_SUBDIR)))
        if has_checkpoint or self.config.mode == "eval":  # the trainer restores the weights
            full, report = self.architecture(num_classes, resolution), self._read_report()
        else:
            full, report = self._prune(num_classes, resolution)

        def export_model():  # a copy outside the strategy, plain BatchNorm
            plain = self.architecture(num_classes, resolution, sync_batch_norm=False)
            plain.set_weights(full.get_weights())
            return plain

        return models_lib.TrainingModels(
            train_model=models_lib.logits_model(full), checkpoint_model=full, export_model=export_model,
            teacher=self._teacher(num_classes, resolution), channel_pruning=report,
        )

    def architecture(self, num_classes, resolution, classifier_activation="softmax", sync_batch_norm=None,
                     name=None):
        """The channel-pruned architecture written when the phase pruned (``num_classes`` and ``resolution``
        are those it was pruned at; ``name`` is not used: the model keeps the name it was pruned with)."""
        path = os.path.join(self.model_dir, ARCHITECTURE_FILE)
        if not files.exists(path):
            raise ValueError(f"phase 'channel_prune' has no {ARCHITECTURE_FILE} in {self.model_dir}; "
                             "the phase writes it when it prunes (it must run before the phases after it).")
        model = keras.models.model_from_json(files.read_text(path))
        synchronized = self.config.model.sync_batch_norm if sync_batch_norm is None else sync_batch_norm
        if synchronized:
            model = models_lib.rewrite_batch_norm(model, True, None)
        return model if classifier_activation else models_lib.logits_model(model)

    def preflight(self, num_classes, resolution):
        """``skip_layers`` name layers of the model, and it can lose ``mac_reduction`` of its Mult-Adds."""
        c = self.section
        model = create_phase(self.root, self.previous).architecture(num_classes, resolution, sync_batch_norm=False)
        try:
            most = compression.max_mac_reduction(model, round_to=c.round_to, skip_layers=tuple(c.skip_layers))
        except ValueError as error:
            raise config_lib.ConfigError(f"channel_prune: {error}") from error
        if c.mac_reduction > most:
            raise config_lib.ConfigError(
                f"channel_prune.mac_reduction={c.mac_reduction!r} is not supported; accepted values: at most "
                f"{most:.3f} for {self.root.model.name} with channel_prune.round_to={c.round_to} and "
                f"channel_prune.skip_layers={list(c.skip_layers)}.")

    def final_model(self, num_classes, resolution, classifier_activation="softmax"):
        model = self._restore_final(self.architecture(num_classes, resolution))
        return model if classifier_activation else models_lib.logits_model(model)

    def _prune(self, num_classes, resolution):
        """``(pruned softmax-head model, report dict)`` from the previous phase's final weights."""
        c = self.section
        start = create_phase(self.root, self.previous).final_model(num_classes, resolution)
        data = self._taylor_data(resolution) if c.criterion == "taylor" else None
        try:
            pruned, report = compression.prune_channels(
                start, c.mac_reduction, criterion=c.criterion, round_to=c.round_to, skip_layers=tuple(c.skip_layers),
                data=data, data_batches=c.taylor_batches, return_report=True)
        except ValueError as error:  # e.g. a skip layer that does not exist, a reduction the model cannot reach
            raise config_lib.ConfigError(f"channel_prune: {error}") from error
        # The file holds plain BatchNorm (a copy only when the model synchronizes it).
        plain = models_lib.rewrite_batch_norm(pruned, False, None) if self.config.model.sync_batch_norm else pruned
        report = report.to_dict()
        if _is_chief():
            files.atomic_write(os.path.join(self.model_dir, ARCHITECTURE_FILE), plain.to_json())
            files.write_json(os.path.join(self.model_dir, CHANNEL_REPORT_FILE), report)
        return pruned, report

    def _taylor_data(self, resolution):
        """Training batches (the training crops, seeded) for the ``taylor`` criterion."""
        c = self.config
        source = tfds_configs.load(c.data.dataset, data_dir=c.data.data_dir, holdout_seed=c.data.holdout_seed)
        return tfds_configs.train_input(
            source, global_batch_size=c.train.batch_size, image_size=resolution, normalization=c.data.normalization,
            crop_area_range=c.data.crop_area_range, crop_aspect_ratio_range=c.data.crop_aspect_ratio_range,
            seed=c.train.seed, shuffle_buffer_size=c.data.shuffle_buffer_size)

    def _read_report(self):
        path = os.path.join(self.model_dir, CHANNEL_REPORT_FILE)
        return files.read_json(path) if files.exists(path) else None


class CompressionPhase(FineTunePhase):
    """A TF-MOT phase: the previous phase's final model, wrapped (``wrap``), fine-tuned, then ``finalize``d."""

    reports_sparsity = False

    def wrap(self, plain, total_steps=1000, steps_per_epoch=100):
        """TF-MOT wrappers on a plain (softmax-head) model."""
        raise NotImplementedError

    def finalize(self, wrapped):
        """The exported model of a trained wrapped model."""
        raise NotImplementedError

    def build(self, num_classes, resolution, total_steps, steps_per_epoch):
        start = create_phase(self.root, self.previous).final_model(num_classes, resolution)
        full = self.wrap(start, total_steps, steps_per_epoch)

        def export_model():  # a copy outside the strategy, finalized
            plain = self.architecture(num_classes, resolution, sync_batch_norm=False, name=self.root.model.name)
            copy = self.wrap(plain, total_steps, steps_per_epoch)
            copy.set_weights(full.get_weights())
            return self.finalize(copy)

        return models_lib.TrainingModels(
            train_model=models_lib.logits_model(full), checkpoint_model=full, export_model=export_model,
            teacher=self._teacher(num_classes, resolution),
            pruning_steps=tuple(layer.pruning_step for layer in full.layers
                                if type(layer).__name__ == "PruneLowMagnitude"),
            wrapped=True, reports_sparsity=self.reports_sparsity,
        )

    def final_model(self, num_classes, resolution, classifier_activation="softmax"):
        """The finalized model: stripped for prune (masks applied), the QAT model for qat."""
        plain = self.finalize(self._restore_final(self.wrap(self.architecture(num_classes, resolution))))
        if classifier_activation is None:
            return models_lib.logits_model(plain)
        return plain


class PrunePhase(CompressionPhase):
    """Magnitude pruning (``prune.target_sparsity``, or ``prune.m_by_n`` structured); exports the stripped model."""

    name = "prune"
    reports_sparsity = True

    def wrap(self, plain, total_steps=1000, steps_per_epoch=100):
        p = self.section
        pair = p.m_by_n_pair
        sparsity = {"m_by_n": pair} if pair else {"target_sparsity": p.target_sparsity}
        end_step, frequency = pruning_schedule(p, total_steps, steps_per_epoch)
        return compression.prune_model(
            plain, schedule=p.schedule, begin_step=0, end_step=end_step, frequency=frequency,
            skip_layers=tuple(p.skip_layers), **sparsity,
        )

    def finalize(self, wrapped):
        return compression.strip_pruning(wrapped)


class QatPhase(CompressionPhase):
    """Quantization-aware training (pruning-preserving after a prune phase); exports int8 TFLite."""

    name = "qat"

    def wrap(self, plain, total_steps=1000, steps_per_epoch=100):
        preserve = self.previous == "prune" and self.section.preserve_sparsity
        return compression.quantize_model(plain, scheme="prune_preserve" if preserve else "default_8bit")

    def finalize(self, wrapped):
        return wrapped  # the QAT model itself: the int8 converter reads its fake-quant ranges


_PHASE_TYPES = {"float": FloatPhase, "channel_prune": ChannelPrunePhase, "prune": PrunePhase, "qat": QatPhase}


def _enable_hint(name):
    return "channel_prune.mac_reduction is 0" if name == "channel_prune" else f"{name}.enabled is false"


def _is_chief():
    """True on the worker that writes files (every process but a multi-worker run's non-chief workers)."""
    return strategy_lib.task_info(tf.distribute.get_strategy())[0]

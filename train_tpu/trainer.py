"""The training loop: a tf.distribute custom loop with EMA, distillation, NaN guard and resume.

A `Trainer` trains the models it is handed: it holds the strategy, the input
pipeline, the optimizer and the checkpoint, and calls ``build_models`` (a
phase's ``build``, see ``phases.py``) inside ``strategy.scope()`` for the
model it trains, the one it checkpoints, an EMA copy, a frozen teacher and
pruning step variables (``models.TrainingModels``). A training "execution" is
one `tf.function` call that runs up to ``steps_per_execution`` steps in a
``tf.range`` loop of ``strategy.run``.

Loss scaling under distribution: each replica computes
``sum(per-example loss) / global_batch`` (+ regulariser / num_replicas), so the
gradients the optimizer sums over replicas are those of the global-batch mean.

Transfer learning: for the first ``train.freeze_backbone_epochs`` only the
classifier (the model's last layer with weights) trains; every other layer is
frozen (``trainable=False``, so its BatchNorm runs in inference mode and keeps
its statistics). Afterwards everything trains, the backbone's updates scaled by
``optimizer.backbone_lr_multiplier`` (the optimizer's step is taken, then each
backbone variable moves ``multiplier`` times its step: the learning rate times
the multiplier for SGD, RMSProp, Adam and AdamW alike, weight decay included).
Frozen and unfrozen steps are two traced functions; an execution never spans
the switch.

Evaluation also sums a confusion matrix (``last_confusion_matrix``, rows: true
class, columns: predicted), from which the summary takes per-class accuracy.

Input-pipeline state: epoch ``e`` reads the training split with seed
``seed * 10007 + e`` (deterministic shuffles and augmentation per epoch); a
resumed run re-creates the epoch of its saved step and skips the batches that
were already consumed, so finished epochs (and finished steps) are never
repeated. In ``train.deterministic`` mode the batches are bit-identical, and a
killed-and-resumed run ends with the same weights as an uninterrupted one
(with ``model.dropout_rate=0``: tf_keras dropout draws from op-level random state that
checkpoints do not hold, so resumed dropout masks differ).
"""

import math
import os
import time

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

import tfds_configs
from keras_mobile.validation import fail
from train_tpu import checkpoints as ckpt_lib
from train_tpu import models as models_lib
from train_tpu.backend import keras
from train_tpu import optimizers as opt_lib
from train_tpu import strategy as strategy_lib


def scalar(name, value):
    """A TensorBoard scalar via core ``tf.summary.write`` (no tensorboard package needed to write it)."""
    metadata = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    tf.summary.write(name, tf.constant(value, tf.float32), metadata=metadata.SerializeToString())


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN / Inf loss or weights; the last good checkpoint is kept."""


def distillation_loss(student_logits, teacher_logits, temperature):
    """Per-example T^2 * KL(softmax(teacher / T) || softmax(student / T)) (Hinton et al. 2015)."""
    t = temperature
    teacher_log_probs = tf.nn.log_softmax(teacher_logits / t, axis=-1)
    student_log_probs = tf.nn.log_softmax(student_logits / t, axis=-1)
    kl = tf.reduce_sum(tf.exp(teacher_log_probs) * (teacher_log_probs - student_log_probs), axis=-1)
    return kl * (t * t)


# --------------------------------------------------------------------------- trainer
class Trainer:
    """Trains the models ``build_models`` returns, as ``config`` says (optimizer, schedule, data, steps).

    build_models: ``(num_classes, resolution, total_steps, steps_per_epoch) -> models.TrainingModels``,
      called once in the strategy's scope after the precision policy is set (a phase's ``build``).
    """

    def __init__(self, config, build_models, strategy=None, source=None):
        self.config = config
        self.strategy = strategy or strategy_lib.create_strategy(config.runtime)
        self.is_chief, task_type, task_id = strategy_lib.task_info(self.strategy)
        self.precision = strategy_lib.compute_dtype(config.runtime, self.strategy)
        strategy_lib.set_precision(self.precision)
        self.source = source or tfds_configs.load(config.data.dataset, data_dir=config.data.data_dir,
                                                  holdout_seed=config.data.holdout_seed)
        dataset = self.source.config
        self.num_classes = dataset.num_classes
        self.resolution = config.model.resolution or dataset.train_resolution
        self.global_batch = config.train.batch_size
        replicas = self.strategy.num_replicas_in_sync
        if self.global_batch % replicas:
            fail("train.batch_size", self.global_batch, f"a multiple of the {replicas} replicas in sync")
        self.num_train_examples = self.source.num_examples(dataset.train_split)
        self.steps_per_epoch = max(self.num_train_examples // self.global_batch, 1)
        t = config.train
        self.total_steps = t.train_steps or max(int(math.ceil(t.epochs * self.steps_per_epoch)), 1)
        self.freeze_steps = min(int(round(t.freeze_backbone_epochs * self.steps_per_epoch)), self.total_steps)
        self.backbone_lr_multiplier = config.optimizer.backbone_lr_multiplier
        self.one_hot = bool(config.data.mixup_alpha or config.data.cutmix_alpha)
        tf.random.set_seed(t.seed)
        keras.utils.set_random_seed(t.seed)

        with self.strategy.scope():
            self.models = build_models(num_classes=self.num_classes, resolution=self.resolution,
                                       total_steps=self.total_steps, steps_per_epoch=self.steps_per_epoch)
            self.model = self.models.train_model
            self.checkpoint_model = self.models.checkpoint_model
            self.ema_model = self.models.ema_model
            self.teacher = self.models.teacher
            self.pruning_steps = tuple(self.models.pruning_steps)
            self.schedule = opt_lib.create_schedule(config, self.steps_per_epoch, self.total_steps)
            self.optimizer = opt_lib.create_optimizer(config, self.schedule)
            self.base_optimizer = self.optimizer
            if self.precision == "float16":
                self.optimizer = keras.mixed_precision.LossScaleOptimizer(self.optimizer)
            self.base_optimizer.build(self.model.trainable_variables)  # every variable, frozen or not
            self.head_layer = models_lib.classifier(self.model)
            # paired now: model.weights lists trainable variables first, so its order changes while frozen
            self._ema_pairs = list(zip(self.ema_model.weights, self.model.weights)) if self.ema_model is not None else []
            head = {id(v) for v in self.head_layer.trainable_variables}
            self.backbone_variables = [v for v in self.model.trainable_variables if id(v) not in head]
            # the layers a frozen backbone sets non-trainable: those that train now (a preprocessing layer
            # with fixed weights stays as it is)
            self._backbone_layers = [layer for layer in self.model.layers
                                     if layer is not self.head_layer and layer.trainable_weights
                                     ] if self.freeze_steps else []
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step",
                                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self.l2_vars = []
        if config.optimizer.weight_decay and config.optimizer.weight_decay_mode == "l2":
            self.l2_vars = opt_lib.l2_variables(self.model, config.optimizer.decay_depthwise)
        self.slimming_vars = opt_lib.batch_norm_gammas(self.model) if t.slimming else []
        objects = {"model": self.checkpoint_model, "optimizer": self.optimizer, "step": self.step}
        if self.ema_model is not None:
            objects["ema_model"] = self.ema_model
        self.checkpoint = tf.train.Checkpoint(**objects)
        self.saver = ckpt_lib.CheckpointSaver(
            self.checkpoint, config.model_dir, self.step, keep=t.keep_checkpoints, is_chief=self.is_chief,
            task_type=task_type, task_id=task_id,
        )
        self._train_fns = {}  # frozen backbone (bool) -> traced train function
        self._eval_fns = {}
        self._writers = {}
        self.last_confusion_matrix = None

    # ----------------------------------------------------------------- data
    def train_dataset(self, epoch, skip_steps=0):
        c = self.config

        def dataset_fn(context):
            ds = tfds_configs.train_input(
                self.source, global_batch_size=self.global_batch, image_size=self.resolution,
                input_context=context, normalization=c.data.normalization, one_hot=self.one_hot,
                crop_area_range=c.data.crop_area_range, crop_aspect_ratio_range=c.data.crop_aspect_ratio_range,
                randaugment_num_ops=c.data.randaugment_num_ops, randaugment_factor=c.data.randaugment_factor,
                mixup_alpha=c.data.mixup_alpha, cutmix_alpha=c.data.cutmix_alpha,
                seed=c.train.seed * 10007 + epoch, deterministic=c.train.deterministic,
                shuffle_buffer_size=c.data.shuffle_buffer_size,
            )
            if skip_steps:
                local_replicas = context.num_replicas_in_sync // context.num_input_pipelines
                ds = ds.skip(skip_steps * local_replicas)
            return ds

        return self.strategy.distribute_datasets_from_function(dataset_fn)

    def eval_dataset(self):
        c = self.config
        drop = strategy_lib.is_tpu(self.strategy)  # TPU needs static shapes; the remainder is left out

        def dataset_fn(context):
            return tfds_configs.eval_input(
                self.source, global_batch_size=c.data.eval_batch_size or self.global_batch,
                image_size=self.resolution, input_context=context, normalization=c.data.normalization,
                drop_remainder=drop, cache=c.data.cache_eval,
            )

        return self.strategy.distribute_datasets_from_function(dataset_fn)

    # ----------------------------------------------------------------- steps
    def _replica_step(self, images, labels):
        c = self.config
        replicas = self.strategy.num_replicas_in_sync
        trainable = self.model.trainable_variables  # the classifier's only while the backbone is frozen

        def forward():
            with tf.GradientTape() as tape:
                logits = tf.cast(self.model(images, training=True), tf.float32)
                targets = labels if self.one_hot else tf.one_hot(labels, self.num_classes, dtype=tf.float32)
                if c.train.label_smoothing:
                    targets = targets * (1.0 - c.train.label_smoothing) + c.train.label_smoothing / self.num_classes
                per_example = tf.nn.softmax_cross_entropy_with_logits(targets, logits)
                if self.teacher is not None:
                    teacher_logits = tf.stop_gradient(tf.cast(self.teacher(images, training=False), tf.float32))
                    w = c.distill.loss_weight
                    per_example = (1.0 - w) * per_example + w * distillation_loss(
                        logits, teacher_logits, c.distill.temperature)
                loss = tf.reduce_sum(per_example) / self.global_batch
                if self.l2_vars:
                    l2 = tf.add_n([tf.nn.l2_loss(tf.cast(v, tf.float32)) for v in self.l2_vars])
                    loss += c.optimizer.weight_decay * l2 / replicas
                if self.slimming_vars:  # network slimming: L1 on BatchNorm gammas
                    l1 = tf.add_n([tf.reduce_sum(tf.abs(tf.cast(v, tf.float32))) for v in self.slimming_vars])
                    loss += c.train.slimming * l1 / replicas
                if self.model.losses:
                    loss += tf.add_n([tf.cast(x, tf.float32) for x in self.model.losses]) / replicas
                scaled = self.optimizer.get_scaled_loss(loss) if self.precision == "float16" else loss
            grads = tape.gradient(scaled, trainable)
            if self.precision == "float16":
                grads = self.optimizer.get_unscaled_gradients(grads)
            return loss, grads, logits

        if c.runtime.xla and not strategy_lib.is_tpu(self.strategy):
            forward = tf.function(forward, jit_compile=True)
        loss, grads, logits = forward()
        self.optimizer.apply_gradients(zip(grads, trainable))
        hard = tf.argmax(labels, -1, output_type=tf.int32) if self.one_hot else tf.cast(labels, tf.int32)
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), hard), tf.float32))
        return loss, correct

    def _update_ema(self):
        decay = tf.minimum(
            tf.constant(self.config.train.ema_decay, tf.float32),
            (1.0 + tf.cast(self.step, tf.float32)) / (10.0 + tf.cast(self.step, tf.float32)),
        )

        def update(ema_var, var):
            return ema_var.assign(decay * ema_var + (1.0 - decay) * tf.cast(var, ema_var.dtype))

        for ema_var, var in self._ema_pairs:
            self.strategy.extended.update(ema_var, update, args=(var,), group=False)

    def _set_backbone_frozen(self, frozen):
        """The backbone's trainable layers trainable (False) or not (True: BatchNorm then runs in inference mode)."""
        for layer in self._backbone_layers:
            layer.trainable = not frozen

    def _train_fn(self, frozen):
        """The traced training function for a frozen or trainable backbone (traced with the layers set so)."""
        self._set_backbone_frozen(frozen)  # before every call: a retrace must see the same layers
        if frozen not in self._train_fns:
            self._train_fns[frozen] = self._make_train_fn(frozen)
        return self._train_fns[frozen]

    def _scale_backbone_updates(self, before):
        """Move each backbone variable ``backbone_lr_multiplier`` times the step the optimizer just took."""
        m = self.backbone_lr_multiplier

        def scale(variable, old):
            return variable.assign(old + m * (variable - old))

        for variable, old in zip(self.backbone_variables, before):
            self.strategy.extended.update(variable, scale, args=(old,), group=False)

    def _make_train_fn(self, frozen=False):
        strategy = self.strategy
        sum_ = tf.distribute.ReduceOp.SUM
        scale_backbone = not frozen and self.backbone_lr_multiplier != 1.0

        @tf.function
        def train_steps(iterator, num_steps):
            loss_sum = tf.constant(0.0)
            correct_sum = tf.constant(0.0)
            for _ in tf.range(num_steps):
                images, labels = next(iterator)
                for pruning_step in self.pruning_steps:  # what TF-MOT's UpdatePruningStep callback does in fit()
                    pruning_step.assign(self.step)
                before = [tf.identity(v) for v in self.backbone_variables] if scale_backbone else None
                loss, correct = strategy.run(self._replica_step, args=(images, labels))
                if scale_backbone:
                    self._scale_backbone_updates(before)
                loss_sum += strategy.reduce(sum_, loss, axis=None)
                correct_sum += strategy.reduce(sum_, correct, axis=None)
                if self.ema_model is not None:
                    self._update_ema()
                self.step.assign_add(1)
            n = tf.cast(num_steps, tf.float32)
            return loss_sum / n, correct_sum / (n * self.global_batch)

        return train_steps

    def _make_eval_fn(self, model):
        strategy = self.strategy
        sum_ = tf.distribute.ReduceOp.SUM
        k = min(5, self.num_classes)

        @tf.autograph.experimental.do_not_convert  # no Python control flow; avoids a closure-mismatch warning
        def replica(images, labels):
            logits = tf.cast(model(images, training=False), tf.float32)
            labels = tf.cast(labels, tf.int32)
            loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
            top1 = tf.reduce_sum(tf.cast(tf.nn.in_top_k(labels, logits, 1), tf.float32))
            topk = tf.reduce_sum(tf.cast(tf.nn.in_top_k(labels, logits, k), tf.float32))
            count = tf.cast(tf.shape(labels)[0], tf.float32)
            confusion = tf.math.confusion_matrix(labels, tf.argmax(logits, -1, output_type=tf.int32),
                                                 num_classes=self.num_classes, dtype=tf.float32)
            return tf.stack([loss, top1, topk, count]), confusion

        @tf.function(reduce_retracing=True)
        def eval_step(images, labels):
            totals, confusion = strategy.run(replica, args=(images, labels))
            return strategy.reduce(sum_, totals, axis=None), strategy.reduce(sum_, confusion, axis=None)

        return eval_step

    # ----------------------------------------------------------------- public
    def distribute(self, dataset):
        """Split the global batches of ``dataset`` (images, labels) over the replicas, in order."""
        return self.strategy.experimental_distribute_dataset(dataset)

    def run_steps(self, iterator, num_steps=1):
        """Run ``num_steps`` training steps from a distributed iterator; returns (mean loss, batch top-1)."""
        frozen = int(self.step.numpy()) < self.freeze_steps
        loss, accuracy = self._train_fn(frozen)(iterator, tf.constant(num_steps, tf.int32))
        return float(loss), float(accuracy)

    def restore(self):
        """Restore the latest checkpoint in model_dir (if any); returns the step restored from."""
        path = self.saver.restore_latest()
        return int(self.step.numpy()) if path else 0

    def weights_finite(self):
        models = [self.model] + ([self.ema_model] if self.ema_model is not None else [])
        return all(np.all(np.isfinite(w)) for m in models for w in m.get_weights())

    def save(self):
        step = int(self.step.numpy())
        if not self.weights_finite():
            raise NonFiniteLossError(
                f"the weights became non-finite (NaN/Inf) by step {step}; not saving. The last good checkpoint "
                f"({self.saver.latest}) is kept. Lower optimizer.lr, add warmup (schedule.warmup_epochs) or clipping "
                "(optimizer.clipnorm), or use float32."
            )
        return self.saver.save(step)

    def train(self, log=print):
        """Train from the latest checkpoint (if any) to `total_steps`; returns a dict of train figures."""
        c = self.config.train
        start_step = self.restore()
        step = start_step
        writer = self._writer("train")
        progbar = keras.utils.Progbar(self.total_steps, stateful_metrics=["loss", "top1", "lr", "img/s"],
                                      verbose=1 if self.is_chief else 0, unit_name="step")
        if start_step and self.is_chief:
            log(f"Resuming from {self.saver.latest} at step {start_step} (epoch {start_step // self.steps_per_epoch}).")
        if self.freeze_steps > start_step and self.is_chief:
            log(f"Backbone frozen for the first {self.freeze_steps} steps: only '{self.head_layer.name}' trains.")
        ckpt_every = c.checkpoint_every_steps or self.steps_per_epoch
        eval_every = c.eval_every_epochs * self.steps_per_epoch if c.eval_every_epochs else 0
        images_seen, train_seconds, loss, accuracy = 0, 0.0, float("nan"), float("nan")
        first_execution = True
        while step < self.total_steps:
            epoch, offset = divmod(step, self.steps_per_epoch)
            iterator = iter(self.train_dataset(epoch, offset))
            while offset < self.steps_per_epoch and step < self.total_steps:
                n = min(c.steps_per_execution, self.steps_per_epoch - offset, self.total_steps - step,
                        ckpt_every - step % ckpt_every)
                if eval_every:
                    n = min(n, eval_every - step % eval_every)
                frozen = step < self.freeze_steps
                if frozen:  # an execution never spans the unfreezing
                    n = min(n, self.freeze_steps - step)
                start = time.perf_counter()
                loss_t, acc_t = self._train_fn(frozen)(iterator, tf.constant(n, tf.int32))
                loss, accuracy = float(loss_t), float(acc_t)
                seconds = time.perf_counter() - start
                step += n
                offset += n
                if not math.isfinite(loss):
                    raise NonFiniteLossError(
                        f"non-finite training loss ({loss}) at step {step} (epoch {epoch}); stopping. The last good "
                        f"checkpoint ({self.saver.latest}) is kept and the same command resumes from it. Lower "
                        "optimizer.lr, add warmup (schedule.warmup_epochs) or clipping (optimizer.clipnorm)."
                    )
                if not first_execution:  # the first execution includes tracing
                    images_seen += n * self.global_batch
                    train_seconds += seconds
                first_execution = False
                lr = float(self.schedule(self.base_optimizer.iterations))
                rate = n * self.global_batch / seconds
                with writer.as_default(step=step):
                    scalar("loss", loss)
                    scalar("top1", accuracy)
                    scalar("learning_rate", lr)
                    scalar("images_per_second", rate)
                progbar.update(step, [("loss", loss), ("top1", accuracy), ("lr", lr), ("img/s", rate)])
                if step % ckpt_every == 0 or step == self.total_steps:
                    self.save()
                if eval_every and step % eval_every == 0 and step < self.total_steps:
                    metrics = self.evaluate()
                    if self.is_chief:
                        log(f"\nstep {step}: eval " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
        writer.flush()
        self._set_backbone_frozen(False)
        return {
            "start_step": start_step,
            "frozen_backbone_steps": self.freeze_steps,
            "final_step": step,
            "steps_per_epoch": self.steps_per_epoch,
            "epochs": step / self.steps_per_epoch,
            "final_loss": loss,
            "final_batch_top1": accuracy,
            "images_per_second": images_seen / train_seconds if train_seconds else None,
            "train_seconds": train_seconds,
        }

    def evaluate(self, use_ema=True):
        """top-1 / top-5 / loss on the eval split (EMA weights when enabled and ``use_ema``)."""
        model = self.ema_model if (use_ema and self.ema_model is not None) else self.model
        key = id(model)
        if key not in self._eval_fns:
            self._eval_fns[key] = self._make_eval_fn(model)
        fn = self._eval_fns[key]
        totals = np.zeros(4)
        confusion = np.zeros((self.num_classes, self.num_classes), np.int64)
        for images, labels in self.eval_dataset():
            batch_totals, batch_confusion = fn(images, labels)
            totals += batch_totals.numpy()
            confusion += np.rint(batch_confusion.numpy()).astype(np.int64)
        self.last_confusion_matrix = confusion
        loss, top1, topk, count = totals
        metrics = {"top1": top1 / count, f"top{min(5, self.num_classes)}": topk / count, "loss": loss / count,
                   "examples": int(count)}
        with self._writer("eval" if model is not self.model or self.ema_model is None else "eval_raw").as_default(
                step=int(self.step.numpy())):
            for name, value in metrics.items():
                if name != "examples":
                    scalar(name, value)
        return metrics

    def _writer(self, name):
        if not self.is_chief:
            return tf.summary.create_noop_writer()
        if name not in self._writers:
            self._writers[name] = tf.summary.create_file_writer(os.path.join(self.config.model_dir, name))
        return self._writers[name]

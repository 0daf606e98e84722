"""Learning-rate schedules (warmup, then cosine / exponential / linear / constant) and optimizers.

Optimizers: SGD (momentum, Nesterov), TF-style RMSProp (as the MobileNet
papers used: epsilon inside the square root, the learning rate inside the
momentum buffer, mean square initialised to 1 like ``tf.compat.v1.train.RMSPropOptimizer``)
and AdamW. Weight decay is either an L2 term in the loss (``l2``:
``wd * sum(w^2) / 2`` over kernels, as TF-slim's ``l2_regularizer``) or
decoupled (AdamW).
"""

import math

import tensorflow as tf

from keras_mobile.validation import fail
from train_tpu.backend import keras


class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0 to ``lr`` over ``warmup_steps``, then the decay (steps counted after warmup)."""

    def __init__(self, lr, total_steps, steps_per_epoch, name="cosine", warmup_steps=0, decay_rate=0.97,
                 decay_epochs=2.4, staircase=True, min_lr_ratio=0.0):
        super().__init__()
        self.lr = float(lr)
        self.total_steps = int(total_steps)
        self.steps_per_epoch = int(steps_per_epoch)
        self.name = name
        self.warmup_steps = int(warmup_steps)
        self.decay_rate = float(decay_rate)
        self.decay_epochs = float(decay_epochs)
        self.staircase = bool(staircase)
        self.min_lr_ratio = float(min_lr_ratio)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        lr = tf.constant(self.lr, tf.float32)
        decay_steps = max(self.total_steps - self.warmup_steps, 1)
        t = tf.maximum(step - self.warmup_steps, 0.0)
        floor = self.lr * self.min_lr_ratio
        if self.name == "cosine":
            progress = tf.minimum(t / decay_steps, 1.0)
            decayed = floor + (lr - floor) * 0.5 * (1.0 + tf.cos(math.pi * progress))
        elif self.name == "linear":
            progress = tf.minimum(t / decay_steps, 1.0)
            decayed = lr - (lr - floor) * progress
        elif self.name == "exponential":
            # Per-epoch steps: the exponent counts whole `decay_epochs` (staircase) of the data seen.
            periods = t / (self.decay_epochs * self.steps_per_epoch)
            if self.staircase:
                periods = tf.floor(periods)
            decayed = lr * tf.pow(self.decay_rate, periods)
        else:
            decayed = lr
        if self.warmup_steps:
            warm = lr * (step + 1.0) / self.warmup_steps
            return tf.where(step < self.warmup_steps, warm, decayed)
        return decayed

    def get_config(self):
        return {"lr": self.lr, "total_steps": self.total_steps, "steps_per_epoch": self.steps_per_epoch,
                "name": self.name, "warmup_steps": self.warmup_steps, "decay_rate": self.decay_rate,
                "decay_epochs": self.decay_epochs, "staircase": self.staircase, "min_lr_ratio": self.min_lr_ratio}


class RMSpropTF(keras.optimizers.RMSprop):
    """tf_keras RMSprop (epsilon inside the sqrt, lr inside momentum) with the mean square
    initialised to 1, as TF1's ``RMSPropOptimizer`` that the MobileNet / EfficientNet recipes used."""

    def build(self, var_list):
        already = getattr(self, "_built", False)
        super().build(var_list)
        if already:
            return
        for velocity in self._velocities:
            velocity.assign(tf.ones_like(velocity))


def peak_learning_rate(optimizer_config, batch_size):
    lr = optimizer_config.lr
    if optimizer_config.reference_batch_size:
        lr = lr * batch_size / optimizer_config.reference_batch_size
    return lr


def create_schedule(config, steps_per_epoch, total_steps):
    s = config.schedule
    return WarmupDecay(
        peak_learning_rate(config.optimizer, config.train.batch_size),
        total_steps=total_steps,
        steps_per_epoch=steps_per_epoch,
        name=s.name,
        warmup_steps=int(round(s.warmup_epochs * steps_per_epoch)),
        decay_rate=s.decay_rate,
        decay_epochs=s.decay_epochs,
        staircase=s.staircase,
        min_lr_ratio=s.min_lr_ratio,
    )


def create_optimizer(config, schedule):
    o = config.optimizer
    common = {"clipnorm": o.clipnorm}
    if o.name == "sgd":
        return keras.optimizers.SGD(schedule, momentum=o.momentum, nesterov=o.nesterov, **common)
    if o.name == "rmsprop":
        return RMSpropTF(schedule, rho=o.rho, momentum=o.momentum, epsilon=o.epsilon, **common)
    if o.name == "adamw":
        decay = o.weight_decay if o.weight_decay_mode == "decoupled" else 0.0
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=decay, beta_1=o.beta_1, beta_2=o.beta_2,
                                           epsilon=o.epsilon, **common)
        # Decoupled decay on kernels only (not BN gamma/beta, biases), as for the l2 mode.
        optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
        return optimizer
    fail("optimizer.name", o.name, ["sgd", "rmsprop", "adamw"])


def l2_variables(model, decay_depthwise=True):
    """The kernels the ``l2`` weight decay applies to (conv / dense kernels; never BN or biases)."""
    chosen = []
    for v in model.trainable_variables:
        name = v.name.split("/")[-1]
        if name.startswith("depthwise_kernel"):
            if decay_depthwise:
                chosen.append(v)
        elif name.startswith("kernel") or name.startswith("pointwise_kernel"):
            chosen.append(v)
    return chosen


def batch_norm_gammas(model):
    """The trainable BatchNorm scales (gammas) of ``model``: what ``train.slimming`` penalises (L1)."""
    return [layer.gamma for layer in model.layers
            if isinstance(layer, keras.layers.BatchNormalization) and layer.scale and layer.trainable]

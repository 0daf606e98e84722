"""What magnitude pruning means on both Keras lines: the prunable kernels and the validated schedule.

``pruning.prune_model`` checks its arguments here once, whichever line runs it: the tf_keras line
hands the ``PruningSchedule`` to TF-MOT (``PolynomialDecay`` / ``ConstantSparsity``), the Keras 3
line (``magnitude_pruning``) evaluates it itself, with TF-MOT's arithmetic:

* ``sparsity(step)``: ``PolynomialDecay`` (power 3) in float32, ``initial_sparsity`` at ``begin_step``
  to ``target_sparsity`` at ``end_step``; or ``target_sparsity`` throughout (``"constant"``).
* ``updates_at(step)``: every ``frequency`` steps from ``begin_step``, up to ``end_step`` (for ever
  with ``"constant"``); with ``m_by_n`` once, at step 1 (TF-MOT's rule). Steps count training
  batches from 1.
* ``kept(size, sparsity)``: a kernel keeps its ``max(round(size * (1 - sparsity)), 1)`` largest
  magnitudes (float32, round half to even): TF-MOT's count.

No Keras and no TensorFlow here, so the module serves both lines.
"""

import dataclasses
import typing

import numpy as np

from keras_mobile.validation import check_choice, check_int, check_number, parse_m_by_n

SCHEDULES = ("polynomial_decay", "constant")
PRUNABLE = {
    "Conv2D": ("kernel",),
    "DepthwiseConv2D": ("depthwise_kernel",),
    "SeparableConv2D": ("depthwise_kernel", "pointwise_kernel"),
    "Dense": ("kernel",),
}
# Where a stock layer keeps a kernel under another attribute: Keras 3's DepthwiseConv2D calls it `kernel`.
_ATTRIBUTE = {("DepthwiseConv2D", "depthwise_kernel"): "kernel"}
_POWER = 3  # TF-MOT's PolynomialDecay default, which prune_model always used


def prunable_weights(layer):
    """``(name, variable)`` per prunable kernel of a stock layer (``PRUNABLE``'s names), on either Keras line."""
    kind = type(layer).__name__
    pairs = []
    for name in PRUNABLE.get(kind, ()):
        attribute = name if hasattr(layer, name) else _ATTRIBUTE.get((kind, name), name)
        pairs.append((name, getattr(layer, attribute)))
    return pairs


@dataclasses.dataclass(frozen=True)
class PruningSchedule:
    """When masks are recomputed and to which sparsity (the arguments of ``prune_model``, checked)."""

    target_sparsity: typing.Optional[float]
    m_by_n: typing.Optional[tuple]
    schedule: str
    initial_sparsity: float
    begin_step: int
    end_step: int
    frequency: int

    @classmethod
    def from_arguments(cls, target_sparsity=None, m_by_n=None, schedule="polynomial_decay", initial_sparsity=0.0,
                       begin_step=0, end_step=1000, frequency=100):
        """The schedule, or the ValueError ``prune_model`` raises for a bad argument (one message format)."""
        if (target_sparsity is None) == (m_by_n is None):
            raise ValueError(
                f"prune_model: pass exactly one of target_sparsity (a number in (0, 1)) and m_by_n (e.g. (2, 4)); "
                f"got target_sparsity={target_sparsity!r}, m_by_n={m_by_n!r}."
            )
        if m_by_n is not None:
            m_by_n = parse_m_by_n("m_by_n", m_by_n)
        else:
            target_sparsity = check_number("target_sparsity", target_sparsity, 0.0, 1.0, low_open=True, high_open=True)
        check_choice("schedule", schedule, SCHEDULES)
        initial_sparsity = check_number("initial_sparsity", initial_sparsity, 0.0, 1.0, high_open=True)
        begin_step = check_int("begin_step", begin_step, minimum=0)
        end_step = check_int("end_step", end_step, minimum=begin_step + 1)
        frequency = check_int("frequency", frequency, minimum=1)
        if target_sparsity is not None and schedule == "polynomial_decay" and initial_sparsity >= target_sparsity:
            raise ValueError(
                f"initial_sparsity={initial_sparsity!r} is not supported; accepted values: a number in [0, "
                f"target_sparsity={target_sparsity}) for the polynomial_decay schedule."
            )
        if schedule == "polynomial_decay" and (end_step - begin_step) % frequency:
            example = begin_step + max(1, (end_step - begin_step) // frequency) * frequency
            raise ValueError(
                f"end_step={end_step} is not supported with begin_step={begin_step}, frequency={frequency}; accepted "
                f"values: begin_step + k * frequency (e.g. {example}): "
                "masks are updated every `frequency` steps from begin_step, and the last update must fall on end_step "
                "for the target sparsity to be reached."
            )
        return cls(target_sparsity, m_by_n, schedule, initial_sparsity, begin_step, end_step, frequency)

    def get_config(self):
        """JSON-ready fields (``from_config`` checks them again)."""
        config = dataclasses.asdict(self)
        config["m_by_n"] = list(self.m_by_n) if self.m_by_n else None
        return config

    @classmethod
    def from_config(cls, config):
        return cls.from_arguments(**config)

    def updates_at(self, step):
        """Whether the masks are recomputed at training step ``step`` (1 is the first batch)."""
        if self.m_by_n:
            return step == 1
        in_range = self.begin_step <= step and (self.schedule == "constant" or step <= self.end_step)
        return in_range and (step - self.begin_step) % self.frequency == 0

    def last_update(self, after, upto):
        """The last update step in ``(after, upto]``, or None."""
        if self.m_by_n:
            return 1 if after < 1 <= upto else None
        high = upto if self.schedule == "constant" else min(upto, self.end_step)
        if high < self.begin_step:
            return None
        step = self.begin_step + (high - self.begin_step) // self.frequency * self.frequency
        return step if step > after else None

    def sparsity(self, step):
        """The fraction of zeros at ``step`` as TF-MOT computes it (float32); ``m / n`` for m-by-n."""
        if self.m_by_n:
            return np.float32(self.m_by_n[0] / self.m_by_n[1])
        if self.schedule == "constant":
            return np.float32(self.target_sparsity)
        fraction = np.float32(step - self.begin_step) / np.float32(self.end_step - self.begin_step)
        fraction = np.minimum(np.float32(1.0), np.maximum(np.float32(0.0), fraction))
        decay = np.float32(self.initial_sparsity - self.target_sparsity) * (np.float32(1.0) - fraction) ** _POWER
        return np.float32(decay + np.float32(self.target_sparsity))


def kept(size, sparsity):
    """How many weights of a ``size``-weight kernel survive at ``sparsity``: TF-MOT's count.

    ``max(round(size * (1 - sparsity)), 1)`` in float32, rounding half to even as ``tf.math.round``.
    """
    return int(max(np.round(np.float32(size) * (np.float32(1.0) - np.float32(sparsity))), 1))


def check_skip_layers(model, skip_layers):
    """``skip_layers`` as a set of names of ``model``'s layers, or prune_model's ValueError."""
    if isinstance(skip_layers, str) or not all(isinstance(n, str) for n in skip_layers):
        raise ValueError(f"skip_layers={skip_layers!r} is not supported; accepted values: a list of layer names.")
    unknown = sorted(set(skip_layers) - {layer.name for layer in model.layers})
    if unknown:
        raise ValueError(f"skip_layers names layers that model '{model.name}' does not have: {unknown}.")
    return set(skip_layers)

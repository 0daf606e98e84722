"""Magnitude pruning (polynomial-decay or constant schedule) and m-by-n (2:4) structured sparsity.

On either Keras line: a tf_keras model is pruned by TF-MOT (``PruneLowMagnitude`` wrappers), a Keras 3
model by ``magnitude_pruning`` (any backend, no TF-MOT); same arguments, schedule and counts
(``pruning_spec``).

    pruned = compression.prune_model(model, target_sparsity=0.5, end_step=2000)    # or m_by_n=(2, 4)
    pruned.compile(...); pruned.fit(..., callbacks=compression.pruning_callbacks())
    plain = compression.strip_pruning(pruned)        # stock layers again, zeros in the kernels
    print(compression.format_sparsity_report(compression.sparsity_report(plain)))

Prunable layers: Conv2D (grouped too), DepthwiseConv2D, SeparableConv2D (depthwise
and pointwise kernels) and Dense; biases, BatchNorm and everything else stay
dense. TF-MOT's own registry skips DepthwiseConv2D (and SeparableConv2D's
depthwise kernel); keras_mobile makes them prunable too, since depthwise kernels
are a large share of a mobile net's parameters at small widths.

m-by-n sparsity (TF-MOT's ``sparsity_m_by_n``): in every group of ``n``
consecutive weights along the input-channel axis (TFLite's innermost axis) at
most ``n - m`` are non-zero. For a depthwise kernel the groups run along the
channel axis at each tap. A layer whose input-channel count is not a multiple
of ``n`` (e.g. the 3-channel stem) gets the pattern on its last, shorter group,
hence less than ``m / n`` sparsity there.
"""

import gzip
import os

import numpy as np

from keras_mobile import backend
from keras_mobile.compression import magnitude_pruning
from keras_mobile.compression._require import import_tfmot, on_keras3, require_tf_keras
from keras_mobile.compression.pruning_spec import (  # noqa: F401  (PRUNABLE, SCHEDULES: public here)
    PRUNABLE,
    SCHEDULES,
    PruningSchedule,
    check_skip_layers,
    prunable_weights,
)
_WRAPPERS = ("PruneLowMagnitude", "QuantizeWrapper", "QuantizeWrapperV2", "QuantizeAnnotate")


def _unwrap(layer):
    while type(layer).__name__ in _WRAPPERS and hasattr(layer, "layer"):
        layer = layer.layer
    return layer


def _prunable_weight_names(layer):
    return PRUNABLE.get(type(layer).__name__, ())


def prune_model(
    model,
    target_sparsity=None,
    *,
    m_by_n=None,
    schedule="polynomial_decay",
    initial_sparsity=0.0,
    begin_step=0,
    end_step=1000,
    frequency=100,
    skip_layers=(),
):
    """``model`` with TF-MOT ``PruneLowMagnitude`` wrappers on every prunable layer (weights shared).

    target_sparsity: the final fraction of zeros in each prunable kernel, in (0, 1).
    m_by_n: instead of ``target_sparsity``, structured sparsity, e.g. ``(2, 4)`` or ``"2:4"``.
    schedule: ``"polynomial_decay"`` (TF-MOT's PolynomialDecay, power 3, from
        ``initial_sparsity`` at ``begin_step`` to ``target_sparsity`` at ``end_step``)
        or ``"constant"`` (``target_sparsity`` from ``begin_step`` on).
        With ``m_by_n`` the mask is the m-by-n one at every update.
    frequency: steps between mask updates. With ``polynomial_decay``, ``end_step``
        must be ``begin_step + k * frequency`` (the last update reaches the target).
    skip_layers: names of layers to leave dense.

    Train with ``pruning_callbacks()``; ``strip_pruning`` afterwards. A Keras 3 model gets
    ``magnitude_pruning.prune_model`` instead (same arguments; see that module).
    """
    if on_keras3(model):
        return magnitude_pruning.prune_model(
            model, target_sparsity, m_by_n=m_by_n, schedule=schedule, initial_sparsity=initial_sparsity,
            begin_step=begin_step, end_step=end_step, frequency=frequency, skip_layers=skip_layers,
        )
    require_tf_keras(model, "prune_model")
    plan = PruningSchedule.from_arguments(target_sparsity, m_by_n, schedule, initial_sparsity, begin_step, end_step,
                                          frequency)
    skip = check_skip_layers(model, skip_layers)

    tfmot = import_tfmot()
    import tf_keras

    sparsity = tfmot.sparsity.keras
    m_by_n = plan.m_by_n
    if m_by_n is not None or plan.schedule == "constant":
        pruning_schedule = sparsity.ConstantSparsity(
            plan.target_sparsity if m_by_n is None else m_by_n[0] / m_by_n[1],
            begin_step=plan.begin_step,
            end_step=plan.end_step if plan.schedule == "polynomial_decay" else -1,
            frequency=plan.frequency,
        )
    else:
        pruning_schedule = sparsity.PolynomialDecay(
            plan.initial_sparsity, plan.target_sparsity, plan.begin_step, plan.end_step, power=3,
            frequency=plan.frequency,
        )

    def wrap(layer):
        names = _prunable_weight_names(layer)
        if not names or layer.name in skip:
            return layer
        if type(layer).__name__ in ("DepthwiseConv2D", "SeparableConv2D"):
            # TF-MOT's registry leaves these (partly) dense; name the kernels to prune explicitly.
            layer.get_prunable_weights = lambda layer=layer, names=names: [getattr(layer, n) for n in names]
        return sparsity.prune_low_magnitude(layer, pruning_schedule=pruning_schedule, sparsity_m_by_n=m_by_n)

    with sparsity.prune_scope():
        return tf_keras.models.clone_model(model, clone_function=wrap)


def pruning_callbacks(log_dir=None):
    """The Keras callbacks pruning needs in ``fit``: ``UpdatePruningStep`` (+ ``PruningSummaries``).

    A custom training loop instead calls, per step, ``callback.on_train_batch_begin(step)``
    after ``callback.set_model(model)`` and ``callback.on_train_begin()``.
    On the Keras 3 line: ``[magnitude_pruning.PruningCallback(log_dir)]`` (a custom loop calls
    ``apply_pruning_step(model)`` after each step instead).
    """
    if not backend.IS_LEGACY_KERAS:
        return magnitude_pruning.pruning_callbacks(log_dir)
    tfmot = import_tfmot()
    callbacks = [tfmot.sparsity.keras.UpdatePruningStep()]
    if log_dir is not None:
        callbacks.append(tfmot.sparsity.keras.PruningSummaries(log_dir=os.fspath(log_dir)))
    return callbacks


def strip_pruning(model):
    """``model`` without pruning wrappers: stock layers whose kernels hold the zeros (masks applied)."""
    if on_keras3(model):
        return magnitude_pruning.strip_pruning(model)
    require_tf_keras(model, "strip_pruning")
    tfmot = import_tfmot()
    for layer in model.layers:
        if type(layer).__name__ == "PruneLowMagnitude":
            for weight, mask, _ in layer.pruning_vars:
                weight.assign(weight * mask)
    stripped = tfmot.sparsity.keras.strip_pruning(model)
    for layer in stripped.layers:
        layer.__dict__.pop("get_prunable_weights", None)
    return stripped


def sparsity_report(model):
    """Per prunable kernel: ``{"layer", "type", "weight", "shape", "params", "zeros", "sparsity"}``.

    Works on float, pruned (wrapped), stripped and QAT models, of either Keras line.
    """
    rows = []
    for outer in model.layers:
        layer = _unwrap(outer)
        for name, variable in prunable_weights(layer):
            value = np.asarray(variable.numpy())
            zeros = int(np.sum(value == 0))
            rows.append(
                {
                    "layer": layer.name,
                    "type": type(layer).__name__,
                    "weight": name,
                    "shape": list(value.shape),
                    "params": int(value.size),
                    "zeros": zeros,
                    "sparsity": zeros / max(1, value.size),
                }
            )
    return rows


def total_sparsity(report):
    """Zeros / params over all rows of a ``sparsity_report`` (or ``tflite_weight_sparsity``)."""
    params = sum(row["params"] for row in report)
    return sum(row["zeros"] for row in report) / max(1, params)


def format_sparsity_report(report):
    """A markdown table of a ``sparsity_report``, with the total."""
    lines = ["| layer | type | weight | params | zeros | sparsity |", "|---|---|---|---|---|---|"]
    for row in report:
        lines.append(
            f"| {row['layer']} | {row['type']} | {row['weight']} | {row['params']:,} | {row['zeros']:,} | "
            f"{row['sparsity']:.1%} |"
        )
    params = sum(row["params"] for row in report)
    zeros = sum(row["zeros"] for row in report)
    lines.append(f"| **total** | | | {params:,} | {zeros:,} | {total_sparsity(report):.1%} |")
    return "\n".join(lines)


def gzip_size(content):
    """Bytes of ``content`` (bytes, or a file path) after gzip -9: the size that shows sparsity."""
    if isinstance(content, (str, os.PathLike)):
        with open(content, "rb") as f:
            content = f.read()
    return len(gzip.compress(bytes(content), compresslevel=9))


def tflite_weight_sparsity(content):
    """Zeros in the weight (filter) tensors of a TFLite model's CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED ops.

    Rows like ``sparsity_report`` (``layer`` is the tensor name, ``type`` the op).
    Reads the flatbuffer directly, so int8 weights are counted as stored.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    opcodes = {i: code for i, code in enumerate(model.operatorCodes)}
    names = {
        3: "CONV_2D",
        4: "DEPTHWISE_CONV_2D",
        9: "FULLY_CONNECTED",
    }
    rows, seen = [], set()
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            code = opcodes[op.opcodeIndex]
            builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
            if builtin not in names or len(op.inputs) < 2 or op.inputs[1] in seen:
                continue
            seen.add(op.inputs[1])
            tensor = subgraph.tensors[op.inputs[1]]
            data = model.buffers[tensor.buffer].data
            if data is None:
                continue
            dtype = {9: np.int8, 0: np.float32, 1: np.float16}.get(tensor.type, np.uint8)
            values = np.frombuffer(bytes(data), dtype=dtype)
            zeros = int(np.sum(values == 0))
            name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
            rows.append(
                {
                    "layer": name,
                    "type": names[builtin],
                    "weight": "filter",
                    "shape": list(tensor.shape),
                    "params": int(values.size),
                    "zeros": zeros,
                    "sparsity": zeros / max(1, values.size),
                }
            )
    return rows

"""Magnitude and m-by-n (2:4) pruning on Keras 3, on every backend (TensorFlow, JAX, PyTorch), without TF-MOT.

``compression.prune_model`` / ``pruning_callbacks`` / ``strip_pruning`` route a Keras 3 model here
(a tf_keras model to TF-MOT); the arguments, the schedule and the counts are TF-MOT's
(``pruning_spec``), the mechanism is this module's:

* The model keeps its stock layers. ``prune_model`` returns a functional model over the same layers
  (weights shared, as TF-MOT's) whose outputs pass through one ``PruningState`` layer: an identity
  that holds the state, a 0/1 mask per pruned kernel (non-trainable variables, ones at first), the
  count of training steps done, and the ``PruningSchedule`` in its config. So a pruned model saved
  with ``model.save("x.keras")`` (or ``save_weights``) loads with its masks, step and schedule, and
  pruning goes on where it stopped. The model's output is named after that layer (``pruning_state``),
  as TF-MOT's wrapper renames the output layer; ``strip_pruning`` gives the original outputs back.
* Masks act between steps, not inside the compiled step: ``apply_pruning_step(model)`` after each
  optimizer step counts the step ``t``, recomputes the masks when the schedule updates at ``t``
  (from the weights as the optimizer left them, so, as in TF-MOT, a pruned weight that the gradient
  grew can come back) and multiplies every pruned kernel by its mask. ``pruning_callbacks()`` returns
  the callback that calls it on every train batch end of ``model.fit`` (on JAX that writes the
  step's state back to the variables, as any per-batch callback that reads the model does); a
  custom loop calls it itself. Steps count as TF-MOT's (1 = the first batch) and an update at ``t``
  uses the schedule's value at ``t``; TF-MOT makes it before step ``t``'s forward pass, this module
  after step ``t``'s optimizer update, so after step ``t`` the kernels hold exactly the schedule's
  zeros at ``t`` (TF-MOT re-masks only at epoch end and in ``strip_pruning``).
* A mask keeps ``pruning_spec.kept(size, sparsity)`` weights of largest magnitude (exactly that many:
  ties go to the earlier index), TF-MOT's count. m-by-n: in every ``n`` consecutive weights along
  the input-channel axis (TFLite's innermost; for a depthwise kernel the channel axis at each tap)
  the ``n - m`` largest are kept; a last, shorter group keeps at most ``n - m``.
* ``strip_pruning`` applies the masks and returns the functional model of the stock layers (no
  ``PruningState``): the model to save, export and quantize.
"""

import json
import os

import numpy as np

from keras_mobile.backend import IS_LEGACY_KERAS, keras, register_serializable
from keras_mobile.compression.pruning_spec import PruningSchedule, check_skip_layers, kept, prunable_weights
from keras_mobile.graph import check_functional, model_structures
from keras_mobile.validation import check_int

_STATE = "pruning_state"
LOG_FILE = "pruning.jsonl"  # pruning_callbacks(log_dir)'s per-epoch record


@register_serializable("PruningState")
class PruningState(keras.layers.Layer):
    """Identity on a pruned model's outputs that holds its pruning state (see the module docstring).

    schedule: a ``PruningSchedule`` (or its config).
    targets: ``(layer name, kernel name, shape)`` per pruned kernel, kernel names as in ``PRUNABLE``.
    """

    def __init__(self, schedule, targets, **kwargs):
        kwargs.setdefault("autocast", False)  # an identity: mixed precision must not cast the outputs
        super().__init__(**kwargs)
        self.schedule = schedule if isinstance(schedule, PruningSchedule) else PruningSchedule.from_config(schedule)
        self.targets = tuple((str(layer), str(weight), tuple(int(d) for d in shape))
                             for layer, weight, shape in targets)

    def build(self, input_shape):
        self.masks = [
            self.add_weight(shape=shape, initializer="ones", trainable=False, name=f"{layer}_{weight}_mask")
            for layer, weight, shape in self.targets
        ]
        self.step = self.add_weight(shape=(), initializer="zeros", dtype="int32", trainable=False, name="step")

    def call(self, inputs):
        return inputs

    def compute_output_spec(self, inputs):
        return keras.tree.map_structure(lambda x: keras.KerasTensor(x.shape, dtype=x.dtype), inputs)

    def get_config(self):
        config = super().get_config()
        config.update(schedule=self.schedule.get_config(), targets=[[l, w, list(s)] for l, w, s in self.targets])
        return config


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
    """``model``'s layers (weights shared) with a ``PruningState`` on the outputs.

    Arguments as ``pruning.prune_model``; see the module docstring for how the masks act.
    """
    check_functional(model, "prune_model", purpose="magnitude pruning")
    if _find_state(model) is not None:
        raise ValueError(
            f"prune_model: model '{model.name}' is already pruned (it has a PruningState layer); pass the model "
            "before prune_model, or strip_pruning(model) to prune its stripped copy again."
        )
    plan = PruningSchedule.from_arguments(target_sparsity, m_by_n, schedule, initial_sparsity, begin_step, end_step,
                                          frequency)
    skip = check_skip_layers(model, skip_layers)
    targets = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            raise ValueError(
                f"prune_model: layer '{layer.name}' of model '{model.name}' is a nested model, whose layers would "
                "stay dense; magnitude pruning needs a flat functional model (what keras_mobile's builders return)."
            )
        if layer.name in skip:
            continue
        for name, variable in prunable_weights(layer):
            if not isinstance(variable, keras.Variable):
                raise TypeError(
                    f"prune_model: the {name} of layer '{layer.name}' is computed (LoRA or a quantized layer), not a "
                    "variable; magnitude pruning needs plain float kernels (or name the layer in skip_layers)."
                )
            targets.append((layer.name, name, tuple(variable.shape)))
    if not targets:
        raise ValueError(
            f"prune_model: model '{model.name}' has no prunable kernel outside skip_layers; prunable layers: "
            "Conv2D, DepthwiseConv2D, SeparableConv2D, Dense."
        )
    inputs, outputs = model_structures(model)
    state = PruningState(plan, targets, name=_STATE)
    return keras.Model(inputs, state(outputs), name=model.name)


def apply_pruning_step(model, step=None):
    """After training step ``step`` (default: the steps done so far + 1): update the masks if the schedule
    says so, then multiply every pruned kernel by its mask. Returns True when the masks were recomputed.

    ``model.fit`` calls it through ``pruning_callbacks()``; a custom training loop calls it after each
    optimizer step (on JAX with the loop's state written back to the model's variables first).
    """
    if IS_LEGACY_KERAS:
        raise TypeError(
            "apply_pruning_step: the Keras 3 line's pruning step; on tf_keras, TF-MOT's pruning advances through "
            "the callbacks of compression.pruning_callbacks() (see its docstring for a custom loop)."
        )
    state = _require_state(model, "apply_pruning_step")
    done = int(keras.ops.convert_to_numpy(state.step))
    step = done + 1 if step is None else check_int("step", step, minimum=0)
    update = state.schedule.last_update(done, step)
    kernels = _kernels(model, state)
    if update is not None:
        for kernel, mask in zip(kernels, state.masks):
            mask.assign(_mask(keras.ops.convert_to_numpy(kernel), state.schedule, update))
    state.step.assign(step)
    _apply_masks(kernels, state.masks)
    return update is not None


class PruningCallback(keras.callbacks.Callback):
    """``apply_pruning_step`` after every training batch of ``model.fit`` (masks applied at train begin too).

    log_dir: also append a JSON line to ``log_dir/pruning.jsonl`` at each epoch end: the epoch, the
    step, the schedule's sparsity and each mask's (``"layer/kernel"``): what TF-MOT's
    ``PruningSummaries`` writes for TensorBoard, without needing TensorBoard or TensorFlow.
    """

    def __init__(self, log_dir=None):
        super().__init__()
        self.log_dir = log_dir
        self._begin = 0

    def on_train_begin(self, logs=None):
        model = self.model
        state = _require_state(model, "pruning_callbacks")
        _apply_masks(_kernels(model, state), state.masks)

    def on_train_batch_begin(self, batch, logs=None):
        self._begin = batch

    def on_train_batch_end(self, batch, logs=None):
        model = self.model  # on JAX, reading it writes the step's state back to the variables
        state = _require_state(model, "pruning_callbacks")
        done = int(keras.ops.convert_to_numpy(state.step))
        apply_pruning_step(model, done + max(1, batch - self._begin + 1))  # steps_per_execution > 1: several

    def on_epoch_end(self, epoch, logs=None):
        if self.log_dir is None:
            return
        state = _require_state(self.model, "pruning_callbacks")
        step = int(keras.ops.convert_to_numpy(state.step))
        masks = {f"{layer}/{weight}": 1.0 - float(np.mean(keras.ops.convert_to_numpy(mask)))
                 for (layer, weight, _), mask in zip(state.targets, state.masks)}
        row = {"epoch": epoch, "step": step, "sparsity": float(state.schedule.sparsity(step)), "masks": masks}
        os.makedirs(self.log_dir, exist_ok=True)
        with open(os.path.join(self.log_dir, LOG_FILE), "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")


def pruning_callbacks(log_dir=None):
    """``[PruningCallback(log_dir)]``: what ``model.fit`` needs to prune a model from ``prune_model``."""
    return [PruningCallback(log_dir)]


def strip_pruning(model):
    """The functional model of ``model``'s stock layers without its ``PruningState``, masks applied (exact zeros)."""
    state = _require_state(model, "strip_pruning")
    _apply_masks(_kernels(model, state), state.masks)
    inputs, _ = model_structures(model)
    return keras.Model(inputs, state._inbound_nodes[0].arguments.args[0], name=model.name)


# --------------------------------------------------------------------------- masks
def _mask(weights, schedule, step):
    """The 0/1 mask of ``weights`` at ``step`` (see the module docstring)."""
    if schedule.m_by_n:
        return m_by_n_mask(weights, *schedule.m_by_n)
    return magnitude_mask(weights, schedule.sparsity(step))


def magnitude_mask(weights, sparsity):
    """Ones on the ``kept(size, sparsity)`` largest magnitudes of ``weights``, zeros elsewhere."""
    flat = np.abs(np.asarray(weights)).reshape(-1)
    order = np.argsort(-flat, kind="stable")
    mask = np.zeros(flat.size, np.float32)
    mask[order[: kept(flat.size, sparsity)]] = 1.0
    return mask.reshape(np.shape(weights))


def m_by_n_mask(weights, m, n):
    """Ones on the ``n - m`` largest magnitudes in every ``n`` consecutive weights along axis -2 (input channels)."""
    magnitudes = np.moveaxis(np.abs(np.asarray(weights, np.float32)), -2, -1)
    channels = magnitudes.shape[-1]
    padded = np.pad(magnitudes, [(0, 0)] * (magnitudes.ndim - 1) + [(0, -channels % n)], constant_values=-1.0)
    groups = padded.reshape(-1, n)  # the padding ranks below every weight: a short group keeps its n - m largest
    keep = np.zeros(groups.shape, np.float32)
    np.put_along_axis(keep, np.argsort(-groups, axis=1, kind="stable")[:, : n - m], 1.0, axis=1)
    keep = keep.reshape(padded.shape)[..., :channels]
    return np.moveaxis(keep, -1, -2)


# --------------------------------------------------------------------------- state
def _find_state(model):
    return next((layer for layer in model.layers if isinstance(layer, PruningState)), None)


def _require_state(model, function):
    state = _find_state(model) if isinstance(model, keras.Model) else None
    if state is None:
        raise ValueError(
            f"{function}: model '{getattr(model, 'name', model)}' is not pruned (it has no PruningState layer); "
            "accepted: the model that compression.prune_model returned (or that model saved and loaded)."
        )
    return state


def _kernels(model, state):
    layers = {layer.name: layer for layer in model.layers}
    return [dict(prunable_weights(layers[layer]))[weight] for layer, weight, _ in state.targets]


def _apply_masks(kernels, masks):
    for kernel, mask in zip(kernels, masks):
        kernel.assign(keras.ops.multiply(kernel, keras.ops.cast(mask, kernel.dtype)))

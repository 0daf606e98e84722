"""Model building for the harness: the configured model, its BatchNorm settings, the teacher.

    model = build_model(config, num_classes=10, resolution=64)             # logits
    model = build_model(config, 10, 64, classifier_activation="softmax")  # the exported head
    student = logits_model(model)                                          # shares every weight

``TrainingModels`` is what a phase hands the trainer (``phases.py`` builds it).
"""

import dataclasses
import warnings
from typing import Callable, Optional, Tuple

import keras_mobile
from keras_mobile.pretrained.legacy_h5 import NewClassifierWarning, classifier_layer
from keras_mobile.registry import list_models
from train_tpu.backend import keras
from train_tpu.config import ConfigError


@dataclasses.dataclass
class TrainingModels:
    """The models one phase trains, checkpoints and exports (built in the strategy's scope).

    train_model: the model the loss is computed on (logits).
    checkpoint_model: what the checkpoint holds as ``model``: ``train_model`` itself, or the graph it was cut
      from (a softmax head over the same weights).
    ema_model: the moving average of ``train_model``'s weights (same architecture), or None.
    teacher: a frozen distillation teacher (logits), or None.
    pruning_steps: TF-MOT pruning step variables, set to the global step before each training step.
    export_model: called after training, outside the strategy: the model to export, with a softmax head
      (a float32 copy of the EMA or raw weights, the stripped pruned model, or the QAT model).
    wrapped: the models carry TF-MOT wrappers (masks, quantizers): their parameter counts are not the
      architecture's.
    reports_sparsity: the exported model's per-layer sparsity belongs in the report (pruned weights).
    """

    train_model: object
    checkpoint_model: object
    export_model: Callable[[], object]
    ema_model: Optional[object] = None
    teacher: Optional[object] = None
    pruning_steps: Tuple = ()
    wrapped: bool = False
    reports_sparsity: bool = False
    weights: Optional[dict] = None  # where the initial weights came from and which layers are new (summary.json)
    channel_pruning: Optional[dict] = None  # the channel_prune phase's report (ChannelPruningReport.to_dict())


def build_model(config, num_classes, resolution, *, classifier_activation=None, sync_batch_norm=None, name=None):
    """The configured keras_mobile model (logits by default), randomly initialised.

    ``model.width`` goes to the builder under its own argument name (the registry's ``width_arg``);
    ``model.sync_batch_norm`` (or ``sync_batch_norm``) and ``model.bn_momentum`` rewrite its BatchNorm layers.
    """
    return _build(config, num_classes, resolution, None, classifier_activation, sync_batch_norm, name)[0]


def build_pretrained_model(config, num_classes, resolution, name=None):
    """``(model, report)``: the configured model (logits) with ``model.weights`` loaded ("imagenet" or a file).

    ``report`` (for summary.json): the source and, when the checkpoint's classes differ from the
    dataset's, the new classifier layer and its skipped weights; None without ``model.weights``. A file
    that does not fit raises ``ConfigError`` naming ``model.weights``.
    """
    return _build(config, num_classes, resolution, config.model.weights or None, None, None, name)


def _build(config, num_classes, resolution, weights, classifier_activation, sync_batch_norm, name):
    m = config.model
    kwargs = {
        "input_shape": (resolution, resolution, 3),
        "classes": num_classes,
        "classifier_activation": classifier_activation,
        "include_preprocessing": config.data.normalization == "raw",
        **m.width_kwargs(),
    }
    if m.dropout_rate is not None:
        kwargs["dropout_rate"] = m.dropout_rate
    if name:
        kwargs["name"] = name
    model, report = (keras_mobile.create_model(m.name, **kwargs), None) if weights is None else \
        _load_pretrained(m.name, weights, kwargs)
    synchronized = m.sync_batch_norm if sync_batch_norm is None else sync_batch_norm
    if synchronized or m.bn_momentum is not None:
        model = rewrite_batch_norm(model, synchronized, m.bn_momentum)
    return model, report


def _load_pretrained(model_name, weights, kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NewClassifierWarning)
        try:
            model = keras_mobile.create_model(model_name, weights=weights, **kwargs)
        except ValueError as error:
            raise ConfigError(f"model.weights={weights!r} cannot be loaded: {error}") from error
    new = [w.message for w in caught if isinstance(w.message, NewClassifierWarning)]
    for w in caught:  # anything else goes on as it came
        if not isinstance(w.message, NewClassifierWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    report = {"source": weights, "new_layers": [], "skipped_weights": []}
    if new:
        report["new_layers"] = [new[0].layer]
        report["skipped_weights"] = [{"name": n, "model_shape": list(ms), "file_shape": list(fs)}
                                     for n, ms, fs in new[0].weights]
        report["message"] = str(new[0])
    return model, report


def classifier(model):
    """The model's classifier layer (its last layer with weights): what trains while the backbone is frozen."""
    return classifier_layer(model)


def rewrite_batch_norm(model, synchronized, momentum):
    """The same functional model and weights with BatchNormalization(synchronized=..., momentum=...)
    (``synchronized`` / ``momentum`` None: left as they are)."""
    model_config = model.get_config()
    for layer in model_config["layers"]:
        if layer["class_name"] == "BatchNormalization":
            if synchronized is not None:
                layer["config"]["synchronized"] = bool(synchronized)
            if momentum is not None:
                layer["config"]["momentum"] = momentum
    clone = keras.Model.from_config(model_config)
    clone.set_weights(model.get_weights())
    return clone


def float32_copy(config, weights_from, num_classes, resolution, name=None):
    """A float32 model with a softmax head and plain BatchNorm, outside any strategy, holding ``weights_from``'s
    weights (the export copy of a model trained under a mixed-precision policy)."""
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        model = build_model(config, num_classes, resolution, classifier_activation="softmax", sync_batch_norm=False,
                            name=name or config.model.name)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    model.set_weights(weights_from.get_weights())
    return model


def logits_model(full):
    """The sub-model of ``full`` that ends before its ``predictions`` (softmax) layer; shares every weight."""
    layer, node_index, _ = full.outputs[0]._keras_history
    if not layer.name.endswith("predictions"):
        raise ValueError(f"model '{full.name}' does not end in a 'predictions' layer (got {layer.name!r}).")
    # The layer's node in *this* graph: wrappers reuse unwrapped layers, which then have several nodes.
    logits = layer.inbound_nodes[node_index].input_tensors
    return keras.Model(full.inputs, logits, name=f"{full.name}_logits")


def frozen(model, name="teacher"):
    """``model``'s graph as a non-trainable model named ``name`` (a teacher)."""
    teacher = keras.Model(model.inputs, model.outputs, name=name)
    teacher.trainable = False
    return teacher


def load_teacher(distill, num_classes, resolution, include_preprocessing):
    """The frozen teacher of ``distill`` (a DistillConfig): a registered model with a weights file, or a saved
    model path (logits out)."""
    name = distill.teacher  # a registered name (with teacher_weights) or an existing path: checked in config.py
    if name in list_models():
        teacher = keras_mobile.create_model(
            name, input_shape=(resolution, resolution, 3), classes=num_classes, classifier_activation=None,
            include_preprocessing=include_preprocessing, weights=distill.teacher_weights, name="teacher",
        )
    else:
        teacher = keras.models.load_model(name, compile=False)
    teacher.trainable = False
    return teacher

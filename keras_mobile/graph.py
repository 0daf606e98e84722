"""The layer graph of a functional Keras model on either Keras line: its layer calls in order, tensor keys.

Shared by the graph rewrites (``compression.channel_pruning``, ``inference_rewrites``): both walk a
model's layer calls in topological order and rebuild a new functional model from them.
"""

import dataclasses

from keras_mobile.backend import IS_LEGACY_KERAS, keras

@dataclasses.dataclass(frozen=True)
class LayerNode:
    """One layer call: its tensors as keys ``(layer name, node index, tensor index)``, in call order."""

    layer: object
    name: str
    kind: str
    inputs: tuple
    outputs: tuple
    call_args: tuple = ()
    call_kwargs: dict = dataclasses.field(default_factory=dict)


def _tree():
    if IS_LEGACY_KERAS:
        import tensorflow as tf

        return tf.nest
    return keras.tree


def flatten(structure):
    return list(_tree().flatten(structure))


def map_structure(function, structure):
    return _tree().map_structure(function, structure)


def tensor_key(tensor):
    """``(layer name, node index, tensor index)`` of a symbolic Keras tensor."""
    history = tensor._keras_history
    return (history[0].name, int(history[1]), int(history[2]))


def _is_symbolic(value):
    return hasattr(value, "_keras_history")


def node_call(node):
    """``(layer, args, kwargs, output tensors)`` of a functional node on either Keras line."""
    if IS_LEGACY_KERAS:
        return node.layer, tuple(node.call_args), dict(node.call_kwargs), flatten(node.outputs)
    return node.operation, tuple(node.arguments.args), dict(node.arguments.kwargs), list(node.output_tensors)


def model_structures(model):
    """The model's (inputs, outputs) structures of symbolic tensors (dicts stay dicts)."""
    if IS_LEGACY_KERAS:
        return model._nested_inputs, model._nested_outputs
    return model._inputs_struct, model._outputs_struct


def check_functional(model, function, purpose="channel pruning"):
    """Raise TypeError unless ``model`` is a functional model of this process's Keras line."""
    package = type(model).__module__.split(".", 1)[0]
    line_package = "tf_keras" if IS_LEGACY_KERAS else "keras"
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"{function}: model must be a functional {line_package} model (what keras_mobile's builders return); "
            f"got {type(model).__module__}.{type(model).__name__}"
            + (f" from the {package} package, but keras_mobile builds with {line_package} in this process "
               "(TF_USE_LEGACY_KERAS selects tf_keras)." if package in ("keras", "tf_keras") else ".")
        )
    functional = any(cls.__name__ == "Functional" for cls in type(model).__mro__)
    if not functional or type(model).__name__ == "Sequential" or not getattr(model, "_nodes_by_depth", None):
        raise TypeError(
            f"{function}: model '{model.name}' is a {type(model).__name__}; {purpose} walks the layer graph of "
            "a functional model (keras.Model(inputs, outputs), what keras_mobile's builders return)."
        )


def graph_nodes(model, purpose="channel pruning"):
    """The model's layer calls in topological order (inputs first)."""
    nodes, seen = [], {}
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            layer, args, kwargs, outputs = node_call(node)
            kind = type(layer).__name__
            if isinstance(layer, keras.Model):
                raise ValueError(
                    f"layer '{layer.name}' of model '{model.name}' is a nested model; {purpose} needs a flat "
                    "functional model (rebuild it from the nested model's layers)."
                )
            if layer.name in seen:
                raise ValueError(
                    f"layer '{layer.name}' is called more than once in model '{model.name}'; {purpose} needs "
                    "every layer called once (a shared layer would have to keep the same channels everywhere)."
                )
            seen[layer.name] = layer
            inputs = tuple(tensor_key(t) for t in flatten((args, kwargs)) if _is_symbolic(t))
            if kind == "InputLayer":
                inputs = ()
            nodes.append(LayerNode(layer, layer.name, kind, inputs, tuple(tensor_key(t) for t in outputs), args, kwargs))
    return nodes

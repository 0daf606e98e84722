"""How much each channel class matters, by one of three criteria (``CRITERIA``).

* ``l1``: the L1 norm of the filters that make the channel (Li et al. 2017, "Pruning Filters for
  Efficient ConvNets"), each layer's norms divided by their mean (a 3x3 filter over 512 inputs is not
  comparable with a 1x1 over 16), averaged over the class's producers, then divided by the mean of its
  segment: filter norms say which channels of a layer matter, not which layer.
* ``bn_gamma``: |gamma| of the BatchNormalizations the channel passes (network slimming, Liu et al.
  2017), averaged, compared across the whole model as they are: with an L1 penalty on the gammas during
  training every gamma is pushed to zero by the same force, so one global threshold is meaningful.
  Segments that pass no BatchNormalization (squeeze-excite reductions, SqueezeNet) fall back to ``l1``,
  scaled to the model's mean |gamma|.
* ``taylor``: the first-order estimate of the loss change when the channel is removed (Molchanov et al.
  2019, "Importance Estimation for Neural Network Pruning"): per batch, the sum of ``weight * gradient``
  over the weights that read the channel (the input slices of every conv / dense layer that consumes
  it), squared, averaged over batches; global, like ``bn_gamma``. Needs labelled data and TensorFlow
  (tf_keras, or Keras 3 on the TensorFlow backend).
"""

import numpy as np

from keras_mobile import backend
from keras_mobile.compression.channel_graph import PRODUCERS
from keras_mobile.graph import flatten, model_structures, tensor_key
from keras_mobile.validation import fail

CRITERIA = ("l1", "bn_gamma", "taylor")
# Criteria whose scores are compared across segments as they are (no per-segment normalization).
GLOBAL_CRITERIA = ("bn_gamma", "taylor")


def numpy(variable):
    return np.asarray(variable.numpy() if hasattr(variable, "numpy") else variable, dtype=np.float64)


def _class_mean(graph, sums, counts, key, values):
    classes = graph.tensor_classes[key]
    np.add.at(sums, classes, values)
    np.add.at(counts, classes, 1)


def _filter_norms(node):
    """Per output channel: the L1 norm of the weights that make it (kernel and pointwise kernel only)."""
    layer = node.layer
    if node.kind == "SeparableConv2D":
        return np.abs(numpy(layer.pointwise_kernel)).sum(axis=(0, 1, 2))
    kernel = np.abs(numpy(layer.kernel))
    return kernel.sum(axis=tuple(range(kernel.ndim - 1)))


def l1_scores(graph):
    """Per class: mean over its producers of the layer-normalized filter L1 norm (NaN for fixed classes)."""
    sums, counts = np.zeros(graph.num_classes), np.zeros(graph.num_classes)
    for node in graph.nodes:
        if node.kind in PRODUCERS:
            norms = _filter_norms(node)
            mean = norms.mean()
            _class_mean(graph, sums, counts, node.outputs[0], norms / mean if mean > 0 else np.ones_like(norms))
    return _divide(sums, counts)


def bn_gamma_scores(graph):
    """Per class: mean |gamma| over the BatchNormalizations it passes (NaN where it passes none)."""
    sums, counts = np.zeros(graph.num_classes), np.zeros(graph.num_classes)
    for node in graph.nodes:
        if node.kind == "BatchNormalization" and getattr(node.layer, "gamma", None) is not None:
            _class_mean(graph, sums, counts, node.inputs[0], np.abs(numpy(node.layer.gamma)))
    return _divide(sums, counts)


def _divide(sums, counts):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


# --------------------------------------------------------------------------- taylor
def _consumers(graph):
    """``[(node, variable, reducer)]``: every layer that reads channels with weights, and how to sum
    ``weight * gradient`` of that variable to one value per input channel."""
    consumers = []
    for node in graph.nodes:
        layer = node.layer
        if node.kind == "Conv2D":
            groups = layer.groups

            def reduce(product, groups=groups):  # (kh, kw, in / g, out) -> (in,), group-major
                per_group = product.sum(axis=(0, 1)).reshape(product.shape[2], groups, -1).sum(axis=2)
                return per_group.T.reshape(-1)

            consumers.append((node, layer.kernel, reduce))
        elif node.kind == "SeparableConv2D":
            consumers.append((node, layer.depthwise_kernel, lambda p: p.sum(axis=(0, 1, 3))))
        elif node.kind == "Dense":
            consumers.append((node, layer.kernel, lambda p: p.sum(axis=1)))
    return consumers


def _loss_function(graph, outputs, labels):
    keras = backend.keras
    from_logits = not _ends_in_softmax(graph)
    if len(np.shape(labels)) == len(outputs.shape):
        return keras.losses.categorical_crossentropy(labels, outputs, from_logits=from_logits)
    return keras.losses.sparse_categorical_crossentropy(labels, outputs, from_logits=from_logits)


def _ends_in_softmax(graph):
    """True when the model outputs probabilities (its output is made by a softmax)."""
    _, outputs = model_structures(graph.model)
    maker = graph.node[tensor_key(flatten(outputs)[0])[0]]
    if maker.kind == "Softmax":
        return True
    return maker.kind == "Activation" and str(maker.layer.get_config().get("activation")) == "softmax"


def taylor_scores(graph, data, batches):
    """Per class: mean over batches of (sum of weight * gradient over the weights reading it) ** 2."""
    if backend.backend_name() != "tensorflow":
        fail("criterion", "taylor", f"'l1' or 'bn_gamma' on the {backend.backend_name()!r} backend (taylor takes "
                                    "gradients with TensorFlow: use tf_keras or KERAS_BACKEND=tensorflow)")
    import tensorflow as tf

    model = graph.model
    if len(model.outputs) != 1:
        fail("criterion", "taylor", f"'l1' or 'bn_gamma' for model '{model.name}' with {len(model.outputs)} outputs "
                                    "(taylor needs one classifier output)")
    consumers = _consumers(graph)
    variables = [variable for _, variable, _ in consumers]
    totals, used = np.zeros(graph.num_classes), 0
    try:
        iterator = iter(data)
    except TypeError:
        fail("data", type(data).__name__, "an iterable of (images, labels) batches, e.g. a tf.data.Dataset")
    for batch in iterator:
        if used == batches:
            break
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            fail("data", f"a batch of {type(batch).__name__}", "an iterable of (images, labels) batches")
        images, labels = batch[0], batch[1]
        with tf.GradientTape() as tape:
            outputs = model(images, training=False)
            loss = tf.reduce_mean(_loss_function(graph, outputs, labels))
        gradients = tape.gradient(loss, variables)
        per_class = np.zeros(graph.num_classes)
        for (node, variable, reduce), gradient in zip(consumers, gradients):
            if gradient is None:
                continue
            product = numpy(variable) * np.asarray(gradient, dtype=np.float64)
            np.add.at(per_class, graph.tensor_classes[node.inputs[0]], reduce(product))
        totals += per_class ** 2
        used += 1
    if used == 0:
        fail("data", "an empty iterable", "an iterable of at least one (images, labels) batch")
    return totals / used

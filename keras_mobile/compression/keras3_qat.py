"""Quantization-aware training on Keras 3 (any backend, no TF-MOT) and its full-integer TFLite.

    qat = quantize_model(model)               # a Keras 3 functional model -> a QAT model of stock layers
    qat.compile(...); qat.fit(...)            # TensorFlow, JAX or PyTorch backend
    int8 = convert_qat(qat)                   # full-integer TFLite bytes, builtin ops only (TensorFlow backend)

The QAT model is the float model's graph rebuilt (``keras_mobile.graph``) with the two layers of
``compression.fake_quant``, placed where the int8 TFLite graph has something to quantize:

* every ``Conv2D`` / ``DepthwiseConv2D`` / ``Dense`` becomes a ``QuantConv`` (int8 symmetric weights, per output
  channel; per tensor for Dense, whose per-channel axis the converter loses in the kernel's transpose), with the ``BatchNormalization`` after it folded in (frozen statistics, trainable gamma/beta),
  also a BatchNormalization after a concatenation of such convs (MixConv: one slice per branch); a
  ``SeparableConv2D`` becomes depthwise ``QuantConv`` -> ``FakeQuant`` -> pointwise ``QuantConv`` (BN
  folded into the pointwise part); the input ``Rescaling`` and a BatchNormalization with no conv before it
  become a frozen 1x1 depthwise ``QuantConv`` (an int8 per-channel affine, as the tf_keras path does), a
  VALID ``AveragePooling2D`` a frozen depthwise ``QuantConv`` with weights 1 / area (int8 AVERAGE_POOL_2D
  must keep its input's scale, so a concatenation after it would push its range back up the graph);
* a ``FakeQuant`` (per-tensor range, moving averages of batch min/max) follows every tensor the converter
  keeps: the model input, every conv (or its fused ReLU / ReLU6 when one follows), Add, Multiply,
  Concatenate (one range for the output; its inputs get none, so they take the output's scale),
  global average pooling, other activations (swish, hard-swish, ...) and the outputs; sigmoid and
  softmax get TFLite's fixed output range [0, 255/256]. None follows pure layout ops (Reshape, Flatten,
  ChannelShuffle, ChannelSplit, ZeroPadding2D, Dropout) nor max pooling (same scale in and out in int8),
  nor the inside of hard-swish's gate (the converter fuses it into one HARD_SWISH op).

The float model is not changed; its weights are copied.
"""

import re

import numpy as np

from keras_mobile import backend, tflite
from keras_mobile.tflite import check_full_integer
from keras_mobile.backend import keras, layers
from keras_mobile.compression.fake_quant import DEFAULT_MOMENTUM, SIGMOID_RANGE, FakeQuant, QuantConv
from keras_mobile.graph import check_functional, flatten, graph_nodes, map_structure, model_structures, tensor_key
from keras_mobile.validation import check_number

QAT_LAYERS = ("FakeQuant", "QuantConv")
_TFMOT_LAYERS = ("QuantizeWrapper", "QuantizeWrapperV2", "QuantizeLayer", "QuantizeAnnotate")
# Layers whose int8 kernel keeps its input's scale: no range of their own.
LAYOUT = (
    "Reshape", "Flatten", "Permute", "ChannelShuffle", "ChannelSplit", "ZeroPadding2D", "Cropping2D",
    "MaxPooling2D", "GlobalMaxPooling2D", "Dropout", "SpatialDropout2D", "GaussianDropout",
    "GaussianNoise", "Identity",
)
# Same scale in and out in int8 TFLite, yet an output range of their own here (a "same"-padded average pool).
SAME_SCALE = ("AveragePooling2D",)
WEIGHTED = ("Conv2D", "DepthwiseConv2D", "Dense", "SeparableConv2D", "BatchNormalization")
# Layers without weights that get an output range (anything else without weights gets one too).
_FOLDS_INTO = ("Conv2D", "DepthwiseConv2D", "Dense", "SeparableConv2D")
_FUSES_ACTIVATION = ("Conv2D", "DepthwiseConv2D", "Dense", "SeparableConv2D", "BatchNormalization", "Add")
_FIXED_RANGE_ACTIVATIONS = ("sigmoid", "softmax")


def is_quantized(model):
    """Whether ``model`` has fake-quant layers: this module's (``FakeQuant``, ``QuantConv``) or TF-MOT's."""
    names = {type(layer).__name__ for layer in getattr(model, "layers", ())}
    return bool(names & set(QAT_LAYERS + _TFMOT_LAYERS))


def _check_model(model, function):
    if backend.IS_LEGACY_KERAS:
        raise TypeError(
            f"{function}: keras_mobile runs on the tf_keras line here (TF_USE_LEGACY_KERAS=1); this is the Keras 3 "
            "QAT. For a tf_keras model use keras_mobile.compression.qat (TF-MOT)."
        )
    check_functional(model, function, purpose="quantization-aware training")
    if is_quantized(model):
        raise ValueError(
            f"{function}: model '{model.name}' is already quantized (has "
            f"{sorted({type(l).__name__ for l in model.layers} & set(QAT_LAYERS + _TFMOT_LAYERS))} layers); "
            "pass the float functional model it was made from."
        )


def _config(node):
    return node.layer.get_config()


def _activation_name(node):
    """The activation a ReLU / Activation / Softmax node computes (``relu``, ``relu6``, ``softmax``, ...), or None."""
    if node.kind == "ReLU":
        config = _config(node)
        if config.get("negative_slope", 0.0) or config.get("threshold", 0.0):
            return "leaky_relu"
        maximum = config.get("max_value")
        return "relu" if maximum is None else ("relu6" if float(maximum) == 6.0 else "relu_n")
    if node.kind == "Activation":
        activation = _config(node)["activation"]
        return activation if isinstance(activation, str) else getattr(activation, "__name__", str(activation))
    if node.kind == "Softmax":
        return "softmax"
    return None


def _linear(node):
    return _config(node).get("activation") in (None, "linear")


class _Plan:
    """What happens to each layer call of the float model, decided before anything is built."""

    def __init__(self, model, nodes):
        self.model, self.nodes = model, nodes
        self.by_output = {key: node for node in nodes for key in node.outputs}
        self.consumers = {}
        for node in nodes:
            for key in node.inputs:
                self.consumers.setdefault(key, []).append(node)
        self.model_outputs = {tensor_key(t) for t in flatten(model_structures(model)[1])}
        self._check_layers()
        self.folds = self._folds()  # conv name -> (BN layer, first channel, channels)
        self.folded_bn = {bn.name for bn, _, _ in self.folds.values()}
        self.gates = self._hard_swish_gates()  # names of the layers inside a hard-swish gate

    def _check_layers(self):
        odd = [f"{n.name} ({n.kind})" for n in self.nodes if n.layer.weights and n.kind not in WEIGHTED
               and not (n.kind == "Rescaling" and self._is_preprocessing(n))]
        odd += [f"{n.name} ({n.kind}, data_format channels_first)" for n in self.nodes
                if n.kind in WEIGHTED and _config(n).get("data_format", "channels_last") != "channels_last"]
        if odd:
            raise ValueError(
                f"quantize_model: model '{self.model.name}' has layers with weights this QAT does not quantize: {odd}; "
                f"accepted layers with weights: {list(WEIGHTED)} (channels_last), plus layers without weights."
            )

    def sole_consumer(self, key):
        users = self.consumers.get(key, [])
        return users[0] if len(users) == 1 and key not in self.model_outputs else None

    def _is_preprocessing(self, node):
        producer = self.by_output.get(node.inputs[0]) if node.inputs else None
        return node.kind == "Rescaling" and producer is not None and producer.kind == "InputLayer"

    def as_depthwise(self, node):
        """Whether ``node`` becomes a frozen depthwise conv: the input Rescaling (a 1x1 per-channel affine) and
        a VALID average pool (weights 1 / pool area: int8 AVERAGE_POOL_2D must keep its input's scale, so its
        consumer's range would reach back through it; a conv has a range of its own)."""
        if node.kind == "AveragePooling2D":
            config = _config(node)
            return config["padding"] == "valid" and config.get("data_format", "channels_last") == "channels_last"
        return self._is_preprocessing(node)

    def _foldable(self, node):
        return node is not None and node.kind in _FOLDS_INTO and len(node.outputs) == 1 and _linear(node)

    def _folds(self):
        folds = {}
        for node in self.nodes:
            if node.kind != "BatchNormalization" or _config(node)["axis"] not in (-1, 3, [3], [-1]):
                continue
            producer = self.by_output.get(node.inputs[0])
            if producer is None or self.sole_consumer(node.inputs[0]) is not node:
                continue
            if self._foldable(producer):
                folds[producer.name] = (node.layer, 0, int(node.layer.output.shape[-1]))
            elif producer.kind == "Concatenate" and _config(producer)["axis"] in (-1, 3):
                branches = [self.by_output.get(key) for key in producer.inputs]
                if all(self._foldable(b) and b.kind != "Dense" and self.sole_consumer(b.outputs[0]) is producer
                       for b in branches):
                    start = 0
                    for branch in branches:
                        width = int(branch.layer.output.shape[-1])
                        folds[branch.name] = (node.layer, start, width)
                        start += width
        return folds

    def _hard_swish_gates(self):
        """``Multiply([x, Rescaling(1/6)(ReLU6(Rescaling(offset=3)(x)))])``: the three gate layers' names."""
        gates = set()
        for node in self.nodes:
            if node.kind != "Multiply" or len(node.inputs) != 2:
                continue
            for x_key, gate_key in (node.inputs, node.inputs[::-1]):
                chain, key = [], gate_key
                for kind in ("Rescaling", "ReLU", "Rescaling"):
                    producer = self.by_output.get(key)
                    if producer is None or producer.kind != kind or self.sole_consumer(key) is None:
                        break
                    chain.append(producer)
                    key = producer.inputs[0]
                else:
                    scale, relu, shift = chain
                    if (key == x_key and _activation_name(relu) == "relu6"
                            and np.allclose(_config(shift)["offset"], 3.0) and np.allclose(_config(shift)["scale"], 1.0)
                            and np.allclose(_config(scale)["scale"], 1.0 / 6.0)
                            and np.allclose(_config(scale)["offset"], 0.0)):
                        gates |= {layer.name for layer in chain}
                        break
        return gates

    # ---- where the ranges go
    def _readers(self, key):
        """The nodes reading ``key``, looking through folded BatchNormalizations."""
        readers = []
        for node in self.consumers.get(key, []):
            if node.name in self.folded_bn:
                readers += self._readers(node.outputs[0])
            else:
                readers.append(node)
        return readers

    def _is_output(self, key):
        if key in self.model_outputs:
            return True
        return any(node.name in self.folded_bn and self._is_output(node.outputs[0]) for node in self.consumers.get(key, []))

    def output_range(self, node):
        """``None`` (no FakeQuant on ``node``'s outputs), ``"learned"`` or a fixed ``(low, high)``."""
        kind = node.kind
        if kind in LAYOUT or node.name in self.gates or node.name in self.folded_bn:
            return None
        activation = _activation_name(node)
        if activation in _FIXED_RANGE_ACTIVATIONS or (kind in _FOLDS_INTO and _config(node).get("activation") in
                                                      _FIXED_RANGE_ACTIVATIONS):
            return SIGMOID_RANGE
        if kind == "InputLayer" or any(self._is_output(key) for key in node.outputs):
            return "learned"
        readers = [r for key in node.outputs for r in self._readers(key)]
        if not readers:
            return None
        fuses = kind in _FUSES_ACTIVATION or self.as_depthwise(node)
        if kind in _FOLDS_INTO:
            fuses = _linear(node)
        if fuses:
            if len(readers) == 1 and _activation_name(readers[0]) in ("relu", "relu6"):
                return None  # TFLite fuses the ReLU into this op; the ReLU's output gets the range
        if all(r.kind == "Concatenate" for r in readers) and (kind not in SAME_SCALE or self.as_depthwise(node)):
            return None  # the concatenation's range is this tensor's too
        return "learned"


def _fresh_copy(layer):
    return type(layer).from_config(layer.get_config())


def _batch_norm_slice(bn, start, width, name):
    config = bn.get_config()
    config.update(name=name, axis=-1)
    layer = layers.BatchNormalization.from_config(config)
    weights = [w[start:start + width] for w in bn.get_weights()]
    return layer, weights


def _affine_depthwise(name, scale, offset, channels):
    """A frozen 1x1 depthwise conv computing ``x * scale + offset`` per channel, and its weights."""
    layer = layers.DepthwiseConv2D(1, use_bias=True, name=f"{name}_affine", trainable=False)
    scale = np.broadcast_to(np.asarray(scale, "float32").reshape(-1), (channels,))
    offset = np.broadcast_to(np.asarray(offset, "float32").reshape(-1), (channels,))
    return layer, [scale.reshape(1, 1, channels, 1).copy(), offset.copy()]


class _Builder:
    def __init__(self, plan, momentum):
        self.plan, self.momentum = plan, momentum
        self.pending = []  # (layer, weights) to set once the model is built

    def _quant_conv(self, layer, weights, fold, name=None):
        """A QuantConv over a fresh copy of ``layer`` with its weights, and the BN ``fold`` if any."""
        bn = None
        if fold is not None:
            source, start, width = fold
            full = start == 0 and width == int(source.output.shape[-1])
            bn, bn_weights = _batch_norm_slice(source, start, width, source.name if full else f"{source.name}_{start}")
            self.pending.append((bn, bn_weights))
        # Dense: one range for the kernel; TFLite's per-channel FULLY_CONNECTED axis is the transposed kernel's,
        # which the converter cannot carry through the transpose ("mismatched quantized axes").
        per_channel = type(layer).__name__ != "Dense"
        quant = QuantConv(layer, bn, per_channel=per_channel, name=name or layer.name)
        self.pending.append((layer, weights))
        return quant

    def _emit(self, node, args, kwargs):
        layer, kind, plan = node.layer, node.kind, self.plan
        fold = plan.folds.get(node.name)
        if kind in ("Conv2D", "DepthwiseConv2D", "Dense"):
            return self._quant_conv(_fresh_copy(layer), layer.get_weights(), fold)(*args, **kwargs)
        if kind == "SeparableConv2D":
            config = layer.get_config()
            weights = layer.get_weights()  # depthwise (h, w, C, M), pointwise (1, 1, C*M, F)[, bias]
            depthwise = layers.DepthwiseConv2D(
                config["kernel_size"], strides=config["strides"], padding=config["padding"],
                depth_multiplier=config["depth_multiplier"], dilation_rate=config["dilation_rate"], use_bias=False,
                name=f"{layer.name}_depthwise",
            )
            pointwise = layers.Conv2D(config["filters"], 1, use_bias=config["use_bias"], activation=config["activation"],
                                      name=f"{layer.name}_pointwise")
            x = self._quant_conv(depthwise, weights[:1], None)(*args, **kwargs)
            x = FakeQuant(self.momentum, name=f"{layer.name}_depthwise_fq")(x)
            return self._quant_conv(pointwise, weights[1:], fold, name=layer.name)(x)
        if kind == "BatchNormalization":  # nothing to fold into: a frozen per-channel affine
            channels = int(layer.output.shape[-1])
            depthwise = layers.DepthwiseConv2D(1, use_bias=False, name=f"{layer.name}_affine", trainable=False)
            ones = np.ones((1, 1, channels, 1), "float32")
            return self._quant_conv(depthwise, [ones], (layer, 0, channels), name=layer.name)(*args, **kwargs)
        if kind == "AveragePooling2D" and plan.as_depthwise(node):
            config = layer.get_config()
            channels = int(layer.output.shape[-1])
            depthwise = layers.DepthwiseConv2D(config["pool_size"], strides=config["strides"], padding="valid",
                                               use_bias=False, name=f"{layer.name}_mean", trainable=False)
            size = config["pool_size"]
            kernel = np.full((size[0], size[1], channels, 1), 1.0 / (size[0] * size[1]), "float32")
            return self._quant_conv(depthwise, [kernel], None, name=layer.name)(*args, **kwargs)
        if plan._is_preprocessing(node):
            config = layer.get_config()
            channels = int(layer.output.shape[-1])
            depthwise, weights = _affine_depthwise(layer.name, config["scale"], config["offset"], channels)
            return self._quant_conv(depthwise, weights, None, name=layer.name)(*args, **kwargs)
        new_layer = type(layer).from_config(layer.get_config())
        if layer.weights:
            self.pending.append((new_layer, layer.get_weights()))
        return new_layer(*args, **kwargs)

    def build(self):
        plan, tensors, model_inputs = self.plan, {}, {}
        for node in plan.nodes:
            if node.kind == "InputLayer":
                output = node.layer.output
                dtype = getattr(output.dtype, "name", output.dtype)
                outputs = [keras.Input(shape=tuple(output.shape[1:]), batch_size=output.shape[0], name=node.name,
                                       dtype=dtype)]
                model_inputs[node.outputs[0]] = outputs[0]
            elif node.name in plan.folded_bn:
                tensors[node.outputs[0]] = tensors[node.inputs[0]]
                continue
            else:
                args, kwargs = map_structure(
                    lambda value: tensors[tensor_key(value)] if hasattr(value, "_keras_history") else value,
                    (list(node.call_args), dict(node.call_kwargs)),
                )
                outputs = flatten(self._emit(node, args, kwargs))
            fixed = plan.output_range(node)
            if fixed is not None:
                suffix = ["_fq"] if len(outputs) == 1 else [f"_fq{i}" for i in range(len(outputs))]
                outputs = [
                    FakeQuant(self.momentum, fixed_range=None if fixed == "learned" else fixed, name=f"{node.name}{s}")(t)
                    for t, s in zip(outputs, suffix)
                ]
            for key, tensor in zip(node.outputs, outputs):
                tensors[key] = tensor
        for layer, weights in self.pending:
            layer.set_weights([np.asarray(w, dtype="float32") for w in weights])
        inputs, outputs = model_structures(plan.model)
        return keras.Model(map_structure(lambda t: model_inputs[tensor_key(t)], inputs),
                           map_structure(lambda t: tensors[tensor_key(t)], outputs), name=plan.model.name)


def quantize_model(model, momentum=DEFAULT_MOMENTUM):
    """A QAT copy of the Keras 3 functional ``model``: stock layers plus ``FakeQuant`` / ``QuantConv``.

    momentum: decay of the activation ranges' moving averages (TF-MOT's 0.999).

    Works on every backend; the result is uncompiled: compile and fine-tune it (small learning rate), then
    ``convert_qat`` on the TensorFlow backend. Ranges start at [-6, 6] and are set by the first training
    batch, so train (or at least run ``fit`` on a few batches) before converting.
    """
    _check_model(model, "quantize_model")
    momentum = check_number("momentum", momentum, 0.0, 1.0, high_open=True)
    plan = _Plan(model, graph_nodes(model, purpose="quantize_model"))
    return _Builder(plan, momentum).build()


# --------------------------------------------------------------------------- conversion
def _layers_in(names, model):
    """The model's layers named by TensorFlow node / TFLite tensor names (``model_1/stem_conv_1/Conv2D``)."""
    layer_names = {layer.name for layer in model.layers}
    found = []
    for name in names:
        for part in re.split(r"[/;]", name):
            for candidate in (part, re.sub(r"_\d+$", "", part)):
                if candidate in layer_names and candidate not in found:
                    found.append(candidate)
                    break
    return found


def convert_qat(model, resolution=None, io_dtype="int8", check=True):
    """Full-integer TFLite bytes of a QAT model from ``quantize_model``: builtin ops only, int8 (or uint8) io.

    Needs the TensorFlow backend (the graph is traced with its variables frozen). The ranges come from the
    model's fake-quant layers: no representative data. A layer the converter can only run as a Flex
    (SELECT_TF_OPS) or custom op raises ValueError naming the op and the layer; so does a float tensor left in
    the graph (``check``: builtin ops, <= 4-D, no float32 tensor).
    """
    if not is_quantized(model) or not any(type(l).__name__ in QAT_LAYERS for l in model.layers):
        raise ValueError(
            f"convert_qat: model '{getattr(model, 'name', model)}' has no FakeQuant / QuantConv layers; "
            "make it with quantize_model(...) first, or use ptq_int8(...) for post-training quantization."
        )
    if io_dtype not in tflite.IO_DTYPES:
        raise ValueError(f"io_dtype={io_dtype!r} is not supported; accepted values: {list(tflite.IO_DTYPES)}.")
    tflite.require_tensorflow(model)
    import tensorflow as tf

    shape = tflite.input_shape(model, resolution)
    frozen = tflite.frozen_function(model, shape)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.inference_input_type = getattr(tf, io_dtype)
    converter.inference_output_type = getattr(tf, io_dtype)
    try:
        content = converter.convert()
    except Exception as error:  # ConverterError: the ops it could not lower to builtins
        text = str(error)
        ops = sorted(set(re.findall(r"'tf\.([A-Za-z0-9_]+)' op is neither a custom op nor a flex op", text)))
        if not ops:
            raise
        nodes = [node.name for node in frozen.graph.as_graph_def().node if node.op in ops]
        raise ValueError(
            f"convert_qat: model '{model.name}' needs TensorFlow ops TFLite has no builtin for: {ops}, from layers "
            f"{_layers_in(nodes, model)}; only builtin ops are accepted (no Flex / SELECT_TF_OPS, no custom ops)."
        ) from error
    if check:
        label = f"QAT int8 model '{model.name}'"
        try:
            check_full_integer(content, label)
        except ValueError as error:
            plain = tflite.interpreter(content, delegates=False)
            floats = [t["name"] for t in plain.get_tensor_details() if np.dtype(t["dtype"]) == np.float32]
            where = _layers_in(floats, model)
            raise ValueError(f"{error} Layers involved: {where or 'unknown'}.") from error
    return content

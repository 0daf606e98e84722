"""Keras 3 fake-quantization layers for quantization-aware training on any backend (no TF-MOT).

Both layers are built on ``keras.quantizers.fake_quant_with_min_max_vars``: on the TensorFlow backend it
emits ``FakeQuantWithMinMaxVars(PerChannel)`` ops, which the TFLite converter turns into int8 kernels and
tensor scales; on JAX and PyTorch it is Keras' own straight-through estimator (the gradient passes
inside the range and is zero outside it).

* ``FakeQuant``: an activation's per-tensor asymmetric 8-bit range ``[min, max]`` (always containing
  0), learned by an exponential moving average of the batch min / max in training (the first training
  batch sets it), frozen at inference. ``fixed_range`` pins it instead (sigmoid / softmax outputs: TFLite's
  fixed int8 output scale 1/256).
* ``QuantConv``: a stock ``Conv2D`` / ``DepthwiseConv2D`` / ``Dense`` (a sublayer holding the kernel and
  bias) with an optional stock ``BatchNormalization`` folded in (a sublayer holding gamma, beta and the
  moving statistics, never called, so the statistics stay frozen). It computes what the int8 kernel
  computes: ``op(x, fq(kernel * s)) + (bias - mean) * s + beta`` with ``s = gamma / sqrt(var + eps)``,
  the folded kernel fake-quantized int8 symmetric narrow-range ([-127, 127]) per output channel
  (per tensor for a ``Dense`` with ``per_channel=False``), then the sublayer's own activation.
"""

from keras_mobile.backend import keras, register_serializable


NUM_BITS = 8
DEFAULT_MOMENTUM = 0.999  # TF-MOT's moving-average decay for activation ranges
INITIAL_RANGE = (-6.0, 6.0)  # TF-MOT's initial activation range, used until the first training batch
SIGMOID_RANGE = (0.0, 255.0 / 256.0)  # int8 LOGISTIC / SOFTMAX output: scale 1/256, zero point -128
QUANT_KINDS = ("Conv2D", "DepthwiseConv2D", "Dense")
_MIN_WIDTH = 1e-6  # a range never collapses to a point (the fake-quant op divides by its width)


def fake_quant_weights(kernel, per_channel=True):
    """``kernel`` fake-quantized int8 symmetric narrow-range, per channel of its last axis or per tensor.

    The range is ``[-max|w|, max|w|]`` of the current (folded) kernel, outside the gradient: the kernel
    gets the straight-through gradient, as in TF-MOT's ``LastValueQuantizer``.
    """
    magnitude = keras.ops.abs(keras.ops.stop_gradient(kernel))
    if per_channel:
        bound = keras.ops.max(keras.ops.reshape(magnitude, (-1, kernel.shape[-1])), axis=0)
    else:
        bound = keras.ops.max(magnitude)
    bound = keras.ops.maximum(bound, _MIN_WIDTH)
    return keras.quantizers.fake_quant_with_min_max_vars(
        kernel, -bound, bound, num_bits=NUM_BITS, narrow_range=True, axis=-1 if per_channel else None
    )


@register_serializable("FakeQuant")
class FakeQuant(keras.layers.Layer):
    """Per-tensor asymmetric 8-bit fake quantization of an activation (see the module docstring).

    momentum: the moving average's decay for ``min`` / ``max`` (0.999, TF-MOT's).
    fixed_range: ``(low, high)`` to use instead of a learned range, or None.
    """

    def __init__(self, momentum=DEFAULT_MOMENTUM, fixed_range=None, **kwargs):
        super().__init__(**kwargs)
        momentum = float(momentum)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"FakeQuant '{self.name}': momentum={momentum!r} is not supported; accepted values: [0, 1).")
        if fixed_range is not None:
            fixed_range = tuple(float(v) for v in fixed_range)
            if len(fixed_range) != 2 or not fixed_range[0] <= 0.0 <= fixed_range[1] or fixed_range[0] == fixed_range[1]:
                raise ValueError(
                    f"FakeQuant '{self.name}': fixed_range={fixed_range!r} is not supported; accepted values: None "
                    "or (low, high) with low <= 0 <= high and low < high."
                )
        self.momentum = momentum
        self.fixed_range = fixed_range
        self.supports_masking = True

    def build(self, input_shape):
        low, high = self.fixed_range or INITIAL_RANGE
        constant = keras.initializers.Constant
        self.min_value = self.add_weight(name="min", shape=(), initializer=constant(low), trainable=False)
        self.max_value = self.add_weight(name="max", shape=(), initializer=constant(high), trainable=False)
        # How many training batches have updated the range (0: the first one sets it).
        self.updates = self.add_weight(name="updates", shape=(), initializer="zeros", trainable=False)
        self.built = True

    def call(self, inputs, training=False):
        low, high = self.min_value, self.max_value
        if training and self.fixed_range is None:
            observed = keras.ops.stop_gradient(keras.ops.cast(inputs, "float32"))
            batch_low = keras.ops.minimum(keras.ops.min(observed), 0.0)
            batch_high = keras.ops.maximum(keras.ops.max(observed), 0.0)
            keep = keras.ops.where(keras.ops.equal(self.updates, 0.0), 0.0, self.momentum)
            low = keep * self.min_value + (1.0 - keep) * batch_low
            high = keras.ops.maximum(keep * self.max_value + (1.0 - keep) * batch_high, low + _MIN_WIDTH)
            self.min_value.assign(low)
            self.max_value.assign(high)
            self.updates.assign(self.updates + 1.0)
        return keras.quantizers.fake_quant_with_min_max_vars(inputs, low, high, num_bits=NUM_BITS, narrow_range=False)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "fixed_range": self.fixed_range}


def _layer(value):
    if isinstance(value, dict):
        return keras.saving.deserialize_keras_object(value)
    return value


@register_serializable("QuantConv")
class QuantConv(keras.layers.Layer):
    """A stock conv / dense layer with its BatchNormalization folded in and int8 fake-quantized weights.

    layer: a ``Conv2D``, ``DepthwiseConv2D`` or ``Dense`` (or its serialized config); its weights are used,
        its ``call`` is not.
    batch_norm: a ``BatchNormalization`` over the layer's output channels (or its config), or None. Its
        gamma / beta train; its moving statistics stay frozen (it is never called).
    per_channel: per-output-channel weight ranges (the only choice for convolutions); False gives a
        ``Dense`` one per-tensor range.
    """

    def __init__(self, layer, batch_norm=None, per_channel=True, **kwargs):
        layer, batch_norm = _layer(layer), _layer(batch_norm)
        kind = type(layer).__name__
        if kind not in QUANT_KINDS:
            raise ValueError(f"QuantConv: layer '{layer.name}' is a {kind}; accepted layers: {list(QUANT_KINDS)}.")
        if batch_norm is not None and type(batch_norm).__name__ != "BatchNormalization":
            raise ValueError(
                f"QuantConv: batch_norm '{batch_norm.name}' is a {type(batch_norm).__name__}; accepted: a "
                "BatchNormalization or None."
            )
        if kind != "Dense" and not per_channel:
            raise ValueError(f"QuantConv '{layer.name}': per_channel=False is accepted for Dense layers only.")
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            raise ValueError(f"QuantConv '{layer.name}': only channels_last layers are supported.")
        kwargs.setdefault("name", layer.name)
        super().__init__(**kwargs)
        self.kind = kind
        self.layer = layer
        self.batch_norm = batch_norm
        self.per_channel = bool(per_channel)

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)
        if self.batch_norm is not None and not self.batch_norm.built:
            self.batch_norm.build(self.layer.compute_output_shape(input_shape))
        self.built = True

    def folded(self):
        """The kernel and bias (or None) of the layer with the BatchNormalization folded in, as the int8 graph has them."""
        kernel = self.layer.kernel
        bias = self.layer.bias if self.layer.use_bias else None
        norm = self.batch_norm
        if norm is None:
            return kernel, bias
        variance = keras.ops.cast(norm.moving_variance, kernel.dtype)
        mean = keras.ops.cast(norm.moving_mean, kernel.dtype)
        scale = keras.ops.rsqrt(variance + norm.epsilon)
        if norm.scale:
            scale = scale * norm.gamma
        shift = (bias - mean) * scale if bias is not None else -mean * scale
        if norm.center:
            shift = shift + norm.beta
        if self.kind == "DepthwiseConv2D":  # (h, w, C, M): output channel c * M + m
            scale = keras.ops.reshape(scale, kernel.shape[2:])
        return kernel * scale, shift

    def quantized_kernel(self):
        """The folded kernel, fake-quantized per output channel (TFLite's axis: ``C * M`` for depthwise)."""
        kernel, _ = self.folded()
        if self.kind != "DepthwiseConv2D":
            return fake_quant_weights(kernel, self.per_channel)
        height, width, channels, multiplier = kernel.shape
        flat = keras.ops.reshape(kernel, (height, width, 1, channels * multiplier))
        return keras.ops.reshape(fake_quant_weights(flat), kernel.shape)

    def call(self, inputs):
        _, bias = self.folded()
        kernel = self.quantized_kernel()
        layer = self.layer
        if self.kind == "Conv2D":
            outputs = layer.convolution_op(inputs, kernel)
        elif self.kind == "DepthwiseConv2D":
            outputs = keras.ops.depthwise_conv(
                inputs, kernel, strides=layer.strides, padding=layer.padding, data_format=layer.data_format,
                dilation_rate=layer.dilation_rate,
            )
        else:
            outputs = keras.ops.matmul(inputs, kernel)
        if bias is not None:
            outputs = keras.ops.add(outputs, bias)
        if layer.activation is not None:
            outputs = layer.activation(outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            layer=keras.saving.serialize_keras_object(self.layer),
            batch_norm=None if self.batch_norm is None else keras.saving.serialize_keras_object(self.batch_norm),
            per_channel=self.per_channel,
        )
        return config

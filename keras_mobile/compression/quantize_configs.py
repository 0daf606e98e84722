"""TF-MOT quantize configs for the layers and block patterns TF-MOT does not cover.

TF-MOT's default 8-bit scheme knows stock layers such as Conv2D, DepthwiseConv2D,
Dense, ReLU, Add, Concatenate, pooling and Activation('relu'/'swish'/'sigmoid'/
'softmax'); it folds Conv -> BatchNormalization [-> ReLU] (no fake-quant between
them; TFLite folds the BN into the conv), and rewrites SeparableConv2D into
depthwise + pointwise. Everything else fails ``quantize_model`` with "Layer ... is
not supported". keras_mobile's graphs need the configs below; each says where the
int8 graph needs a quantization range (a fake-quant on the layer's output) and
where it must not have one.

=====================================  ==========================================  =============================
pattern (block)                         layers                                       config
=====================================  ==========================================  =============================
input preprocessing                     Rescaling(1/127.5, offset=-1)                 ``RescalingQuantizeConfig``
hard-sigmoid (MobileNetV3, SE gates)    Rescaling(1/6, offset=0.5) -> ReLU(1)         Rescaling: output range
hard-swish (MobileNetV3)                ... -> Multiply([x, hard_sigmoid(x)])         ``MultiplyQuantizeConfig``
squeeze-excite (V3, MixNet, ReXNet)     GAP -> Conv -> act -> Conv -> gate -> Multiply  Multiply: output range
channel shuffle (ShuffleNetV1/V2)       ChannelShuffle (reshape-transpose-reshape)    ``ChannelShuffleQuantizeConfig``
channel split (V2, MixNet, ReXNet,      ChannelSplit (SPLIT / SPLIT_V)                ``ChannelSplitQuantizeConfig``
MobileNeXt partial residual)
mixed-kernel depthwise (MixNet)         split -> dw convs -> Concatenate -> BN        BN: ``BatchNormQuantizeConfig``
sandglass / linear bottleneck           conv-BN pairs, split -> Add -> Concatenate    TF-MOT's own (fold, concat)
=====================================  ==========================================  =============================

* Output-range configs (Rescaling, Multiply, a BatchNormalization that does not
  follow a conv) add one moving-average 8-bit fake-quant on the output: these are
  real arithmetic ops in the int8 graph (MUL/ADD) whose outputs need a scale.
* Pass-through configs (ChannelShuffle, ChannelSplit) add nothing: RESHAPE,
  TRANSPOSE and SPLIT keep the input's scale and zero point in int8 TFLite, so a
  fake-quant there would only add rounding error.
* A sigmoid gate (``Activation('sigmoid')``) keeps TF-MOT's own config (no
  fake-quant): int8 LOGISTIC has the fixed output scale 1/256.

Each ``quantize_config_for`` call returns a new instance, because TF-MOT's
Concatenate transform disables output quantization of a concat's inputs by
mutating their config objects.
"""

from keras_mobile.compression._require import import_tfmot

_tfmot = import_tfmot()
QuantizeConfig = _tfmot.quantization.keras.QuantizeConfig
_quantizers = _tfmot.quantization.keras.quantizers


def _activation_quantizer():
    """TF-MOT's default 8-bit activation quantizer (asymmetric, per-tensor, moving average)."""
    return _quantizers.MovingAverageQuantizer(num_bits=8, per_axis=False, symmetric=False, narrow_range=False)


class OutputQuantizeConfig(QuantizeConfig):
    """No weights to quantize; a fake-quant on the output (unless ``quantize_output=False``)."""

    def __init__(self, quantize_output=True):
        self.quantize_output = bool(quantize_output)

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return [_activation_quantizer()] if self.quantize_output else []

    def get_config(self):
        return {"quantize_output": self.quantize_output}

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __ne__(self, other):
        return not self.__eq__(other)


class PassThroughQuantizeConfig(OutputQuantizeConfig):
    """Pure data movement: nothing quantized, the int8 op reuses its input's scale."""

    def __init__(self, quantize_output=False):
        super().__init__(quantize_output)


class RescalingQuantizeConfig(OutputQuantizeConfig):
    """``Rescaling``: input preprocessing, and the affine half of hard-sigmoid (MUL + ADD in TFLite)."""


class MultiplyQuantizeConfig(OutputQuantizeConfig):
    """``Multiply``: the squeeze-excite scale and hard-swish's ``x * hard_sigmoid(x)`` (int8 MUL)."""


class BatchNormQuantizeConfig(OutputQuantizeConfig):
    """A ``BatchNormalization`` with no conv before it to fold into (MixNet: after the mixed-kernel concat).

    TFLite runs it as an int8 per-channel MUL + ADD; the output gets a range.
    """


class ChannelShuffleQuantizeConfig(PassThroughQuantizeConfig):
    """``ChannelShuffle``: RESHAPE -> TRANSPOSE -> RESHAPE, all scale-preserving."""


class ChannelSplitQuantizeConfig(PassThroughQuantizeConfig):
    """``ChannelSplit``: SPLIT / SPLIT_V, scale-preserving (outputs share the input's scale)."""


# Layer class name -> config class, for layers TF-MOT's default registry does not support.
LAYER_QUANTIZE_CONFIGS = {
    "Rescaling": RescalingQuantizeConfig,
    "Multiply": MultiplyQuantizeConfig,
    "ChannelShuffle": ChannelShuffleQuantizeConfig,
    "ChannelSplit": ChannelSplitQuantizeConfig,
}

CONFIG_CLASSES = (
    OutputQuantizeConfig,
    PassThroughQuantizeConfig,
    RescalingQuantizeConfig,
    MultiplyQuantizeConfig,
    BatchNormQuantizeConfig,
    ChannelShuffleQuantizeConfig,
    ChannelSplitQuantizeConfig,
)

_FOLDING_PRODUCERS = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D")


def _producer(layer):
    """The layer feeding ``layer`` (first inbound node, first input), or None."""
    nodes = getattr(layer, "_inbound_nodes", None) or []
    if not nodes:
        return None
    inbound = nodes[0].inbound_layers
    if isinstance(inbound, (list, tuple)):
        return inbound[0] if inbound else None
    return inbound


def quantize_config_for(layer):
    """A new keras_mobile QuantizeConfig for ``layer``, or None where TF-MOT's own handling applies.

    A BatchNormalization gets one only when it does not directly follow a conv
    (which TF-MOT folds it into).
    """
    name = type(layer).__name__
    if name in LAYER_QUANTIZE_CONFIGS:
        return LAYER_QUANTIZE_CONFIGS[name]()
    if name == "BatchNormalization":
        producer = _producer(layer)
        if producer is None or type(producer).__name__ not in _FOLDING_PRODUCERS:
            return BatchNormQuantizeConfig()
    return None


def custom_objects():
    """Names TF-MOT needs to rebuild quantized keras_mobile models (configs and custom layers)."""
    from keras_mobile.layers import ChannelShuffle, ChannelSplit

    objects = {cls.__name__: cls for cls in CONFIG_CLASSES}
    objects.update({"ChannelShuffle": ChannelShuffle, "ChannelSplit": ChannelSplit})
    return objects

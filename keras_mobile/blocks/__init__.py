"""The block library: functions ``x -> x`` that emit stock Keras layers."""

from keras_mobile.blocks.conv import (  # noqa: F401
    ACTIVATIONS,
    TF_STYLE,
    TORCH_STYLE,
    ConvStyle,
    activation,
    batch_norm,
    conv,
    conv_bn_act,
    depthwise_bn_act,
    partial_residual_add,
    squeeze_excite,
)
from keras_mobile.blocks.mobile import depthwise_separable, inverted_residual, mixed_depthwise  # noqa: F401

"""SqueezeNet's Fire module (Iandola et al. 2016, "SqueezeNet", Sec. 3.2, Fig. 2).

As torchvision's ``Fire``: every conv has a bias and is followed by ReLU, with
no batch normalisation (the reference has none).
"""

from keras_mobile.backend import layers
from keras_mobile.blocks.conv import TORCH_STYLE, activation, conv


def fire(x, squeeze, expand1x1, expand3x3, style=TORCH_STYLE, name=None):
    """squeeze 1x1 -> ReLU, then concat([expand 1x1 -> ReLU, expand 3x3 -> ReLU]).

    Layers: ``{name}_squeeze_conv`` / ``_squeeze_act``, ``{name}_expand1x1_conv``
    / ``_expand1x1_act``, ``{name}_expand3x3_conv`` / ``_expand3x3_act`` (padded
    by 1 under symmetric padding, ``{name}_expand3x3_pad``) and
    ``{name}_concat`` (1x1 branch first, as in the reference).
    """
    x = conv(x, squeeze, 1, style=style, use_bias=True, name=f"{name}_squeeze")
    x = activation(x, "relu", f"{name}_squeeze_act")
    left = conv(x, expand1x1, 1, style=style, use_bias=True, name=f"{name}_expand1x1")
    left = activation(left, "relu", f"{name}_expand1x1_act")
    right = conv(x, expand3x3, 3, style=style, use_bias=True, name=f"{name}_expand3x3")
    right = activation(right, "relu", f"{name}_expand3x3_act")
    return layers.Concatenate(name=f"{name}_concat")([left, right])

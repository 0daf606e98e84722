"""Channel arithmetic shared by every family: rounding and width scaling."""


def make_divisible(value, divisor=8, min_value=None, round_limit=0.9):
    """Round ``value`` to the nearest multiple of ``divisor``, never below ``min_value``.

    The rule of TF-slim's MobileNet (``_make_divisible``), used by MobileNetV2/V3,
    MixNet, MobileNeXt and ReXNet: if rounding loses more than ``1 - round_limit``
    of ``value``, one more ``divisor`` is added.
    """
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < round_limit * value:
        rounded += divisor
    return rounded


def split_channels(channels, num_groups):
    """Split ``channels`` into ``num_groups`` near-equal parts, the remainder to the first.

    MixConv's channel partition (Tan & Le 2019; timm ``_split_channels``).
    """
    sizes = [channels // num_groups] * num_groups
    sizes[0] += channels - sum(sizes)
    return sizes

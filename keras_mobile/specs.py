"""Typed block specs for table-driven families, and a compact string form.

A family is a table of ``BlockSpec`` rows (one row = one stage of repeated
blocks), e.g. MobileNetV2's Table 1 row "t=6, c=24, n=2, s=2" is
``parse("ir_r2_k3_s2_e6_c24")``. String grammar (underscore-separated, any
order after the block type):

  block type  one of ``BLOCK_TYPES`` (the builder emits each with its block function):
              ``dsa`` depthwise-separable with an activated pointwise conv (MobileNetV1),
              ``ds``  depthwise-separable with a linear pointwise conv (MobileNetV2's first block),
              ``ir``  inverted residual (MobileNetV2/V3, MixNet),
              ``sg``  sandglass (MobileNeXt), ``lb`` linear bottleneck (ReXNet)
  r<int>      repeats                          (default 1)
  k<int>[.<int>...]  kernel size; several = mixed-kernel depthwise (MixConv)
  s<int>      stride of the first block (1 or 2)
  e<float>    expansion ratio, or a ratio of ints such as e88/24 (``ir`` / ``lb``; default 1)
  t<int>      reduction ratio of a sandglass (``sg`` only; hidden width = input width // t)
  c<int>      output channels before width scaling
  se<float>   squeeze-excite ratio             (default 0: none)
  a<int>      groups of the expansion 1x1 conv (default 1)
  p<int>      groups of the projection 1x1 conv (default 1)
  n<act>      activation: nrelu, nrelu6, nswish, nhswish (default: the family's)
"""

import dataclasses
import re
from typing import Optional, Tuple

from keras_mobile import validation
from keras_mobile.blocks.conv import ACTIVATIONS

BLOCK_TYPES = ("dsa", "ds", "ir", "sg", "lb")
_EXPANDING = ("ir", "lb")  # the block types with an expansion ratio
_ACT_CODES = {"relu": "relu", "relu6": "relu6", "swish": "swish", "hswish": "hard_swish"}


@dataclasses.dataclass(frozen=True)
class BlockSpec:
    """One stage of identical blocks (the first may have stride 2).

    ``continues``: the row's blocks continue the previous row's stage (their
    layers are named ``stage{i}_block{j}`` with the previous row's ``i``);
    ReXNet's per-block widths are written this way.
    """

    block: str
    filters: int
    repeats: int = 1
    kernel_size: Tuple[int, ...] = (3,)
    stride: int = 1
    expansion: float = 1.0
    se_ratio: float = 0.0
    act: Optional[str] = None
    expand_groups: int = 1
    project_groups: int = 1
    reduction: int = 1
    continues: bool = False

    def __post_init__(self):
        def fail(field, accepted):
            validation.fail(f"BlockSpec.{field}", getattr(self, field), f"{accepted} (in {self})")

        if self.block not in BLOCK_TYPES:
            fail("block", f"one of {list(BLOCK_TYPES)}")
        for field in ("filters", "repeats", "expand_groups", "project_groups", "reduction"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                fail(field, "a positive int")
        if isinstance(self.kernel_size, int):
            object.__setattr__(self, "kernel_size", (self.kernel_size,))
        if not self.kernel_size or any(
            not isinstance(k, int) or k < 1 or k % 2 == 0 for k in self.kernel_size
        ):
            fail("kernel_size", "a non-empty tuple of odd positive ints")
        if self.stride not in (1, 2):
            fail("stride", "1 or 2")
        if not self.expansion >= 1.0:
            fail("expansion", "a number >= 1")
        if self.block not in _EXPANDING and self.expansion != 1.0:
            fail("expansion", f"1 for a {self.block!r} block (only {_EXPANDING} expand)")
        if self.block != "sg" and self.reduction != 1:
            fail("reduction", f"1 for a {self.block!r} block (only 'sg' reduces)")
        if not isinstance(self.continues, bool):
            fail("continues", "True or False")
        if not 0.0 <= self.se_ratio < 1.0:
            fail("se_ratio", "in [0, 1)")
        if self.act is not None and self.act not in ACTIVATIONS:
            fail("act", f"None or one of {ACTIVATIONS}")


_TOKEN = re.compile(r"^(se|r|k|s|e|t|c|a|p|n)(.+)$")


def parse(text):
    """Parse ``"ir_r2_k3_s2_e6_c24"``-style strings into a ``BlockSpec``."""
    block, *tokens = text.split("_")
    fields = {"block": block}
    for token in tokens:
        match = _TOKEN.match(token)
        if not match:
            raise ValueError(f"Block string {text!r}: cannot read token {token!r}.")
        key, value = match.groups()
        try:
            if key == "r":
                fields["repeats"] = int(value)
            elif key == "k":
                fields["kernel_size"] = tuple(int(k) for k in value.split("."))
            elif key == "s":
                fields["stride"] = int(value)
            elif key == "e":
                numerator, _, denominator = value.partition("/")
                fields["expansion"] = float(numerator) / (float(denominator) if denominator else 1.0)
            elif key == "t":
                fields["reduction"] = int(value)
            elif key == "c":
                fields["filters"] = int(value)
            elif key == "se":
                fields["se_ratio"] = float(value)
            elif key == "a":
                fields["expand_groups"] = int(value)
            elif key == "p":
                fields["project_groups"] = int(value)
            elif key == "n":
                if value not in _ACT_CODES:
                    raise ValueError(f"activation code must be one of {sorted(_ACT_CODES)}")
                fields["act"] = _ACT_CODES[value]
        except ValueError as error:
            raise ValueError(f"Block string {text!r}, token {token!r}: {error}") from None
    if "filters" not in fields:
        raise ValueError(f"Block string {text!r} has no c<channels> token.")
    return BlockSpec(**fields)


def parse_table(rows):
    """Parse a list of block strings (one per stage) into a tuple of ``BlockSpec``."""
    return tuple(parse(row) for row in rows)

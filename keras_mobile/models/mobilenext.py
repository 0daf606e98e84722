"""MobileNeXt (Zhou et al. 2020, "Rethinking Bottleneck Structure for Efficient
Mobile Network Design", Table 1) built from sandglass blocks.

Reference: yitu-opensource/MobileNeXt ``mobilenext/codebase/models/mnext.py``
(commit 94ac67d), ``MXNet(width_mult)`` with ``SGBlock``:

- widths ``make_divisible(c * alpha, 8)`` (divisor 4 at alpha 0.1), except the
  last stage, which stays 1280 for alpha < 1; stem ``make_divisible(32 * alpha, 8)``;
- ``t`` in the table is a *reduction*: hidden width ``in // t``, raised to
  ``make_divisible(ceil(out / 6), 16)`` when below ``out / 6``;
- the first block of a stage takes one of the official code's four shapes
  (see ``blocks.sandglass.sandglass_layout``); only repeated equal-width
  blocks carry a residual;
- no final 1x1 conv: pool -> dropout 0.2 -> dense; ReLU6; PyTorch padding and
  BN (eps 1e-5).

``identity_tensor_multiplier`` (paper Sec. 3.3) adds each residual to only the
first ``round(C * m)`` channels (the rest pass through as the block output);
the paper's suggested value is 0.5. It changes neither parameters nor
Mult-Adds. The official code hard-codes the full residual (m = 1.0, the
default here), so only the default reproduces the official network.

| variant | params | Mult-Adds (224) |
|---|---|---|
| mobilenext_035 | 1,913,976 | 75.1M |
| mobilenext_050 | 2,152,304 | 103.3M |
| mobilenext_075 | 2,766,168 | 207.9M |
| mobilenext_100 | 3,535,416 | 311.3M |
| mobilenext_140 | 6,126,168 | 588.3M |
"""

from keras_mobile.blocks.conv import TORCH_STYLE, conv_bn_act
from keras_mobile.blocks.sandglass import identity_channels
from keras_mobile.builder import BlockRules, FeatureMaps, build_stages, model_builder, pooled_dense_top
from keras_mobile.channels import make_divisible
from keras_mobile.registry import register_variants
from keras_mobile.specs import parse_table
from keras_mobile.validation import check_number

NORMALIZATION = "imagenet"  # the reference was trained on ImageNet mean / std input (timm / torchvision / official code)

# Table 1 as in the official mnext.py ``cfgs`` (t = reduction, c, n, s).
TABLE = parse_table([
    "sg_r1_s2_t2_c96",
    "sg_r1_s1_t6_c144",
    "sg_r3_s2_t6_c192",
    "sg_r3_s2_t6_c288",
    "sg_r4_s1_t6_c384",
    "sg_r4_s2_t6_c576",
    "sg_r3_s1_t6_c960",
    "sg_r1_s1_t6_c1280",
])
ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.4)
SOURCE = "yitu-opensource/MobileNeXt mobilenext/codebase/models/mnext.py @94ac67d (MXNet), counted at 224 px"


def round_filters(channels, alpha):
    """``MXNet(width_mult=alpha)``'s widths: divisor 4 at alpha 0.1, else 8; the 1280 stage unscaled below 1."""
    if channels == 1280 and alpha < 1.0:
        return 1280
    return make_divisible(channels * alpha, 4 if alpha == 0.1 else 8)


@model_builder
def MobileNeXt(options, alpha=1.0, identity_tensor_multiplier=1.0, dropout_rate=0.2):
    """MobileNeXt; paper widths ``alpha`` 0.35, 0.5, 0.75, 1.0, 1.4 (any in (0, 4] builds).

    identity_tensor_multiplier: fraction in (0, 1] of each residual's channels
        that receive the shortcut (paper Sec. 3.3, e.g. 0.5); 1.0 (default) is
        the official full residual. Parameters and Mult-Adds do not change.
    """
    alpha = check_number("alpha", alpha, 0.0, 4.0, low_open=True)
    identity_tensor_multiplier = check_number(
        "identity_tensor_multiplier", identity_tensor_multiplier, 0.0, 1.0, low_open=True)
    for spec in TABLE:  # every residual (repeated equal-width blocks) must add at least one channel
        if spec.repeats > 1:
            identity_channels(round_filters(spec.filters, alpha), identity_tensor_multiplier)
    rules = BlockRules(round_filters=lambda c: round_filters(c, alpha), act="relu6",
                       identity_multiplier=identity_tensor_multiplier, style=TORCH_STYLE)
    model_input, x = options.inputs(32, normalization=NORMALIZATION)
    features = FeatureMaps()
    stem = round_filters(32, alpha)
    x = features.add(conv_bn_act(x, stem, 3, 2, act="relu6", style=TORCH_STYLE, name="stem"), 2)
    x = build_stages(x, TABLE, features, rules)
    suffix = "" if identity_tensor_multiplier == 1.0 else f"_itm{identity_tensor_multiplier:.2f}"
    return options.finish(model_input, x, features, pooled_dense_top(dropout_rate), f"mobilenext_{alpha:.2f}{suffix}")


register_variants(
    "mobilenext",
    MobileNeXt,
    {f"mobilenext_{int(round(a * 100)):03d}": {"alpha": a} for a in ALPHAS},
    normalization=NORMALIZATION,
    width_arg="alpha",
    references={
        "mobilenext_035": (1913976, 75141032, SOURCE),
        "mobilenext_050": (2152304, 103256448, SOURCE),
        "mobilenext_075": (2766168, 207926720, SOURCE),
        "mobilenext_100": (3535416, 311342592, SOURCE),
        "mobilenext_140": (6126168, 588319256, SOURCE),
    },
)

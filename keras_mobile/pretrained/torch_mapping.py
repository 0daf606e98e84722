"""How a PyTorch reference's state dict maps onto our models, per family.

Every family whose reference is PyTorch code has a ``TorchReference``: where its checkpoints come from, the
torch module each of our weighted layers corresponds to (``modules``: our layer names, in our order, to
module prefixes), the classifier's key (the number of classes is read from its shape) and whether the
reference takes BGR input. ``layer_tensors(model, reference)`` derives from our built model the full list of
state-dict keys it needs, with their shapes in PyTorch's layout, so a checkpoint for another model or width is
reported as missing keys, unexpected keys and the first shape that differs (``check_state_dict``) before any
weight is set. ``keras_weights`` then converts each layer's tensors:

- ``Conv2d`` weight (O, I/g, kh, kw) -> ``Conv2D`` kernel (kh, kw, I/g, O); Keras' grouped convs use
  PyTorch's output-channel-major group layout, so groups need nothing more.
- depthwise ``Conv2d`` (C, 1, kh, kw) -> ``DepthwiseConv2D`` kernel (kh, kw, C, 1).
- ``Linear`` (out, in) -> ``Dense`` kernel (in, out); ``BatchNorm2d`` weight, bias, running_mean,
  running_var -> gamma, beta, moving_mean, moving_variance; biases as they are.
- timm's ``MixedConv2d`` 1x1 convs with equal splits (MixNet's "a2" / "p2" grouped pointwise convs, keys
  ``conv_pw.0``, ``conv_pw.1``) are concatenated on the output axis into one grouped ``Conv2D``.

Verified numerically against each reference (``tests/test_convert.py`` with the fixtures of
``tools/make_torch_fixtures.py``).
"""

import dataclasses
import re
from typing import Callable

import numpy as np

from keras_mobile.backend import layers
from keras_mobile.validation import fail


@dataclasses.dataclass(frozen=True)
class TorchReference:
    """A family's PyTorch reference.

    code: the reference implementation. checkpoints: where its published ImageNet checkpoints are.
    modules: ``[our weighted layers, in model order] -> [torch module prefix, or a tuple of them for a
        split conv]``. classifier: the state-dict key of the classifier weight (its first dim is classes).
    bgr: the reference takes BGR input; the converter reverses the stem kernel's input channels so the
        converted model takes RGB like every keras_mobile model.
    """

    code: str
    checkpoints: str
    modules: Callable
    classifier: str
    bgr: bool = False


@dataclasses.dataclass(frozen=True)
class LayerTensors:
    """One of our weighted layers and the state-dict tensors it is made of."""

    layer: object
    modules: tuple  # torch module prefixes; several for timm's split grouped 1x1 conv
    leaves: tuple  # e.g. ("weight", "bias")
    shapes: dict  # key -> shape in PyTorch's layout

    @property
    def keys(self):
        return [f"{module}.{leaf}" for leaf in self.leaves for module in self.modules]


class CheckpointMismatch(ValueError):
    """The checkpoint does not fit the model: ``missing`` / ``unexpected`` keys, the first ``shape_mismatch``
    ``(key, checkpoint shape, expected shape, layer name, layer weight shape)`` or None."""

    def __init__(self, message, missing, unexpected, shape_mismatch):
        super().__init__(message)
        self.missing, self.unexpected, self.shape_mismatch = missing, unexpected, shape_mismatch


# --------------------------------------------------------------------------- per-family module names
_BLOCK = re.compile(r"stage(\d+)_block(\d+)_(.+)")


def _blocks(names):
    """``[(name, block index in model order or None, (stage, block) or None, rest of the name)]``."""
    out, seen = [], {}
    for name in names:
        match = _BLOCK.fullmatch(name)
        if match is None:
            out.append((name, None, None, name))
            continue
        key = (int(match.group(1)), int(match.group(2)))
        index = seen.setdefault(key, len(seen))
        out.append((name, index, key, match.group(3)))
    return out


def _lookup(table, name, family):
    if name not in table:
        raise ValueError(f"{family}: layer {name!r} has no counterpart in the PyTorch reference.")
    return table[name]


def _rexnet_modules(model_layers):
    # timm rexnet.py: stem.{conv,bn}; features.i.{conv_exp,conv_dw,conv_pwl}.{conv,bn}, se.{fc1,bn,fc2};
    # features.<blocks>.{conv,bn} (the 1x1 head conv); head.fc.
    parts = {"expand_conv": "conv_exp.conv", "expand_bn": "conv_exp.bn", "dw_conv": "conv_dw.conv",
             "dw_bn": "conv_dw.bn", "project_conv": "conv_pwl.conv", "project_bn": "conv_pwl.bn",
             "se_reduce": "se.fc1", "se_bn": "se.bn", "se_expand": "se.fc2"}
    entries = _blocks([layer.name for layer in model_layers])
    head = len({key for _, _, key, _ in entries if key is not None})
    fixed = {"stem_conv": "stem.conv", "stem_bn": "stem.bn", "head_conv": f"features.{head}.conv",
             "head_bn": f"features.{head}.bn", "logits": "head.fc"}
    return [f"features.{index}.{_lookup(parts, rest, 'rexnet')}" if index is not None
            else _lookup(fixed, name, "rexnet") for name, index, _, rest in entries]


# timm efficientnet.py ``_gen_mixnet_s`` / ``_gen_mixnet_m``: how many of our table rows (our stages) each
# timm stage (``blocks.<s>``) holds; both arch_defs group the rows as [1], [2, 3], [4, 5], ... [10, 11].
MIXNET_ROWS_PER_TIMM_STAGE = (1, 2, 2, 2, 2, 2)


def _mixnet_modules(model_layers):
    # timm: conv_stem, bn1; blocks.s.b.{conv_pw[.k], bn1, conv_dw[.k], bn2, se.conv_reduce, se.conv_expand,
    # conv_pwl[.k], bn3} (inverted residual) or {conv_dw, bn1, conv_pw, bn2} (depthwise separable, no
    # expansion); conv_head, bn2, classifier. Our stage = one table row; timm groups rows into stages.
    entries = _blocks([layer.name for layer in model_layers])
    row_to_timm, row = {}, 0
    for timm_stage, rows in enumerate(MIXNET_ROWS_PER_TIMM_STAGE):
        for _ in range(rows):
            row += 1
            row_to_timm[row] = timm_stage
    blocks_in_row = {}
    for _, _, key, _ in entries:
        if key is not None:
            blocks_in_row[key[0]] = max(blocks_in_row.get(key[0], 0), key[1])
    expanded = {key for _, _, key, rest in entries if rest == "expand_conv"}
    fixed = {"stem_conv": "conv_stem", "stem_bn": "bn1", "head_conv": "conv_head", "head_bn": "bn2",
             "logits": "classifier"}
    out = []
    for layer, (name, index, key, rest) in zip(model_layers, entries):
        if index is None:
            out.append(_lookup(fixed, name, "mixnet"))
            continue
        stage, block = key
        if stage not in row_to_timm:
            raise ValueError(f"mixnet: layer {name!r} lies beyond timm's {len(row_to_timm)} table rows.")
        timm_stage = row_to_timm[stage]
        offset = sum(blocks_in_row.get(r, 0) for r in range(1, stage) if row_to_timm[r] == timm_stage)
        prefix = f"blocks.{timm_stage}.{offset + block - 1}"
        if key in expanded:
            parts = {"expand_conv": "conv_pw", "expand_bn": "bn1", "dw_conv": "conv_dw", "dw_bn": "bn2",
                     "se_reduce": "se.conv_reduce", "se_expand": "se.conv_expand", "project_conv": "conv_pwl",
                     "project_bn": "bn3"}
        else:
            parts = {"dw_conv": "conv_dw", "dw_bn": "bn1", "se_reduce": "se.conv_reduce",
                     "se_expand": "se.conv_expand", "project_conv": "conv_pw", "project_bn": "bn2"}
        split = re.fullmatch(r"dw_conv_(\d+)", rest)
        if split:  # one kernel size of a mixed depthwise conv
            out.append(f"{prefix}.conv_dw.{split.group(1)}")
            continue
        module = f"{prefix}.{_lookup(parts, rest, 'mixnet')}"
        groups = getattr(layer, "groups", 1)
        if rest in ("expand_conv", "project_conv") and groups > 1:  # timm MixedConv2d 1x1: one conv per group
            out.append(tuple(f"{module}.{g}" for g in range(groups)))
        else:
            out.append(module)
    return out


def _shufflenet_v2_modules(model_layers):
    # torchvision shufflenetv2.py: conv1.{0,1}; stage{s}.{b}.branch1.{0,1,2,3} (stride-2 projection branch),
    # .branch2.{0,1,3,4,5,6}; conv5.{0,1}; fc.
    parts = {"proj_dw_conv": "branch1.0", "proj_dw_bn": "branch1.1", "proj_pw_conv": "branch1.2",
             "proj_pw_bn": "branch1.3", "pw1_conv": "branch2.0", "pw1_bn": "branch2.1", "dw_conv": "branch2.3",
             "dw_bn": "branch2.4", "pw2_conv": "branch2.5", "pw2_bn": "branch2.6"}
    fixed = {"stem_conv": "conv1.0", "stem_bn": "conv1.1", "head_conv": "conv5.0", "head_bn": "conv5.1",
             "logits": "fc"}
    return [f"stage{key[0] + 1}.{key[1] - 1}.{_lookup(parts, rest, 'shufflenet_v2')}" if key is not None
            else _lookup(fixed, name, "shufflenet_v2")
            for name, _, key, rest in _blocks([layer.name for layer in model_layers])]


def _squeezenet_modules(model_layers):
    # torchvision squeezenet.py: features = [conv, relu, pool, fire..., pool, fire..., pool, fire...] (a pool
    # before each of our stages), classifier = [dropout, conv, relu, pool].
    entries = _blocks([layer.name for layer in model_layers])
    before, fires = {}, 0  # (stage, block) -> fire modules before it
    for _, _, key, _ in entries:
        if key is not None and key not in before:
            before[key] = fires
            fires += 1
    parts = {"squeeze_conv": "squeeze", "expand1x1_conv": "expand1x1", "expand3x3_conv": "expand3x3"}
    fixed = {"stem_conv": "features.0", "logits_conv": "classifier.1"}
    return [f"features.{2 + key[0] + before[key]}.{_lookup(parts, rest, 'squeezenet')}" if key is not None
            else _lookup(fixed, name, "squeezenet") for name, _, key, rest in entries]


def _shufflenet_v1_modules(model_layers):
    # megvii ShuffleNetV1/network.py + blocks.py: first_conv.{0,1}; features.i.branch_main_1.{0,1,3,4},
    # .branch_main_2.{0,1}; classifier.0 (Linear without bias).
    parts = {"pw1_conv": "branch_main_1.0", "pw1_bn": "branch_main_1.1", "dw_conv": "branch_main_1.3",
             "dw_bn": "branch_main_1.4", "pw2_conv": "branch_main_2.0", "pw2_bn": "branch_main_2.1"}
    fixed = {"stem_conv": "first_conv.0", "stem_bn": "first_conv.1", "logits": "classifier.0"}
    return [f"features.{index}.{_lookup(parts, rest, 'shufflenet_v1')}" if index is not None
            else _lookup(fixed, name, "shufflenet_v1")
            for name, index, _, rest in _blocks([layer.name for layer in model_layers])]


def _mobilenext_modules(model_layers):
    # official mnext.py ``MXNet``: features.0.{0,1} (stem); features.i.conv.j, where ``conv`` is one
    # nn.Sequential per SGBlock whose ReLU6 (no weights, but an index) follows the first depthwise BN and the
    # expansion BN; classifier.1 (after dropout).
    out, position = [], {}
    fixed = {"stem_conv": "features.0.0", "stem_bn": "features.0.1", "logits": "classifier.1"}
    for name, index, key, rest in _blocks([layer.name for layer in model_layers]):
        if index is None:
            out.append(_lookup(fixed, name, "mobilenext"))
            continue
        if rest not in ("dw1_conv", "dw1_bn", "reduce_conv", "reduce_bn", "expand_conv", "expand_bn",
                        "dw2_conv", "dw2_bn"):
            raise ValueError(f"mobilenext: layer {name!r} has no counterpart in the PyTorch reference.")
        j = position.get(key, 0)
        out.append(f"features.{index + 1}.conv.{j}")
        position[key] = j + (2 if rest in ("dw1_bn", "expand_bn") else 1)
    return out


TIMM_HUB = "Hugging Face hub timm/<name>.<tag> (model.safetensors)"
REFERENCES = {
    "rexnet": TorchReference(
        code="timm timm/models/rexnet.py (rexnet_100 / 130 / 150 / 200)",
        checkpoints=f"{TIMM_HUB}: timm/rexnet_100.nav_in1k, rexnet_130.nav_in1k, rexnet_150.nav_in1k, "
                    "rexnet_200.nav_in1k",
        modules=_rexnet_modules, classifier="head.fc.weight"),
    "mixnet": TorchReference(
        code="timm timm/models/efficientnet.py (mixnet_s / m / l)",
        checkpoints=f"{TIMM_HUB}: timm/mixnet_s.ft_in1k, mixnet_m.ft_in1k, mixnet_l.ft_in1k; or the GitHub "
                    "release https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-weights/"
                    "mixnet_s-a907afbc.pth, mixnet_m-4647fc68.pth, mixnet_l-5a9a2ed8.pth",
        modules=_mixnet_modules, classifier="classifier.weight"),
    "shufflenet_v2": TorchReference(
        code="torchvision torchvision/models/shufflenetv2.py",
        checkpoints="https://download.pytorch.org/models/shufflenetv2_x0.5-f707e7126e.pth, "
                    "shufflenetv2_x1-5666bf0f80.pth, shufflenetv2_x1_5-3c479a10.pth, shufflenetv2_x2_0-8be3c8ee.pth",
        modules=_shufflenet_v2_modules, classifier="fc.weight"),
    "squeezenet": TorchReference(
        code="torchvision torchvision/models/squeezenet.py",
        checkpoints="https://download.pytorch.org/models/squeezenet1_0-b66bff10.pth, squeezenet1_1-b8a52dc0.pth",
        modules=_squeezenet_modules, classifier="classifier.1.weight"),
    "shufflenet_v1": TorchReference(
        code="megvii-model/ShuffleNet-Series ShuffleNetV1/network.py + blocks.py (groups 3 and 8)",
        checkpoints="megvii-model/ShuffleNet-Series ShuffleNetV1/README.md 'Trained Models' (OneDrive / BaiduYun "
                    "links; {'state_dict': ...} with 'module.' prefixes)",
        modules=_shufflenet_v1_modules, classifier="classifier.0.weight", bgr=True),
    "mobilenext": TorchReference(
        code="yitu-opensource/MobileNeXt mobilenext/codebase/models/mnext.py (MXNet)",
        checkpoints="none published for download; the repository's git history holds timm training checkpoints "
                    "(mobilenext/output/74_02_full_id_tensor/model_best.pth.tar: MobileNeXt-1.0)",
        modules=_mobilenext_modules, classifier="classifier.1.weight"),
}


def torch_reference(info, arg="model_name"):
    """The ``TorchReference`` of registered model ``info``'s (a ``ModelInfo``) family; ValueError naming ``arg``
    and the families that have one."""
    if info.family not in REFERENCES:
        fail(arg, info.name, f"a model of a family with a PyTorch reference, {sorted(REFERENCES)} (the {info.family} "
                             "family has none; keras.applications' families load their ImageNet weights with "
                             "weights='imagenet')")
    return REFERENCES[info.family]


# --------------------------------------------------------------------------- layouts
def _torch_shapes(layer, count):
    """``{leaf: torch shape of one of ``count`` equal splits}`` for ``layer``'s weights."""
    if isinstance(layer, layers.BatchNormalization):
        if not (layer.center and layer.scale):
            raise TypeError(f"layer {layer.name!r}: BatchNormalization without center/scale has no torch twin.")
        (channels,) = tuple(layer.weights[0].shape)
        return {leaf: (channels,) for leaf in ("weight", "bias", "running_mean", "running_var")}
    kernel = tuple(layer.weights[0].shape)
    if isinstance(layer, layers.DepthwiseConv2D):  # before Conv2D: tf_keras' DepthwiseConv2D subclasses it
        kh, kw, channels, multiplier = kernel
        weight = (channels * multiplier, 1, kh, kw)
    elif isinstance(layer, layers.Conv2D):
        kh, kw, fan_in, out = kernel
        weight = (out // count, fan_in, kh, kw)
    elif isinstance(layer, layers.Dense):
        weight = (kernel[1], kernel[0])
    else:
        raise TypeError(f"layer {layer.name!r}: no PyTorch layout for a {type(layer).__name__}.")
    shapes = {"weight": weight}
    if layer.use_bias:
        shapes["bias"] = (weight[0],)
    return shapes


def layer_tensors(model, reference):
    """``[LayerTensors]`` for every weighted layer of ``model``, in model order."""
    weighted = [layer for layer in model.layers if layer.weights]
    modules = reference.modules(weighted)
    out = []
    for layer, module in zip(weighted, modules):
        module = module if isinstance(module, tuple) else (module,)
        shapes = _torch_shapes(layer, len(module))
        out.append(LayerTensors(layer, module, tuple(shapes),
                                {f"{m}.{leaf}": shape for leaf, shape in shapes.items() for m in module}))
    return out


def check_state_dict(state_dict, tensors, model_name):
    """Raise ``CheckpointMismatch`` unless ``state_dict`` has exactly the keys and shapes ``tensors`` need."""
    expected = {key: shape for entry in tensors for key, shape in entry.shapes.items()}
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    mismatch = None
    for entry in tensors:
        for key, shape in entry.shapes.items():
            if key in state_dict and tuple(state_dict[key].shape) != tuple(shape):
                mismatch = (key, tuple(state_dict[key].shape), tuple(shape), entry.layer.name,
                            [tuple(w.shape) for w in entry.layer.weights])
                break
        if mismatch:
            break
    if not (missing or unexpected or mismatch):
        return
    lines = [f"the checkpoint does not fit model '{model_name}' (check the model name and its width/variant):"]
    if missing:
        lines.append(f"missing keys ({len(missing)}): {_some(missing)}")
    if unexpected:
        lines.append(f"unexpected keys ({len(unexpected)}): {_some(unexpected)}")
    if mismatch:
        key, found, want, layer_name, layer_shapes = mismatch
        lines.append(f"first shape that differs: {key} is {found} in the checkpoint, {want} in '{model_name}' "
                     f"(layer '{layer_name}', weights {layer_shapes})")
    raise CheckpointMismatch("\n  ".join(lines), missing, unexpected, mismatch)


def _some(keys, limit=8):
    shown = ", ".join(keys[:limit])
    return shown + (f", ... and {len(keys) - limit} more" if len(keys) > limit else "")


def keras_weights(entry, state_dict):
    """The Keras weight list of ``entry.layer`` from the state dict's (checked) tensors."""
    layer = entry.layer
    parts = {leaf: np.concatenate([state_dict[f"{m}.{leaf}"] for m in entry.modules], axis=0)
             for leaf in entry.leaves}
    if isinstance(layer, layers.BatchNormalization):
        return [parts["weight"], parts["bias"], parts["running_mean"], parts["running_var"]]
    weight = parts["weight"]
    if isinstance(layer, layers.DepthwiseConv2D):
        kernel = weight.transpose(2, 3, 0, 1)
        kernel = kernel.reshape(tuple(layer.weights[0].shape))  # (kh, kw, C * m, 1) -> (kh, kw, C, m)
    elif isinstance(layer, layers.Conv2D):
        kernel = weight.transpose(2, 3, 1, 0)
    else:
        kernel = weight.T
    return [kernel, parts["bias"]] if "bias" in parts else [kernel]

"""Inference-time graph rewrites: the same function, in a graph that LiteRT (XNNPACK) runs faster.

    fast = keras_mobile.optimize_for_inference(model)
    fast, report = keras_mobile.optimize_for_inference(model, return_report=True); print(report.format())

The architecture stays the paper's; only the graph handed to the runtime changes. The result is a new
functional model of stock layers (ZeroPadding2D, Cropping2D, DepthwiseConv2D, Add, ...) on the same
Keras line, computing ``model``'s inference function (outputs equal within float rounding, ~1e-6);
``model`` is not changed. Three rewrites, each chosen by measurement (``python -m
benchmarks.depthwise_split`` and ``python -m keras_mobile.benchmark --ops``; figures in docs/export.md):

1. **Large depthwise kernels become pieces.** XNNPACK's depthwise kernels are fast up to 5x5; a 7x7
   costs 5-6x more per Mult-Add (int8: 20x+). A k x k depthwise convolution is the sum of depthwise
   convolutions with the pieces of its kernel, each applied to the (padded) input shifted by the
   piece's offset: ``DEPTHWISE_PLANS`` holds, per kernel size, the pieces and the arrangement that
   measured fastest (``shared``: pad once, crop per piece; ``own``: each piece pads / crops the input
   itself: faster than pad-once-and-crop at every size measured). Kernels whose sides are both at most
   ``max_kernel`` are left alone; a rectangular kernel is split along its long side(s).
2. **BatchNorm after a split or a MixConv concatenation is folded into the convolutions before it.**
   The TFLite converter folds a BatchNorm only into the convolution right before it; after the pieces'
   ``Add`` or MixConv's ``Concatenate`` it stays as a MUL and an ADD over the whole tensor. Folding it
   (``scale = gamma / sqrt(var + eps)`` into every piece's kernel, the shift into one piece's bias)
   removes both. This is the only BatchNorm folding done here: the converter folds the rest.
3. **A MixConv whose kernels are all small becomes one depthwise conv.** MixNet's 3/5 (and 3/3/3)
   groups: split -> one depthwise conv per group -> concat costs 1.7x (3/5) to 2.2x (3/3/3) one depthwise
   conv of the largest kernel over all channels, the smaller kernels zero-padded (centred) to it, which
   computes the same function with more Mult-Adds (3/5: +47%). A MixConv with a kernel above
   ``max_kernel`` keeps its groups (merging 3/5 of a 3/5/7 measured no faster); its large group is split.

Works on Keras 3 (any backend) and tf_keras models built at a fixed input size (the pieces' crops
depend on it), and on the float model of a QAT run (quantize after optimizing: the result is stock
layers that TF-MOT knows). A QAT model itself is refused: its fake-quant ranges belong to the original
graph. ``keras_mobile.export_model`` applies this to the TFLite formats by default.
"""

import dataclasses

import numpy as np

from keras_mobile.backend import keras, layers
from keras_mobile.graph import check_functional, flatten, graph_nodes, map_structure, model_structures, tensor_key
from keras_mobile.validation import check_bool, check_int, fail

MAX_KERNEL = 5  # XNNPACK's fast depthwise kernels: 3x3 and 5x5 (anything up to 25 taps)


# --------------------------------------------------------------------------- piece plans
def grid(rows, cols=None):
    """Pieces ``(row, col, height, width)`` of a kernel cut into ``rows`` x ``cols`` blocks (side lengths)."""
    cols = rows if cols is None else cols
    pieces = []
    r = 0
    for h in rows:
        c = 0
        for w in cols:
            pieces.append((r, c, h, w))
            c += w
        r += h
    return tuple(pieces)


@dataclasses.dataclass(frozen=True)
class DepthwisePlan:
    """How to compute one depthwise kernel size: pieces ``(row, col, height, width)`` and their arrangement."""

    pieces: tuple
    arrangement: str = "own"  # "own": each piece pads / crops the input itself; "shared": pad once, crop per piece

    def describe(self):
        shapes = ", ".join(f"{h}x{w}" for _, _, h, w in self.pieces)
        return f"{len(self.pieces)} pieces ({shapes}), {self.arrangement} padding"


# How one side of a k x k kernel is cut, per k: the cut that measured fastest. ``python -m
# benchmarks.depthwise_split`` timed every grid of blocks of side <= 5 it lists, both arrangements, fp32 and
# int8, at 14x14x480 and 28x28x240 (stride 1) and 56x56x240 (stride 2), 1 thread (2026-11-30, figures in
# docs/export.md#inference-rewrites); lowest geometric mean of time / the k x k conv's time. Each piece padding
# its own input won at every k; blocks of 5 first won for k = 7..11 (7x7: 0.15 of the original's time, as
# did 4+3, 3+4 and 3+3+1; pad-once-and-crop 0.17-0.19). For k = 6, 3+3 (0.14) beat 5+1 (0.17) in the idle
# run; an earlier run under load had them the other way round (0.11 / 0.12).
AXIS_CUTS = {6: (3, 3), 7: (5, 2), 8: (5, 3), 9: (5, 4), 10: (5, 5), 11: (5, 5, 1)}
DEPTHWISE_PLANS = {size: DepthwisePlan(grid(cut), "own") for size, cut in AXIS_CUTS.items()}


def axis_parts(size, max_kernel=MAX_KERNEL):
    """How one kernel side is cut: the measured cut (``AXIS_CUTS``), else as many ``max_kernel`` blocks as
    fit and the rest (12 -> 5+5+2)."""
    if size <= max_kernel:
        return (size,)
    if max_kernel == MAX_KERNEL and size in AXIS_CUTS:
        return AXIS_CUTS[size]
    return (max_kernel,) * (size // max_kernel) + ((size % max_kernel,) if size % max_kernel else ())


def plan_for(kernel_size, max_kernel=MAX_KERNEL, table=None):
    """The ``DepthwisePlan`` for a ``(height, width)`` kernel, or None when both sides are <= ``max_kernel``.

    Square kernels take ``table``'s plan (default ``DEPTHWISE_PLANS``) when its pieces fit ``max_kernel``;
    any other kernel is cut along each side by ``axis_parts``.
    """
    kh, kw = kernel_size
    if kh <= max_kernel and kw <= max_kernel:
        return None
    plan = (DEPTHWISE_PLANS if table is None else table).get(kh) if kh == kw else None
    if plan is not None and all(h <= max_kernel and w <= max_kernel for _, _, h, w in plan.pieces):
        return plan
    return DepthwisePlan(grid(axis_parts(kh, max_kernel), axis_parts(kw, max_kernel)), "own")


def check_pieces(pieces, kernel_size):
    """Raise ValueError unless ``pieces`` cover the ``(height, width)`` kernel exactly once."""
    kh, kw = kernel_size
    cover = np.zeros((kh, kw), int)
    for r, c, h, w in pieces:
        if h < 1 or w < 1 or r < 0 or c < 0 or r + h > kh or c + w > kw:
            raise ValueError(f"piece {(r, c, h, w)} lies outside the {kh}x{kw} kernel.")
        cover[r:r + h, c:c + w] += 1
    if not np.all(cover == 1):
        raise ValueError(f"pieces {pieces} do not cover the {kh}x{kw} kernel exactly once.")


# --------------------------------------------------------------------------- one split depthwise conv
def _same_padding(size, kernel, stride, dilation):
    """TensorFlow's 'same' padding (before, after) of one axis (Keras 3 uses the same rule)."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _axis_geometry(size, kernel, stride, dilation, padding, pre_pad):
    """(padding before, output size) of one axis, relative to the tensor before ``pre_pad``."""
    before, after = pre_pad
    padded = size + before + after
    if padding == "same":
        extra_before, extra_after = _same_padding(padded, kernel, stride, dilation)
    else:
        extra_before = extra_after = 0
    total = padded + extra_before + extra_after
    out = (total - ((kernel - 1) * dilation + 1)) // stride + 1
    return before + extra_before, out


def split_depthwise(x, pieces, kernel, bias, strides, dilation, depth_multiplier, padding, pre_pad=((0, 0), (0, 0)),
                    arrangement="own", name="dw"):
    """The depthwise convolution ``kernel`` (h, w, C, M) of ``x`` as a sum over ``pieces``.

    ``padding`` is the layer's ("same"/"valid"), ``pre_pad`` an explicit ZeroPadding2D before it that
    this absorbs (the tensor ``x`` is the one before that padding). ``bias``: added once, by the
    last piece (None: no bias). Returns ``(output tensor, [(layer, weights)])``: set the weights after
    the call (on tf_keras the layers are built by it).
    """
    kh, kw = kernel.shape[:2]
    check_pieces(pieces, (kh, kw))
    height, width = x.shape[1], x.shape[2]
    if height is None or width is None:
        raise ValueError(f"{name}: the input's spatial size is unknown; build the model at a fixed resolution.")
    top, out_h = _axis_geometry(height, kh, strides[0], dilation[0], padding, pre_pad[0])
    left, out_w = _axis_geometry(width, kw, strides[1], dilation[1], padding, pre_pad[1])
    shared = None
    if arrangement == "shared":
        span_h = (out_h - 1) * strides[0] + (kh - 1) * dilation[0] + 1
        span_w = (out_w - 1) * strides[1] + (kw - 1) * dilation[1] + 1
        shared = _pad_or_crop(x, (top, span_h - height - top), (left, span_w - width - left), f"{name}_pad")
    elif arrangement != "own":
        raise ValueError(f"arrangement={arrangement!r} is not supported; accepted values: ['own', 'shared'].")
    windows = []  # per piece: (piece, rows read from x: first, count; columns: first, count)
    for r, c, h, w in pieces:
        rows = (out_h - 1) * strides[0] + (h - 1) * dilation[0] + 1
        cols = (out_w - 1) * strides[1] + (w - 1) * dilation[1] + 1
        windows.append(((r, c, h, w), r * dilation[0] - top, rows, c * dilation[1] - left, cols))
    if shared is None:  # a piece reading only padding adds zeros: drop it (large kernels on small maps)
        windows = [wnd for wnd in windows if wnd[1] < height and wnd[1] + wnd[2] > 0 and wnd[3] < width
                   and wnd[3] + wnd[4] > 0]
    outputs, weights = [], []
    for i, ((r, c, h, w), row0, rows, col0, cols) in enumerate(windows):
        if shared is None:
            y = _pad_or_crop(x, (-row0, row0 + rows - height), (-col0, col0 + cols - width), f"{name}_piece{i}")
        else:
            y = _pad_or_crop(shared, (-(r * dilation[0]), r * dilation[0] + rows - shared.shape[1]),
                             (-(c * dilation[1]), c * dilation[1] + cols - shared.shape[2]), f"{name}_piece{i}")
        last = i == len(windows) - 1
        layer = layers.DepthwiseConv2D((h, w), strides=strides, padding="valid", depth_multiplier=depth_multiplier,
                                       dilation_rate=dilation, use_bias=bias is not None and last,
                                       name=f"{name}_piece{i}_{h}x{w}")
        outputs.append(layer(y))
        piece = [kernel[r:r + h, c:c + w]]
        if bias is not None and last:
            piece.append(bias)
        weights.append((layer, piece))
    if len(outputs) == 1:
        return outputs[0], weights
    return layers.Add(name=f"{name}_sum")(outputs), weights


def _pad_or_crop(x, rows, cols, name):
    """Pad (positive) or crop (negative) each edge: ``rows = (top, bottom)``, ``cols = (left, right)``."""
    crop = tuple(tuple(max(-v, 0) for v in edge) for edge in (rows, cols))
    pad = tuple(tuple(max(v, 0) for v in edge) for edge in (rows, cols))
    if any(v for edge in crop for v in edge):
        x = layers.Cropping2D(crop, name=f"{name}_crop")(x)
    if any(v for edge in pad for v in edge):
        x = layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
    return x


# --------------------------------------------------------------------------- the model rewrite
@dataclasses.dataclass(frozen=True)
class Rewrite:
    """One change: ``layer`` (the original layer's name), what was done."""

    layer: str
    kind: str  # "split_depthwise" | "fold_batchnorm" | "merge_mixconv" | "left_whole"
    detail: str


@dataclasses.dataclass
class InferenceRewriteReport:
    """What ``optimize_for_inference`` did to ``model``: one ``Rewrite`` per layer changed; ``format()`` prints it."""

    model: str
    max_kernel: int
    rewrites: list

    def count(self, kind):
        return sum(r.kind == kind for r in self.rewrites)

    def format(self):
        lines = [f"optimize_for_inference('{self.model}'): {self.count('split_depthwise')} depthwise convs split "
                 f"(kernels above {self.max_kernel}x{self.max_kernel}), {self.count('fold_batchnorm')} BatchNorms folded, "
                 f"{self.count('merge_mixconv')} MixConvs merged"
                 + (f", {self.count('left_whole')} left whole" if self.count("left_whole") else "")]
        lines += [f"  {r.layer:40} {r.kind:16} {r.detail}" for r in self.rewrites]
        return "\n".join(lines)


def optimize_for_inference(model, max_kernel=MAX_KERNEL, plans=None, fold_batchnorm=True, merge_mixconv=True,
                           input_size=None, return_report=False):
    """A new functional model computing ``model``'s inference function in a graph LiteRT runs faster.

    max_kernel: depthwise kernels with a side above this are split into pieces of at most this side
        (``DEPTHWISE_PLANS``); an int >= 1.
    plans: ``{kernel size: DepthwisePlan}`` overriding ``DEPTHWISE_PLANS`` (e.g. to benchmark others).
    fold_batchnorm: fold a BatchNorm that follows a split depthwise conv, or a Concatenate of depthwise
        convs (MixConv), into those convs (the converter cannot, it would run as MUL + ADD).
    merge_mixconv: merge a MixConv's groups whose kernels are all <= ``max_kernel`` (3x3 and 5x5) into one
        depthwise conv of the largest of them, the smaller kernels zero-padded (centred) to it.
    input_size: ``(height, width)`` to build the optimized model at, for a model built with any input
        size (``None`` spatial dims): the pieces' crops need it. A model built at a fixed size keeps its own;
        a layer whose input size stays unknown is left whole (and noted in the report).
    return_report: also return an ``InferenceRewriteReport`` (what was split and folded, per layer).
    """
    from keras_mobile.compression.qat import is_quantized

    check_functional(model, "optimize_for_inference", purpose="optimize_for_inference")
    if is_quantized(model):
        raise ValueError(
            f"optimize_for_inference: model '{model.name}' is a quantization-aware (QAT) model; its fake-quant ranges "
            "belong to its own graph. Optimize the float model, then quantize the result (compression.quantize_model)."
        )
    max_kernel = check_int("max_kernel", max_kernel, minimum=1)
    for arg, value in (("fold_batchnorm", fold_batchnorm), ("merge_mixconv", merge_mixconv),
                       ("return_report", return_report)):
        check_bool(arg, value)
    if plans is not None and not isinstance(plans, dict):
        fail("plans", plans, "None or a dict {kernel size: DepthwisePlan}")
    table = dict(DEPTHWISE_PLANS)
    table.update(plans or {})
    for size, plan in table.items():
        if not isinstance(plan, DepthwisePlan):
            fail("plans", plans, "a dict {kernel size: DepthwisePlan}")
        check_pieces(plan.pieces, (size, size))
    if input_size is not None:
        if not isinstance(input_size, (tuple, list)) or len(input_size) != 2 or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in input_size):
            fail("input_size", input_size, "None or (height, width) of positive ints")
        input_size = tuple(input_size)
    nodes = graph_nodes(model, purpose="optimize_for_inference")
    rewriter = _Rewriter(model, nodes, max_kernel, table, fold_batchnorm, merge_mixconv, input_size)
    optimized = rewriter.build()
    report = InferenceRewriteReport(model.name, max_kernel, rewriter.rewrites)
    return (optimized, report) if return_report else optimized


def _numpy(variable):
    return np.asarray(variable.numpy() if hasattr(variable, "numpy") else variable)


class _Rewriter:
    def __init__(self, model, nodes, max_kernel, table, fold_batchnorm, merge_mixconv, input_size):
        self.model, self.nodes, self.max_kernel, self.table = model, nodes, max_kernel, table
        self.input_size = input_size
        self.by_output = {key: node for node in nodes for key in node.outputs}
        self.consumers = {}
        for node in nodes:
            for key in node.inputs:
                self.consumers.setdefault(key, []).append(node)
        outputs = model_structures(model)[1]
        self.model_outputs = {tensor_key(t) for t in flatten(outputs)}
        self.rewrites = []
        self.splits = {node.name: plan for node in nodes if (plan := self._plan(node)) is not None}
        self.folds = self._folds() if fold_batchnorm else {}  # depthwise name -> (BN layer, first channel)
        self.folded_bn = {bn.name for bn, _ in self.folds.values()}
        pads = (self._pre_pad_node(node) for node in nodes if node.name in self.splits)
        self.absorbed_pads = {pad.name for pad in pads if pad is not None}
        self.merges = self._merge_plans() if merge_mixconv else {}  # ChannelSplit name -> _MixConv
        self.merged_nodes = {node.name for plan in self.merges.values() for node in
                             [plan.concat] + [n for branch in plan.branches for n in branch if n is not None]}

    # ---- planning
    def _plan(self, node):
        if node.kind != "DepthwiseConv2D":
            return None
        config = node.layer.get_config()
        if config.get("data_format", "channels_last") != "channels_last":
            return None
        return plan_for(tuple(config["kernel_size"]), self.max_kernel, self.table)

    def _sole_consumer(self, key):
        users = self.consumers.get(key, [])
        return users[0] if len(users) == 1 and key not in self.model_outputs else None

    def _pre_pad_node(self, node):
        """The ZeroPadding2D right before ``node`` when ``node`` is its only consumer."""
        producer = self.by_output.get(node.inputs[0])
        if producer is None or producer.kind != "ZeroPadding2D" or self._sole_consumer(producer.outputs[0]) is not node:
            return None
        if producer.layer.get_config().get("data_format", "channels_last") != "channels_last":
            return None
        return producer

    def _foldable_depthwise(self, node):
        if node is None or node.kind != "DepthwiseConv2D" or len(node.outputs) != 1:
            return False
        config = node.layer.get_config()
        return config.get("activation") in (None, "linear") and config.get("data_format", "channels_last") == "channels_last"

    def _folds(self):
        folds = {}
        for node in self.nodes:
            if node.kind != "BatchNormalization" or node.layer.get_config()["axis"] not in (-1, 3, [3], [-1]):
                continue
            producer = self.by_output.get(node.inputs[0])
            if producer is None or self._sole_consumer(node.inputs[0]) is not node:
                continue
            if producer.name in self.splits and self._foldable_depthwise(producer):
                folds[producer.name] = (node.layer, 0)
            elif producer.kind == "Concatenate" and producer.layer.get_config()["axis"] in (-1, 3):
                branches = [self.by_output.get(key) for key in producer.inputs]
                if all(self._foldable_depthwise(b) and self._sole_consumer(b.outputs[0]) is producer for b in branches):
                    start = 0
                    for branch in branches:
                        folds[branch.name] = (node.layer, start)
                        start += int(branch.layer.output.shape[-1])
        return folds

    # ---- rebuilding
    def build(self):
        tensors = {}
        pending = []
        for node in self.nodes:
            layer = node.layer
            if node.kind == "InputLayer":
                shape = tuple(layer.output.shape)
                if self.input_size is not None and len(shape) == 4:
                    fixed = [known if known is not None else size for known, size in zip(shape[1:3], self.input_size)]
                    if tuple(fixed) != self.input_size:
                        fail("input_size", self.input_size, f"None or the size model '{self.model.name}' was built "
                             f"at, {tuple(shape[1:3])}")
                    shape = (shape[0], *fixed, shape[3])
                dtype = getattr(layer.output.dtype, "name", layer.output.dtype)
                tensors[node.outputs[0]] = keras.Input(shape=tuple(shape[1:]), batch_size=shape[0], name=layer.name,
                                                       dtype=dtype)
                continue
            if node.name in self.merges:
                output, weights = self._merged_mixconv(self.merges[node.name], tensors)
                tensors[self.merges[node.name].concat.outputs[0]] = output
                pending += weights
                continue
            if node.name in self.merged_nodes:  # emitted with their MixConv
                continue
            if node.name in self.absorbed_pads:
                tensors[node.outputs[0]] = tensors[node.inputs[0]]  # the split depthwise pads for itself
                continue
            if node.name in self.folded_bn:
                tensors[node.outputs[0]] = tensors[node.inputs[0]]
                self.rewrites.append(Rewrite(node.name, "fold_batchnorm", self._fold_detail(node.name)))
                continue
            if node.kind == "DepthwiseConv2D" and (node.name in self.splits or node.name in self.folds):
                tensors[node.outputs[0]], weights = self._depthwise(node, tensors)
                pending += weights
                continue
            new_layer = type(layer).from_config(layer.get_config())
            args, kwargs = map_structure(
                lambda value: tensors[tensor_key(value)] if hasattr(value, "_keras_history") else value,
                (list(node.call_args), dict(node.call_kwargs)),
            )
            for key, tensor in zip(node.outputs, flatten(new_layer(*args, **kwargs))):
                tensors[key] = tensor
            if layer.weights:
                pending.append((new_layer, layer.get_weights()))
        for new_layer, weights in pending:
            new_layer.set_weights([np.asarray(w, dtype=v.dtype if isinstance(v.dtype, str) else v.dtype.name)
                                   for w, v in zip(weights, new_layer.weights)])
        inputs, outputs = model_structures(self.model)
        return keras.Model(map_structure(lambda t: tensors[tensor_key(t)], inputs),
                           map_structure(lambda t: tensors[tensor_key(t)], outputs), name=self.model.name)

    def _fold_detail(self, bn_name):
        into = [name for name, (bn, _) in self.folds.items() if bn.name == bn_name]
        return f"folded into {', '.join(into)}"

    def _folded_weights(self, node):
        """The depthwise kernel (h, w, C, M) and bias (or None), with its BatchNorm folded in if planned."""
        layer = node.layer
        weights = layer.get_weights()  # [kernel (h, w, C, M), bias if use_bias]
        kernel = weights[0].astype(np.float64)
        bias = weights[1].astype(np.float64) if layer.use_bias else None
        if node.name not in self.folds:
            return kernel, bias
        bn, start = self.folds[node.name]
        channels = kernel.shape[2] * kernel.shape[3]
        part = slice(start, start + channels)
        variance = _numpy(bn.moving_variance).astype(np.float64)[part]
        mean = _numpy(bn.moving_mean).astype(np.float64)[part]
        gamma = _numpy(bn.gamma).astype(np.float64)[part] if bn.scale else np.ones(channels)
        beta = _numpy(bn.beta).astype(np.float64)[part] if bn.center else np.zeros(channels)
        scale = gamma / np.sqrt(variance + bn.epsilon)
        kernel = kernel * scale.reshape(kernel.shape[2], kernel.shape[3])
        bias = ((bias if bias is not None else 0.0) - mean) * scale + beta
        return kernel, bias

    def _depthwise(self, node, tensors):
        """The (split and / or folded) depthwise conv ``node``: its output tensor and pending weights."""
        pre = self._pre_pad_node(node) if node.name in self.splits else None
        x = tensors[(pre or node).inputs[0]]
        kernel, bias = self._folded_weights(node)
        return self._emit_depthwise(node, x, pre, kernel, bias)

    def _emit_depthwise(self, node, x, pre, kernel, bias, name=None):
        """``node``'s conv with ``kernel`` / ``bias`` on ``x`` (the tensor before ``pre``, a ZeroPadding2D or None)."""
        layer = node.layer
        name = name or node.name
        config = layer.get_config()
        config.update(name=name, kernel_size=kernel.shape[:2], use_bias=bias is not None)
        kernel, bias = kernel.astype("float32"), None if bias is None else bias.astype("float32")
        weights = [kernel] + ([bias] if bias is not None else [])
        pre_pad = _normalize_padding(pre.layer.get_config()["padding"]) if pre is not None else ((0, 0), (0, 0))
        plan = self.splits.get(node.name)
        if plan is not None and (x.shape[1] is None or x.shape[2] is None):  # the crops need the size
            self.rewrites.append(Rewrite(node.name, "left_whole", "input size unknown (pass input_size=)"))
            plan = None
        if plan is None:
            if pre is not None:
                x = layers.ZeroPadding2D(pre_pad, name=pre.name)(x)
            new_layer = type(layer).from_config(config)
            return new_layer(x), [(new_layer, weights)]
        output, pending = split_depthwise(
            x, plan.pieces, kernel, bias, tuple(config["strides"]), tuple(config["dilation_rate"]),
            config["depth_multiplier"], config["padding"], pre_pad, plan.arrangement, name=name)
        if config.get("activation") not in (None, "linear"):
            output = layers.Activation(config["activation"], name=f"{name}_act")(output)
        kh, kw = kernel.shape[:2]
        folded = f"; BatchNorm '{self.folds[node.name][0].name}' folded in" if node.name in self.folds else ""
        absorbed = f"; absorbs '{pre.name}'" if pre is not None else ""
        dropped = len(plan.pieces) - len(pending)
        dropped = f"; {dropped} of them read only zero padding here (dropped)" if dropped else ""
        self.rewrites.append(Rewrite(node.name, "split_depthwise",
                                     f"{kh}x{kw} -> {plan.describe()}{dropped}{absorbed}{folded}"))
        return output, pending

    # ---- MixConv: groups with small kernels merged into one depthwise conv
    def _merge_plans(self):
        """``{ChannelSplit name: _MixConv}`` for every MixConv whose small-kernel groups can be merged."""
        plans = {}
        for node in self.nodes:
            if node.kind != "ChannelSplit":
                continue
            mixconv = self._mixconv(node)
            if mixconv is not None:
                plans[node.name] = mixconv
        return plans

    def _mixconv(self, split):
        branches, concat = [], None
        for key in split.outputs:
            first = self._sole_consumer(key)
            pad = first if first is not None and first.kind == "ZeroPadding2D" else None
            dw = self._sole_consumer(pad.outputs[0]) if pad is not None else first
            if not self._foldable_depthwise(dw):
                return None
            after = self._sole_consumer(dw.outputs[0])
            if after is None or after.kind != "Concatenate" or (concat is not None and after is not concat):
                return None
            concat = after
            branches.append((pad, dw))
        if concat is None or concat.inputs != tuple(dw.outputs[0] for _, dw in branches):
            return None
        if concat.layer.get_config()["axis"] not in (-1, 3):
            return None
        configs = [dw.layer.get_config() for _, dw in branches]
        kernels = [tuple(c["kernel_size"]) for c in configs]
        shared = {(tuple(c["strides"]), tuple(c["dilation_rate"]), c["depth_multiplier"]) for c in configs}
        if len(shared) != 1 or next(iter(shared))[1] != (1, 1) or any(kh != kw or kh % 2 == 0 for kh, kw in kernels):
            return None
        for (pad, _), config, (k, _) in zip(branches, configs, kernels):
            # centred: 'same' padding, or a symmetric k // 2 ZeroPadding2D before a 'valid' conv
            if pad is None and config["padding"] != "same":
                return None
            if pad is not None and (config["padding"] != "valid"
                                    or _normalize_padding(pad.layer.get_config()["padding"]) != ((k // 2,) * 2,) * 2):
                return None
        if len({pad is None for pad, _ in branches}) != 1:
            return None
        if max(k for k, _ in kernels) > self.max_kernel:  # measured: only a whole merge pays (no split left)
            return None
        return _MixConv(split, tuple(branches), concat)

    def _merged_mixconv(self, plan, tensors):
        """The MixConv of ``plan`` as one depthwise conv of its largest kernel (the others zero-padded, centred)."""
        weights = [self._folded_weights(dw) for _, dw in plan.branches]
        size = max(kernel.shape[0] for kernel, _ in weights)
        kernel = np.concatenate([_embed(k, size) for k, _ in weights], axis=2)
        bias = None
        if any(b is not None for _, b in weights):
            bias = np.concatenate([b if b is not None else np.zeros(k.shape[2] * k.shape[3]) for k, b in weights])
        pad, template = next((pad, dw) for pad, dw in plan.branches if dw.layer.get_config()["kernel_size"][0] == size)
        x = tensors[plan.split.inputs[0]]
        if pad is not None:
            x = layers.ZeroPadding2D(size // 2, name=pad.name)(x)
        name = f"{plan.split.name}_merged"
        output, pending = self._emit_depthwise(template, x, None, kernel, bias, name=name)
        kernels = "/".join(str(dw.layer.get_config()["kernel_size"][0]) for _, dw in plan.branches)
        self.rewrites.append(Rewrite(plan.split.name, "merge_mixconv",
                                     f"kernels {kernels} -> one {size}x{size} depthwise '{name}' (no split, no concat)"))
        return output, pending


@dataclasses.dataclass(frozen=True)
class _MixConv:
    split: object  # the ChannelSplit node
    branches: tuple  # (ZeroPadding2D node or None, DepthwiseConv2D node) per group
    concat: object  # the Concatenate node


def _embed(kernel, size):
    """A (k, k, C, M) kernel zero-padded, centred, to (size, size, C, M)."""
    offset = (size - kernel.shape[0]) // 2
    out = np.zeros((size, size) + kernel.shape[2:], kernel.dtype)
    out[offset:offset + kernel.shape[0], offset:offset + kernel.shape[1]] = kernel
    return out


def _normalize_padding(padding):
    """ZeroPadding2D's ``padding`` config as ``((top, bottom), (left, right))``."""
    if isinstance(padding, int):
        return (padding, padding), (padding, padding)
    rows, cols = padding
    rows = (rows, rows) if isinstance(rows, int) else tuple(rows)
    cols = (cols, cols) if isinstance(cols, int) else tuple(cols)
    return rows, cols

"""Profiler: parameters, Mult-Adds and memory traffic per layer and per op type.

Works on any Keras functional model built from standard layers (ours,
keras.applications', on Keras 3 or tf_keras) without running it, from the
layers' configurations and static shapes. A Mult-Add is one multiply-accumulate
of a convolution or dense layer: Conv2D ``H_out * W_out * C_out * (C_in / groups)
* kh * kw``, DepthwiseConv2D ``H_out * W_out * C_in * depth_multiplier * kh * kw``,
SeparableConv2D both parts, Dense ``in * out`` per position. Memory access cost
(MAC, the ShuffleNetV2 paper's measure, Ma et al. 2018 Sec. 2) is input + output
+ weight bytes at batch 1. Layers the profiler cannot count are listed in
``Profile.uncounted``, never silently zero.

    python -m keras_mobile.profile mobilenetv2_100 [--width 0.5] [--resolution 160] [--format table|csv|json]
    python -m keras_mobile.profile --all        # the zoo table (docs/zoo.md is generated from the same registry)
"""

import csv
import dataclasses
import io
import json
import math
import re
import sys

from keras_mobile import cli, validation
from keras_mobile.backend import keras
from keras_mobile.registry import create_model, list_models, model_info, width_override

OP_TYPES = (
    "standard conv",
    "depthwise conv",
    "pointwise conv",
    "grouped conv",
    "fully connected",
    "squeeze-excite",
    "other",
)
# Layers that hold no multiply-accumulates by definition (weights, if any, still counted as params).
_ZERO_MAC_LAYERS = {
    "InputLayer", "BatchNormalization", "LayerNormalization", "ReLU", "Activation", "Softmax", "LeakyReLU",
    "PReLU", "ELU", "Add", "Multiply", "Subtract", "Average", "Maximum", "Minimum", "Concatenate",
    "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten",
    "Reshape", "Permute", "Dropout", "SpatialDropout2D", "GaussianNoise", "Rescaling", "Normalization",
    "ZeroPadding2D", "Cropping2D", "UpSampling2D", "Identity", "ChannelShuffle", "ChannelSplit",
    "TFOpLambda", "SlicingOpLambda", "Lambda",
}
_SE_NAME = re.compile(r"(^|_)(se|squeeze_excite)(_|$)")


@dataclasses.dataclass
class LayerProfile:
    """One layer's figures (batch 1)."""

    name: str
    layer_type: str
    op_type: str
    output_shape: tuple
    trainable_params: int
    non_trainable_params: int
    mult_adds: int
    activation_bytes: int
    memory_access_bytes: int


@dataclasses.dataclass
class Profile:
    """A model's per-layer rows, totals and per-op-type aggregation."""

    model_name: str
    layers: list
    uncounted: list

    @property
    def trainable_params(self):
        return sum(row.trainable_params for row in self.layers)

    @property
    def non_trainable_params(self):
        return sum(row.non_trainable_params for row in self.layers)

    @property
    def mult_adds(self):
        return sum(row.mult_adds for row in self.layers)

    @property
    def memory_access_bytes(self):
        return sum(row.memory_access_bytes for row in self.layers)

    def by_op_type(self):
        """``{op type: {"mult_adds", "params", "mult_adds_share", "params_share", "layers"}}``.

        The MobileNet paper's Table 2 ("resource per layer type"); a
        SeparableConv2D's depthwise and pointwise parts go to their own types.
        """
        totals = {t: {"layers": 0, "mult_adds": 0, "params": 0} for t in OP_TYPES}
        for row in self.layers:
            for op_type, macs, params in _split_separable(row):
                totals[op_type]["layers"] += 1
                totals[op_type]["mult_adds"] += macs
                totals[op_type]["params"] += params
        all_macs = max(self.mult_adds, 1)
        all_params = max(self.trainable_params + self.non_trainable_params, 1)
        for entry in totals.values():
            entry["mult_adds_share"] = entry["mult_adds"] / all_macs
            entry["params_share"] = entry["params"] / all_params
        return totals

    def to_dict(self):
        return {
            "model": self.model_name,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
            "mult_adds": self.mult_adds,
            "memory_access_bytes": self.memory_access_bytes,
            "uncounted": self.uncounted,
            "by_op_type": self.by_op_type(),
            "layers": [dataclasses.asdict(row) for row in self.layers],
        }


# --------------------------------------------------------------------------- counting
def _nelements(shape):
    return math.prod(d for d in shape if d is not None)


def _weights_count(weights):
    return int(sum(math.prod(w.shape) for w in weights))


def _dtype_bytes(layer):
    dtype = getattr(layer, "compute_dtype", None) or "float32"
    dtype = getattr(dtype, "name", dtype)
    return {"float16": 2, "bfloat16": 2, "float64": 8, "int8": 1, "uint8": 1}.get(str(dtype), 4)


def _shapes(tensors):
    tensors = tensors if isinstance(tensors, (list, tuple)) else [tensors]
    return [tuple(t.shape) for t in tensors]


def _conv_op_type(layer, in_shape):
    kind = type(layer).__name__
    spatial_one = tuple(in_shape[1:3]) == (1, 1)
    if kind == "DepthwiseConv2D":
        return "depthwise conv"
    if kind == "SeparableConv2D":
        return "depthwise conv"  # split further in by_op_type
    if spatial_one and tuple(layer.kernel_size) == (1, 1):
        return "squeeze-excite" if _SE_NAME.search(layer.name) else "fully connected"
    if getattr(layer, "groups", 1) > 1:
        return "grouped conv"
    return "pointwise conv" if tuple(layer.kernel_size) == (1, 1) else "standard conv"


def _mult_adds(layer, in_shape, out_shape):
    kind = type(layer).__name__
    positions = _nelements(out_shape[1:-1]) if len(out_shape) > 2 else 1
    if kind == "Dense":
        return positions * in_shape[-1] * layer.units
    kh, kw = layer.kernel_size
    c_in = in_shape[-1]
    if kind == "Conv2D":
        return positions * out_shape[-1] * (c_in // layer.groups) * kh * kw
    depthwise = positions * c_in * layer.depth_multiplier * kh * kw
    if kind == "DepthwiseConv2D":
        return depthwise
    return depthwise + positions * c_in * layer.depth_multiplier * out_shape[-1]


def _split_separable(row):
    """Yield (op type, Mult-Adds, params) parts of a row (two for SeparableConv2D)."""
    params = row.trainable_params + row.non_trainable_params
    if row.layer_type != "SeparableConv2D":
        yield row.op_type, row.mult_adds, params
        return
    layer = row._layer  # set by profile_model()
    kh, kw = layer.kernel_size
    c_in = layer.input.shape[-1] * layer.depth_multiplier
    positions = _nelements(row.output_shape[1:-1])
    dw_macs = positions * c_in * kh * kw
    dw_params = c_in * kh * kw
    yield "depthwise conv", dw_macs, dw_params
    yield "pointwise conv", row.mult_adds - dw_macs, params - dw_params


def flat_layers(model):
    """Every layer of ``model``, nested models opened up, in order."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from flat_layers(layer)
        else:
            yield layer


def profile_model(model):
    """Profile ``model`` -> ``Profile``: a built functional model (fixed input resolution), or a registered
    model name (built at its default resolution)."""
    if isinstance(model, str):
        model = create_model(model, input_shape=model_info(model, arg="model").input_shape())
    elif not isinstance(model, keras.Model):
        validation.fail("model", model, "a built Keras model (fixed input resolution) or a registered model name "
                                        "(keras_mobile.list_models())")
    rows, uncounted = [], []
    for layer in flat_layers(model):
        kind = type(layer).__name__
        try:
            in_shapes, out_shapes = _shapes(layer.input), _shapes(layer.output)
        except (AttributeError, ValueError):  # a layer called more than once
            uncounted.append(f"{layer.name} ({kind}): called several times")
            continue
        out_shape = out_shapes[0]
        counted = kind in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Dense")
        if counted and any(d is None for shape in in_shapes + out_shapes for d in shape[1:]):
            raise ValueError(
                f"layer '{layer.name}' has an unknown spatial size {out_shape}: build the model with a fixed "
                "input_shape (e.g. input_shape=(224, 224, 3)) to profile it."
            )
        if not counted and kind not in _ZERO_MAC_LAYERS:
            uncounted.append(f"{layer.name} ({kind})")
        macs = _mult_adds(layer, in_shapes[0], out_shape) if counted else 0
        op_type = _conv_op_type(layer, in_shapes[0]) if counted and kind != "Dense" else (
            "fully connected" if kind == "Dense" else "other"
        )
        element_bytes = _dtype_bytes(layer)
        weight_bytes = _weights_count(layer.weights) * element_bytes
        activation_bytes = sum(_nelements(s[1:]) for s in out_shapes) * element_bytes
        input_bytes = sum(_nelements(s[1:]) for s in in_shapes) * element_bytes
        row = LayerProfile(
            name=layer.name,
            layer_type=kind,
            op_type=op_type,
            output_shape=out_shape if len(out_shapes) == 1 else tuple(out_shapes),
            trainable_params=_weights_count(layer.trainable_weights),
            non_trainable_params=_weights_count(layer.non_trainable_weights),
            mult_adds=int(macs),
            activation_bytes=activation_bytes if kind != "InputLayer" else 0,
            memory_access_bytes=(input_bytes + activation_bytes + weight_bytes) if kind != "InputLayer" else 0,
        )
        row._layer = layer
        rows.append(row)
    return Profile(model.name, rows, uncounted)


def trainable_params(model):
    """Number of trainable scalars (conv/dense kernels and biases, BN gamma/beta)."""
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def mult_adds(model):
    """Total Mult-Adds of ``model`` (built with a fixed input resolution)."""
    return profile_model(model).mult_adds


# --------------------------------------------------------------------------- reports
def format_table(result):
    """Per-layer table, then the per-op-type table, then totals (plain text)."""
    lines = [f"{'layer':44} {'type':16} {'op type':16} {'output':20} {'params':>10} {'Mult-Adds':>13} {'MAC bytes':>12}"]
    for row in result.layers:
        params = row.trainable_params + row.non_trainable_params
        lines.append(
            f"{row.name[:44]:44} {row.layer_type[:16]:16} {row.op_type:16} {str(row.output_shape[1:])[:20]:20} "
            f"{params:>10,} {row.mult_adds:>13,} {row.memory_access_bytes:>12,}"
        )
    lines += ["", f"{'op type':16} {'layers':>6} {'Mult-Adds':>15} {'share':>7} {'params':>12} {'share':>7}"]
    for op_type, entry in result.by_op_type().items():
        lines.append(
            f"{op_type:16} {entry['layers']:>6} {entry['mult_adds']:>15,} {entry['mult_adds_share']:>7.1%} "
            f"{entry['params']:>12,} {entry['params_share']:>7.1%}"
        )
    lines += [
        "",
        f"model {result.model_name}: {result.trainable_params:,} trainable + {result.non_trainable_params:,} "
        f"non-trainable params, {result.mult_adds:,} Mult-Adds, {result.memory_access_bytes:,} bytes memory access",
    ]
    if result.uncounted:
        lines.append("not counted: " + ", ".join(result.uncounted))
    return "\n".join(lines)


def format_csv(result):
    out = io.StringIO()
    fields = [f.name for f in dataclasses.fields(LayerProfile)]
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    for row in result.layers:
        writer.writerow({f: getattr(row, f) for f in fields})
    return out.getvalue()


def format_json(result):
    return json.dumps(result.to_dict(), indent=2, default=list)


FORMATS = {"table": format_table, "csv": format_csv, "json": format_json}


def zoo_rows(pattern="*"):
    """One row per registered model: counts at its default resolution beside its reference."""
    for name in list_models(pattern):
        info = model_info(name)
        resolution = info.default_resolution
        model = create_model(name, input_shape=info.input_shape())
        reference = info.reference or (None, None, "")
        yield {
            "model": name,
            "resolution": resolution,
            "params": trainable_params(model),
            "mult_adds": mult_adds(model),
            "reference_params": reference[0],
            "reference_mult_adds": reference[1],
            "reference_source": reference[2],
        }


def _millions(value):
    return "" if value is None else f"{value / 1e6:,.2f}M"


def zoo_markdown(pattern="*"):
    """The zoo table (Markdown): every registered model built and counted beside its reference figures."""
    lines = [
        "| model | px | params | Mult-Adds | reference params | reference Mult-Adds | reference |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in zoo_rows(pattern):
        ref_params = "" if row["reference_params"] is None else f"{row['reference_params']:,}"
        lines.append(
            f"| {row['model']} | {row['resolution']} | {row['params']:,} | {_millions(row['mult_adds'])} | "
            f"{ref_params} | {_millions(row['reference_mult_adds'])} | {row['reference_source']} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = cli.ArgumentParser("keras_mobile.profile", description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", help="a registered model name (see keras_mobile.list_models())")
    parser.add_argument("--width", "--alpha", dest="width", type=float,
                        help="override the width multiplier (passed as the family's own argument: alpha, width, scale)")
    parser.add_argument("--resolution", type=int, help="input resolution (default: the model's default)")
    parser.add_argument("--all", action="store_true", help="print the zoo table of every registered model")
    parser.add_argument("--pattern", help="restrict --all to names matching this pattern (default: every model)")
    parser.add_argument("--format", choices=sorted(FORMATS), help="the report of one model (default: table)")
    args = parser.parse_args(argv)
    try:
        if args.all:
            for flag, value in (("name", args.name), ("--width", args.width), ("--resolution", args.resolution),
                                ("--format", args.format)):
                if value is not None:
                    validation.fail(flag, value, "none with --all (the zoo table: every model at its default "
                                                 "resolution, in Markdown)")
            pattern = "*" if args.pattern is None else args.pattern
            if not list_models(pattern):
                validation.fail("--pattern", pattern, "a shell-style pattern matching registered models, e.g. "
                                                      "'mobilenetv3_*' (keras_mobile.list_models())")
            print(zoo_markdown(pattern))
            return 0
        if args.pattern is not None:
            validation.fail("--pattern", args.pattern, "none without --all (it selects the zoo table's rows)")
        if args.name is None:
            validation.fail("name", None, "a registered model name (keras_mobile.list_models()), or --all for the "
                                          "zoo table")
        info = model_info(args.name)
        overrides = {"input_shape": info.input_shape(args.resolution, arg="--resolution")}
        if args.width is not None:
            overrides.update(width_override(args.name, args.width, arg="--width"))
        model = create_model(args.name, **overrides)
    except ValueError as error:
        return cli.report(parser, error)
    print(FORMATS[args.format or "table"](profile_model(model)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

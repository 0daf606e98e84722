"""Counting parameters and Mult-Adds of a built Keras model, without running it.

A Mult-Add is one multiply-accumulate of a convolution or a dense layer:
Conv2D ``H_out * W_out * C_out * (C_in / groups) * kh * kw``, DepthwiseConv2D
``H_out * W_out * C_in * depth_multiplier * kh * kw``, SeparableConv2D both
parts, Dense ``in * out`` per position. Other layers count zero.
"""

import math

from keras_mobile.backend import keras

_CONV_CLASSES = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Dense")


def trainable_params(model):
    """Number of trainable scalars (conv/dense kernels and biases, BN gamma/beta)."""
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def _shape(tensor):
    return tuple(tensor.shape)


def layer_mult_adds(layer):
    """Mult-Adds of one layer of a built functional model (0 for non-conv/dense)."""
    kind = type(layer).__name__
    if kind not in _CONV_CLASSES:
        return 0
    in_shape, out_shape = _shape(layer.input), _shape(layer.output)
    if any(d is None for d in out_shape[1:]):
        raise ValueError(
            f"layer '{layer.name}' has an unknown output shape {out_shape}: build the model with a fixed "
            "input_shape (e.g. input_shape=(224, 224, 3)) to count Mult-Adds."
        )
    positions = math.prod(out_shape[1:-1]) if len(out_shape) > 2 else 1
    if kind == "Dense":
        return positions * in_shape[-1] * layer.units
    kh, kw = layer.kernel_size
    c_in = in_shape[-1]
    if kind == "Conv2D":
        return positions * out_shape[-1] * (c_in // layer.groups) * kh * kw
    depthwise = positions * c_in * layer.depth_multiplier * kh * kw
    if kind == "DepthwiseConv2D":
        return depthwise
    return depthwise + positions * c_in * layer.depth_multiplier * out_shape[-1]  # SeparableConv2D


def _flat_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _flat_layers(layer)
        else:
            yield layer


def mult_adds(model):
    """Total Mult-Adds of ``model`` (built with a fixed input resolution)."""
    return int(sum(layer_mult_adds(layer) for layer in _flat_layers(model)))


def zoo_rows(pattern="*"):
    """One row per registered model: counts at its default resolution beside its reference."""
    from keras_mobile.registry import create_model, list_models, model_info

    for name in list_models(pattern):
        info = model_info(name)
        resolution = info.default_resolution
        model = create_model(name, input_shape=(resolution, resolution, 3))
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
    """The zoo table (Markdown) that the README carries."""
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
    import argparse

    parser = argparse.ArgumentParser(prog="python -m keras_mobile.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="print the zoo table of every registered model")
    parser.add_argument("--pattern", default="*", help="restrict --all to names matching this pattern")
    args = parser.parse_args(argv)
    if not args.all:
        parser.error("nothing to do: pass --all")
    print(zoo_markdown(args.pattern))


if __name__ == "__main__":
    main()

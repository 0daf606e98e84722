"""Convert a PyTorch-born checkpoint into a keras_mobile weights file.

    python -m keras_mobile.convert rexnet_100.safetensors --model rexnet_100 --out rexnet_100.weights.h5

    keras_mobile.convert_weights("rexnet_100.safetensors", "rexnet_100", "rexnet_100.weights.h5")
    model = keras_mobile.create_model("rexnet_100", weights="rexnet_100.weights.h5")

For every family whose reference is PyTorch code (``pretrained.torch_mapping.REFERENCES``: ReXNet and
MixNet from timm, ShuffleNetV2 and SqueezeNet from torchvision, ShuffleNetV1 from megvii, MobileNeXt from its
authors). ``.safetensors`` needs only the ``safetensors`` package; PyTorch pickles need torch and are loaded
with ``weights_only=True`` (``pretrained.torch_checkpoint``). The converted model takes [0, 255] RGB images and
normalizes them as its reference did (``builder.NORMALIZATIONS``). The file is written with the Keras line
this process runs (``TF_USE_LEGACY_KERAS``) and loads on that line.
"""

import inspect
import os
import sys
import tempfile

import numpy as np

from keras_mobile import cli
from keras_mobile.pretrained.torch_checkpoint import read_checkpoint
from keras_mobile.pretrained.torch_mapping import check_state_dict, keras_weights, layer_tensors, torch_reference
from keras_mobile.registry import create_model, model_info

WEIGHTS_SUFFIX = ".weights.h5"
# Set by the converter itself: the whole classifier, with the checkpoint's classes, is converted.
FIXED_OPTIONS = ("include_top", "classes", "weights", "features_only", "pooling", "input_tensor")


def convert_weights(checkpoint, model_name, out_path, **model_overrides):
    """Convert ``checkpoint`` for registered model ``model_name`` into ``out_path`` (``.weights.h5``).

    The model is built with its classifier and as many classes as the checkpoint's classifier has;
    ``model_overrides`` go to its builder too (e.g. ``identity_tensor_multiplier=0.5`` for MobileNeXt). Every
    key and shape is checked before any weight is set: a checkpoint for another model or width raises
    ``torch_mapping.CheckpointMismatch`` (a ValueError) listing the missing and unexpected keys and the first
    shape that differs. The file is staged next to ``out_path``, loaded back into a fresh model the way
    ``weights=`` loads it, and only then renamed into place. Returns ``out_path``.
    """
    info = model_info(model_name, arg="model_name")
    reference = torch_reference(info)
    fixed = sorted(set(model_overrides) & set(FIXED_OPTIONS))
    if fixed:
        raise ValueError(f"convert_weights: {fixed} are set by the converter (the checkpoint's classifier decides "
                         f"classes); accepted overrides: the builder's other arguments.")
    inspect.signature(info.constructor).bind(**model_overrides)  # an unknown keyword: TypeError, before any reading
    out_path = _check_out_path(out_path)
    state_dict = read_checkpoint(checkpoint)
    classifier = state_dict.get(reference.classifier)
    classes = int(classifier.shape[0]) if classifier is not None and classifier.ndim >= 1 else 1000
    options = dict(model_overrides, include_top=True, classes=classes)
    model = create_model(model_name, **options)
    tensors = layer_tensors(model, reference)
    check_state_dict(state_dict, tensors, model_name)
    values = [(entry.layer, keras_weights(entry, state_dict)) for entry in tensors]
    if reference.bgr:  # the reference's first conv reads BGR: reverse its input channels to read RGB
        stem, weights = values[0]
        values[0] = (stem, [weights[0][:, :, ::-1, :]] + weights[1:])
    for layer, weights in values:
        layer.set_weights([np.ascontiguousarray(w, dtype=np.float32) for w in weights])
    _save_atomically(model, out_path, model_name, options)
    return out_path


def _check_out_path(out_path):
    if not isinstance(out_path, (str, os.PathLike)) or not os.fspath(out_path).endswith(WEIGHTS_SUFFIX):
        raise ValueError(f"out_path={out_path!r} is not supported; accepted values: a path ending in "
                         f"{WEIGHTS_SUFFIX!r}.")
    out_path = os.fspath(out_path)
    if os.path.isdir(out_path):
        raise ValueError(f"out_path={out_path!r} is a directory; accepted values: a file path ending in "
                         f"{WEIGHTS_SUFFIX!r}.")
    return out_path


def _save_atomically(model, out_path, model_name, options):
    """Write ``model``'s weights to a temporary file beside ``out_path``, check it loads, rename it into place."""
    directory = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(directory, exist_ok=True)
    handle, staged = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(out_path)[:-len(WEIGHTS_SUFFIX)],
                                      suffix=".tmp" + WEIGHTS_SUFFIX)
    os.close(handle)
    try:
        model.save_weights(staged)
        loaded = create_model(model_name, **dict(options, weights=staged))
        for variable, saved, back in zip(model.weights, model.get_weights(), loaded.get_weights()):
            if not np.array_equal(saved, back):
                raise RuntimeError(f"{out_path}: weight {variable.name} did not survive save_weights/load_weights.")
        os.replace(staged, out_path)
    finally:
        if os.path.exists(staged):
            os.remove(staged)


def main(argv=None):
    """``python -m keras_mobile.convert CHECKPOINT --model NAME --out FILE.weights.h5``; returns the exit code."""
    parser = cli.ArgumentParser(
        "keras_mobile.convert",
        description="Convert a PyTorch-born checkpoint (timm, torchvision, megvii ShuffleNetV1, MobileNeXt) into "
                    "a keras_mobile .weights.h5 file, loadable with create_model(NAME, weights=FILE).")
    parser.add_argument("checkpoint", help=".safetensors (needs the safetensors package) or a PyTorch pickle "
                                           "(.pth, .pth.tar, .pt, .bin, .ckpt; needs torch)")
    parser.add_argument("--model", required=True, help="registered model name, e.g. rexnet_100 (list_models())")
    parser.add_argument("--out", required=True, help="output file, ending in .weights.h5")
    args = parser.parse_args(argv)
    try:
        torch_reference(model_info(args.model, arg="--model"), arg="--model")
        path = convert_weights(args.checkpoint, args.model, args.out)
    except (ValueError, ImportError, OSError) as err:
        return cli.report(parser, err)
    print(f"wrote {path} ({args.model}); load it with create_model({args.model!r}, weights={path!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

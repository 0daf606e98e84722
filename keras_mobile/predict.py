"""Top-k class names for images, from an exported model of any format.

    python -m keras_mobile.predict run/export/model_int8.tflite photo.jpg more/*.jpg
    python -m keras_mobile.predict run/export/saved_model photo.jpg --top 3
    python -m keras_mobile.predict run/export/model.keras photo.jpg
    python -m keras_mobile.predict weights.weights.h5 photo.jpg --model mobilenetv2_100 --resolution 224

    from keras_mobile.predict import Predictor
    predictor = Predictor("run/export/model_int8.tflite")
    predictor(["photo.jpg"])   # [[("tulip", 0.93), ("rose", 0.04), ...]]

MODEL is a SavedModel directory, a ``.tflite`` file (float, fp16 or int8: LiteRT
quantizes the input and dequantizes the output), a ``.keras`` file, or a weights
file (``.weights.h5`` / ``.h5``; then ``--model`` names the registered
architecture and the number of classes comes from the labels). Class names come
from ``--labels``, else from ``labels.txt`` beside the model (``export_model``
writes it, and so does ``python -m train_tpu``), else class ids are printed.
How an image becomes the model's input (``preprocessing``: normalization,
resolution, centre-crop fraction) is read from ``export_report.json`` beside the
model when it is there; flags override it; the defaults are keras_mobile's own
models: [0, 255] RGB in (``raw``), the model's input size, a 0.875 centre crop.
"""

import argparse
import json
import os
import sys

import numpy as np

from keras_mobile import cli
from keras_mobile.builder import NORMALIZATIONS
from keras_mobile.export import LABELS, REPORT
from keras_mobile.validation import check_choice, check_int, check_number, fail

TOP = 5
DEFAULT_CROP_FRACTION = 0.875
FORMATS = ("savedmodel", "tflite", "keras", "weights")
_MODEL_PATHS = "the path of a SavedModel directory, a .tflite file, a .keras file or a weights file (.weights.h5 / .h5)"
_TFLITE_IDENTIFIER = b"TFL3"  # bytes 4-8 of every TFLite flatbuffer


def model_format(path):
    """Which kind of model ``path`` is (one of ``FORMATS``); ValueError naming it otherwise."""
    if not isinstance(path, (str, os.PathLike)):
        fail("model", path, _MODEL_PATHS)
    path = os.fspath(path)
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, "saved_model.pb")):
            return "savedmodel"
    elif os.path.isfile(path):
        for suffix, kind in ((".tflite", "tflite"), (".keras", "keras"), (".h5", "weights")):
            if path.endswith(suffix):
                return kind
    fail("model", path, _MODEL_PATHS)


def read_labels(path):
    """The class names in the labels file at ``path`` (one per line)."""
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.rstrip("\n")]


class Predictor:
    """A model of any exported format, with its labels and preprocessing; call it on image paths."""

    def __init__(self, model, *, labels=None, model_name=None, resolution=None, normalization=None,
                 crop_fraction=None, num_threads=1):
        self.format = model_format(model)
        self.path = os.fspath(model)
        num_threads = check_int("num_threads", num_threads, minimum=1)
        if model_name is not None and self.format != "weights":
            fail("model_name", model_name, f"None for a {self.format} model (only a weights file needs its "
                                           "architecture named)")
        here = os.path.dirname(os.path.abspath(self.path.rstrip("/")))
        settings = _exported_preprocessing(here)
        labels_path = labels if labels is not None else os.path.join(here, LABELS)
        if labels is not None and not os.path.isfile(labels):
            fail("labels", labels, "the path of a labels file (one class name per line)")
        self.labels = read_labels(labels_path) if os.path.isfile(labels_path) else None
        self.normalization = check_choice("normalization", normalization or settings.get("normalization", "raw"),
                                          NORMALIZATIONS)
        self.crop_fraction = check_number(
            "crop_fraction", crop_fraction if crop_fraction is not None else settings.get(
                "crop_fraction", DEFAULT_CROP_FRACTION), 0, 1, low_open=True)
        given = resolution
        resolution = resolution if resolution is not None else settings.get("resolution")
        self._run, self.resolution = self._load(model_name, resolution, num_threads)
        if given is not None and given != self.resolution:  # a model of a fixed size keeps it
            fail("resolution", given, f"None or {self.resolution} (the input side of this {self.format} model)")

    def _load(self, model_name, resolution, num_threads):
        if resolution is not None:
            resolution = check_int("resolution", resolution, minimum=1)
        if self.format == "tflite":
            from keras_mobile import tflite

            with open(self.path, "rb") as f:
                content = f.read()
            if content[4:8] != _TFLITE_IDENTIFIER:
                fail("model", self.path, "a TFLite model file (this .tflite file is not a TFLite flatbuffer)")
            runner = tflite.Runner(content, num_threads=num_threads)
            return runner, int(runner.input["shape"][1])
        if self.format == "savedmodel":
            import tensorflow as tf

            signature = tf.saved_model.load(self.path).signatures["serving_default"]
            if resolution is None:
                fail("resolution", resolution, "the input side in pixels (this SavedModel takes any size; "
                                               f"no {REPORT} beside it says which)")
            return (lambda images: next(iter(signature(image=tf.constant(images)).values())).numpy()), resolution
        from keras_mobile.backend import keras

        if self.format == "keras":
            model = keras.models.load_model(self.path, compile=False)
        else:
            model = self._weights_model(model_name, resolution)
        side = model.inputs[0].shape[1] or resolution
        if side is None:
            fail("resolution", resolution, "the input side in pixels (the model takes any size)")
        return (lambda images: np.asarray(model(images, training=False))), int(side)

    def _weights_model(self, model_name, resolution):
        from keras_mobile import registry

        if model_name is None:
            fail("model_name", model_name, "a registered model name (--model) when MODEL is a weights file: the "
                                           "architecture to load it into")
        info = registry.model_info(model_name, arg="model_name")
        if self.labels is None:
            fail("labels", None, "a labels file (--labels, or labels.txt beside it) when MODEL is a weights file: "
                                 "one class name per model output")
        if resolution is None:
            fail("resolution", None, "the input side in pixels (--resolution) when MODEL is a weights file")
        return registry.create_model(model_name, input_shape=info.input_shape(resolution), classes=len(self.labels),
                                     weights=self.path)

    def preprocess(self, path):
        """The image at ``path`` as the model's input: centre crop, bilinear resize, normalization (float32)."""
        import tensorflow as tf

        try:
            data = tf.io.read_file(path)
            image = tf.io.decode_image(data, channels=3, expand_animations=False)
        except (tf.errors.NotFoundError, tf.errors.InvalidArgumentError) as error:
            raise ValueError(f"image {path!r} cannot be read as an image ({error.message.splitlines()[0]}).") \
                from None
        height, width = int(image.shape[0]), int(image.shape[1])
        side = max(1, int(self.crop_fraction * min(height, width)))
        top, left = (height - side + 1) // 2, (width - side + 1) // 2
        image = tf.image.resize(image[top:top + side, left:left + side], [self.resolution] * 2, method="bilinear")
        image = tf.saturate_cast(tf.round(image), tf.uint8).numpy().astype("float32")
        scale_offset = NORMALIZATIONS[self.normalization]
        if scale_offset is not None:
            scale, offset = (np.asarray(v, "float32") for v in scale_offset)
            image = image * scale + offset
        return image

    def scores(self, paths):
        """Class probabilities, one row per image (a softmax is applied to outputs that are not already ones)."""
        outputs = np.asarray(self._run(np.stack([self.preprocess(p) for p in paths])), "float64")
        outputs = outputs.reshape(len(paths), -1)
        if not (np.all(outputs >= 0) and np.allclose(outputs.sum(-1), 1.0, atol=2e-2)):
            outputs = np.exp(outputs - outputs.max(-1, keepdims=True))
            outputs /= outputs.sum(-1, keepdims=True)
        if self.labels is not None and len(self.labels) != outputs.shape[-1]:
            fail("labels", len(self.labels), f"{outputs.shape[-1]} class names (the model's outputs)")
        return outputs

    def __call__(self, paths, top=TOP):
        """``[[(class name, score), ...] top-k per image]``."""
        top = check_top(top)
        listed = [] if isinstance(paths, (str, bytes, os.PathLike)) else list(paths)
        if not listed:
            fail("paths", paths, "a non-empty list of image paths (one image: a list of one path)")
        results = []
        for row in self.scores(listed):
            best = np.argsort(-row, kind="stable")[:top]
            results.append([(self.labels[i] if self.labels else str(i), float(row[i])) for i in best])
        return results


def check_top(top):
    """``top`` if it is a number of classes to list per image (an int >= 1)."""
    return check_int("top", top, minimum=1)


def _exported_preprocessing(directory):
    """The ``preprocessing`` entry of ``export_report.json`` in ``directory``, else {}."""
    path = os.path.join(directory, REPORT)
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f).get("preprocessing") or {}


def main(argv=None):
    parser = cli.ArgumentParser("keras_mobile.predict", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="SavedModel directory, .tflite, .keras or weights file")
    parser.add_argument("images", nargs="+", help="image files (JPEG, PNG, BMP, GIF)")
    parser.add_argument("--top", type=int, default=TOP, help="classes per image (default 5)")
    parser.add_argument("--labels", help=f"class names file (default: {LABELS} beside the model)")
    parser.add_argument("--model", dest="model_name", help="registered architecture, for a weights file")
    parser.add_argument("--resolution", type=int, help=f"input side (default: {REPORT} or the model's)")
    parser.add_argument("--normalization", choices=sorted(NORMALIZATIONS), help="default: the export's, else raw")
    parser.add_argument("--crop_fraction", type=float, help="centre-crop fraction (default: the export's, else 0.875)")
    args = parser.parse_args(argv)
    try:
        check_top(args.top)  # before the model loads
        predictor = Predictor(args.model, labels=args.labels, model_name=args.model_name, resolution=args.resolution,
                              normalization=args.normalization, crop_fraction=args.crop_fraction)
        results = predictor(args.images, top=args.top)
    except ValueError as error:
        return cli.report(parser, error)
    for path, ranked in zip(args.images, results):
        print(path)
        for name, score in ranked:
            print(f"  {score:.4f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Export a Keras model to SavedModel, TFLite (fp32 / fp16 / int8) and ONNX, verified.

    keras_mobile.export_model(model, "out/mnv2", formats=("savedmodel", "tflite_fp32", "tflite_int8", "onnx"))
    python -m keras_mobile.export mobilenetv2_100 --formats savedmodel,tflite_fp32,tflite_int8,onnx --out DIR

Works on Keras 3 (TensorFlow backend) and tf_keras models. Artifacts, in ``directory``:

    saved_model/                signature ``serving_default``: float32 ``image`` (any batch, h, w, c) -> ``output_0``
    model.keras                 the Keras model (``keras.models.load_model``, same Keras line)
    model_fp32.tflite           batch 1, static shapes, builtin ops only
    model_fp16.tflite           float16 weights
    model_dynamic_int8.tflite   int8 weights, dynamic-range activations
    model_int8.tflite           full-integer, int8 (or uint8) input and output, calibrated on representative data
    model.onnx                  opset 17, input ``image`` (any batch, h, w, c) (for onnxruntime / TensorRT)
    labels.txt                  the class names, one per line (with ``labels=``)
    export_report.json          the verification figures below (and ``preprocessing=``)

Verification: before ``export_model`` returns, each artifact is loaded by its own runtime
(TensorFlow, LiteRT ``ai_edge_litert``, onnxruntime) and run on sample images; its
outputs are compared with the Keras model's: the largest absolute difference,
and top-1 agreement (the fraction of images whose arg-max matches). Thresholds
(``TOLERANCES``; differences are relative to ``max(1, max |keras output|)``):

* keras: max abs diff <= 1e-5 (reloaded with ``keras.models.load_model``).
* savedmodel, tflite_fp32, onnx: max abs diff <= 1e-4.
* tflite_fp16: max abs diff <= 1e-2.
* tflite_dynamic_int8, tflite_int8: max abs diff <= 0.25 and top-1 agreement >= 0.75.
  (0.25: a trained classifier's probability for an image near a decision
  boundary can move by more than 0.1 under int8; the trained default run
  once measured 0.111 over its 64 sample images.)
  Int8 is lossy by design, so the check asks "is this still the same classifier?".
  It is only meaningful when the outputs vary between images and are not
  near-uniform: a 1000-class softmax of an untrained model puts ~1e-3 on every
  class, below one int8 step (1/256), and no int8 model can keep its arg-max.
  For random-weight models use a few classes and ``keras_mobile.testing.calibrate_batchnorm`` (BN
  statistics taken from the representative images, so every layer sees
  unit-scale activations as in a trained network) and varied sample images
  (``keras_mobile.testing.sample_images``: smooth random scenes, not i.i.d. pixel noise, whose
  global averages are all alike). The report records ``float_top1_classes``
  (how many distinct arg-maxes the Keras model gave), so a degenerate check is
  visible.

A failed check raises ``ExportError`` naming the format and the figure.

Inference rewrites: the TFLite formats are converted from ``keras_mobile.optimize_for_inference(model)``
(large depthwise kernels cut into pieces XNNPACK runs fast, BatchNorms the converter cannot fold folded;
the same function) unless ``optimize=False``; their parity checks still compare against ``model``
itself. The report's ``inference_rewrites`` says what was rewritten and each TFLite format's
``optimized`` whether it was built from the rewritten graph. SavedModel, ``.keras`` and ONNX keep the
model as it is (TensorRT and onnxruntime choose their own kernels).

A quantization-aware model (``keras_mobile.compression.quantize_model``, tf_keras)
exports as ``savedmodel`` and ``tflite_int8`` only: its int8 TFLite takes the
ranges of its fake-quant nodes (``compression.convert_qat``, no calibration)
and is checked against the QAT Keras model.

Atomicity: everything is built and verified in a temporary directory beside
``directory`` (same filesystem), then renamed into place; if any format fails,
the temporary directory is deleted and ``directory`` is untouched (a good
earlier export is never overwritten by a failed one). Artifacts are committed
one rename each (the SavedModel directory by swap), and ``export_report.json``
last.
"""

import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

from keras_mobile import backend, cli, tflite
from keras_mobile.testing import calibrate_batchnorm, sample_images
from keras_mobile.validation import check_int, check_number, fail

FORMATS = ("savedmodel", "keras", "tflite_fp32", "tflite_fp16", "tflite_dynamic_int8", "tflite_int8", "onnx")
DEFAULT_FORMATS = ("savedmodel", "tflite_fp32", "tflite_int8", "onnx")
ARTIFACTS = {
    "savedmodel": "saved_model",
    "keras": "model.keras",
    "tflite_fp32": "model_fp32.tflite",
    "tflite_fp16": "model_fp16.tflite",
    "tflite_dynamic_int8": "model_dynamic_int8.tflite",
    "tflite_int8": "model_int8.tflite",
    "onnx": "model.onnx",
}
REPORT = "export_report.json"
LABELS = "labels.txt"  # the class names, one per line, in output order (``labels=``)
# A quantization-aware (TF-MOT QAT) model: full-integer TFLite from its fake-quant ranges, or a SavedModel.
QAT_FORMATS = ("savedmodel", "tflite_int8")
_INT8_TOLERANCE = {"max_abs_diff": 0.25, "min_top1": 0.75}
TOLERANCES = {
    "savedmodel": {"max_abs_diff": 1e-4, "min_top1": None},
    "keras": {"max_abs_diff": 1e-5, "min_top1": None},
    "tflite_fp32": {"max_abs_diff": 1e-4, "min_top1": None},
    "tflite_fp16": {"max_abs_diff": 1e-2, "min_top1": None},
    "tflite_dynamic_int8": dict(_INT8_TOLERANCE),
    "tflite_int8": dict(_INT8_TOLERANCE),
    "onnx": {"max_abs_diff": 1e-4, "min_top1": None},
}
ONNX_OPSET = 17


class ExportError(RuntimeError):
    """An artifact failed to build or failed its parity check; nothing was written."""


@dataclasses.dataclass
class FormatReport:
    """One artifact's verification figures."""

    format: str
    path: str
    runtime: str
    bytes: int
    max_abs_diff: float
    top1_agreement: float
    tolerance: dict
    seconds: float
    tflite: dict = None  # ops, max_rank, input/output dtypes (TFLite formats only)
    optimized: bool = False  # built from optimize_for_inference(model) (TFLite formats)


# --------------------------------------------------------------------------- builders / checkers
def _build_savedmodel(model, shape, path):
    import tensorflow as tf

    function = tflite.serving_function(model, shape, batch=None)
    if backend.IS_LEGACY_KERAS:
        # A tf.Module holding the variables (not the Keras model) skips tf_keras' per-layer SavedModel traces.
        module = tf.Module()
        module.model_variables = list(model.variables)
        module.serve = function
        tf.saved_model.save(module, path, signatures={"serving_default": function.get_concrete_function()})
    else:
        archive = backend.keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serve", function, input_signature=function.input_signature)
        archive.write_out(path, verbose=False)


def _run_savedmodel(path, images):
    import tensorflow as tf

    signature = tf.saved_model.load(path).signatures["serving_default"]
    outputs = signature(image=tf.constant(images))
    return next(iter(outputs.values())).numpy()


def _build_onnx(model, shape, path, opset):
    import onnx
    import tensorflow as tf
    import tf2onnx
    from tf2onnx import tf_loader

    frozen = tflite.frozen_function(model, shape, batch=None)
    input_name, output_name = frozen.inputs[0].name, frozen.outputs[0].name
    graph_def = frozen.graph.as_graph_def()
    # Keras 3 runs grouped convolutions through a jit-compiled tf.function; the frozen graph keeps those
    # as (Stateful)PartitionedCall nodes (tf_keras too), which tf2onnx cannot convert. Drop the markers
    # that stop grappler from inlining them.
    for item in list(graph_def.library.function) + list(graph_def.node):
        for marker in ("_XlaMustCompile", "_noinline"):
            if marker in item.attr:
                del item.attr[marker]
    with tf.Graph().as_default():
        graph_def = tf_loader.tf_optimize([input_name], [output_name], graph_def)
    proto, _ = tf2onnx.convert.from_graph_def(graph_def, input_names=[input_name], output_names=[output_name], opset=opset)
    _rename_onnx_io(proto, {input_name: "image", output_name: "output_0"})
    onnx.checker.check_model(proto)
    onnx.save(proto, path)


def _rename_onnx_io(proto, names):
    graph = proto.graph
    for value in list(graph.input) + list(graph.output):
        if value.name in names:
            value.name = names[value.name]
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in names:
                node.input[i] = names[name]
        for i, name in enumerate(node.output):
            if name in names:
                node.output[i] = names[name]


def _run_onnx(path, images):
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: images})[0]


def _compare(label, reference, outputs, tolerance):
    outputs = np.asarray(outputs, "float32").reshape(reference.shape)
    scale = max(1.0, float(np.abs(reference).max()))
    max_abs_diff = float(np.abs(outputs - reference).max()) / scale
    top1 = float(np.mean(reference.reshape(len(reference), -1).argmax(-1) == outputs.reshape(len(outputs), -1).argmax(-1)))
    if not np.all(np.isfinite(outputs)):
        raise ExportError(f"{label}: the artifact's outputs contain NaN or inf.")
    if max_abs_diff > tolerance["max_abs_diff"]:
        raise ExportError(
            f"{label}: max abs difference to the Keras model is {max_abs_diff:.3g} "
            f"(tolerance {tolerance['max_abs_diff']:g})."
        )
    if tolerance.get("min_top1") is not None and top1 < tolerance["min_top1"]:
        raise ExportError(
            f"{label}: top-1 agreement with the Keras model is {top1:.3f} (required >= {tolerance['min_top1']:g}; "
            f"max abs difference {max_abs_diff:.3g})."
        )
    return max_abs_diff, top1


# --------------------------------------------------------------------------- public API
def export_model(
    model,
    directory,
    formats=DEFAULT_FORMATS,
    *,
    resolution=None,
    representative_data=None,
    sample_inputs=None,
    int8_io="int8",
    tolerances=None,
    opset=ONNX_OPSET,
    calibration_steps=100,
    labels=None,
    preprocessing=None,
    optimize=True,
):
    """Export ``model`` to ``formats`` in ``directory``, verify every artifact, return the report dict.

    resolution: required when the model has None spatial dims (int or (h, w)).
    representative_data: int8 calibration images in the model's input
      convention (numpy array, tf.data.Dataset, or a callable returning an
      iterable of batches); default ``sample_images(shape, 32, seed=1)``.
    sample_inputs: float images for the parity checks; default ``sample_images(shape, 16, seed=2)``.
    int8_io: "int8" or "uint8", the full-integer model's input/output type.
    tolerances: ``{format: {"max_abs_diff": x, "min_top1": y}}`` overriding ``TOLERANCES``.
    labels: the class names in output order, written to ``labels.txt`` beside the models (one per
      line; ``python -m keras_mobile.predict`` prints them); their number must be the model's outputs.
    preprocessing: a JSON-able dict saved in the report as ``preprocessing`` (e.g. ``{"normalization":
      "raw", "crop_fraction": 0.875}``: how images become the model's input, read by ``predict``).
    optimize: convert the TFLite formats from ``optimize_for_inference(model)`` (default); False converts
      ``model`` as it is. A QAT model is always converted as it is (its ranges belong to its graph).
    """
    tflite.require_tensorflow(model)
    formats = _check_formats(formats)
    directory = _check_directory(directory)
    from keras_mobile.compression.qat import convert_qat, is_quantized  # no TF-MOT import: plain layer checks

    quantized = is_quantized(model)
    if quantized:
        unsupported = [f for f in formats if f not in QAT_FORMATS]
        if unsupported:
            raise ValueError(
                f"formats={formats!r}: model '{model.name}' is a quantization-aware (QAT) model, exported as "
                f"{list(QAT_FORMATS)} only; {unsupported} need the float model."
            )
    if int8_io not in tflite.IO_DTYPES:
        raise ValueError(f"int8_io={int8_io!r} is not supported; accepted values: {list(tflite.IO_DTYPES)}.")
    shape = tflite.input_shape(model, resolution)
    checks = _check_tolerances(tolerances)
    check_int("opset", opset, minimum=1)
    if calibration_steps is not None:  # None: every representative image
        check_int("calibration_steps", calibration_steps, minimum=1)
    if preprocessing is not None:
        _check_preprocessing(preprocessing)
    if not isinstance(optimize, bool):
        raise ValueError(f"optimize={optimize!r} is not supported; accepted values: True, False.")
    if sample_inputs is None:
        sample_inputs = sample_images(shape, 16, seed=2)
    sample_inputs = tflite.image_batch("sample_inputs", sample_inputs, shape)
    if representative_data is None:
        representative_data = sample_images(shape, 32, seed=1)
    elif "tflite_int8" in formats and not quantized:
        representative_data = tflite.check_representative_data(representative_data, shape)
    reference = np.asarray(model(sample_inputs, training=False), "float32")
    labels = _check_labels(labels, reference.shape[-1])
    rewrites = None
    tflite_model = model
    if optimize and not quantized and any(name.startswith("tflite_") for name in formats):
        from keras_mobile.inference_rewrites import optimize_for_inference

        optimized, rewrites = optimize_for_inference(model, input_size=shape[:2], return_report=True)
        tflite_model = optimized if rewrites.rewrites else model  # nothing rewritten: the same graph

    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(directory)}.export-", dir=parent)
    try:
        results = {}
        frozen = None
        for name in formats:
            start = time.perf_counter()
            path = os.path.join(staging, ARTIFACTS[name])
            label = f"export format {name!r} of model '{model.name}'"
            facts = None
            try:
                if name == "savedmodel":
                    runtime = "tensorflow"
                    _build_savedmodel(model, shape, path)
                    outputs = _run_savedmodel(path, sample_inputs)
                elif name == "keras":
                    runtime = "keras"
                    model.save(path)
                    outputs = np.asarray(backend.keras.models.load_model(path, compile=False)(sample_inputs))
                elif name == "onnx":
                    runtime = "onnxruntime"
                    _build_onnx(model, shape, path, opset)
                    outputs = _run_onnx(path, sample_inputs)
                else:
                    runtime = "ai_edge_litert"
                    if quantized:  # ranges from the fake-quant nodes; no calibration
                        content = convert_qat(model, shape[:2], int8_io, check=False)
                    else:
                        frozen = frozen if frozen is not None else tflite.frozen_function(tflite_model, shape)
                        content = tflite.convert(
                            frozen, name[len("tflite_"):], representative_data, int8_io, calibration_steps
                        )
                    with open(path, "wb") as f:
                        f.write(content)
                    facts = tflite.check_builtin(content, label)
                    outputs = tflite.Runner(content)(sample_inputs)
            except ExportError:
                raise
            except Exception as error:  # conversion / runtime failures, named by format
                raise ExportError(f"{label} failed: {type(error).__name__}: {error}") from error
            max_abs_diff, top1 = _compare(label, reference, outputs, checks[name])
            results[name] = FormatReport(
                format=name,
                path=ARTIFACTS[name],
                runtime=runtime,
                bytes=_size(path),
                max_abs_diff=max_abs_diff,
                top1_agreement=top1,
                tolerance=checks[name],
                seconds=round(time.perf_counter() - start, 2),
                tflite=facts,
                optimized=name.startswith("tflite_") and tflite_model is not model,
            )
        report = {
            "model": model.name,
            "keras_line": backend.keras_line(),
            "input_shape": list(shape),
            "input_convention": "RGB float32 in the model's own input range (keras_mobile models: [0, 255])",
            "samples": int(len(sample_inputs)),
            "float_top1_classes": int(len(np.unique(reference.reshape(len(reference), -1).argmax(-1)))),
            "formats": {name: dataclasses.asdict(result) for name, result in results.items()},
            "inference_rewrites": None if rewrites is None else {
                "split_depthwise": rewrites.count("split_depthwise"),
                "fold_batchnorm": rewrites.count("fold_batchnorm"),
                "merge_mixconv": rewrites.count("merge_mixconv"),
                "left_whole": rewrites.count("left_whole"),
                "layers": [dataclasses.asdict(r) for r in rewrites.rewrites],
            },
        }
        extra = []
        if labels is not None:
            with open(os.path.join(staging, LABELS), "w", encoding="utf-8") as f:
                f.write("".join(f"{label}\n" for label in labels))
            report["labels"] = LABELS
            extra.append(LABELS)
        if preprocessing is not None:
            report["preprocessing"] = dict(preprocessing)
        with open(os.path.join(staging, REPORT), "w") as f:
            json.dump(report, f, indent=2)
        _commit(staging, directory, [ARTIFACTS[name] for name in formats] + extra + [REPORT])
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def _check_directory(directory):
    """``directory`` as an absolute path, unless it is not a path or an existing file."""
    if not isinstance(directory, (str, os.PathLike)) or os.path.isfile(directory):
        fail("directory", directory, "the path of a directory (created if missing; not an existing file)")
    return os.path.abspath(os.fspath(directory))


def _check_tolerances(tolerances):
    """``TOLERANCES`` updated by ``tolerances``: ``{format: {"max_abs_diff": number, "min_top1": number or None}}``."""
    checks = {name: dict(value) for name, value in TOLERANCES.items()}
    accepted = (f"None or a dict {{format: {{'max_abs_diff': number, 'min_top1': number or None}}}} with formats "
                f"from {list(FORMATS)}")
    if tolerances is not None and not isinstance(tolerances, dict):
        fail("tolerances", tolerances, accepted)
    for name, value in (tolerances or {}).items():
        if name not in FORMATS or not isinstance(value, dict) or not set(value) <= {"max_abs_diff", "min_top1"}:
            fail("tolerances", tolerances, accepted)
        if "max_abs_diff" in value:
            check_number(f"tolerances[{name!r}]['max_abs_diff']", value["max_abs_diff"])
        if value.get("min_top1") is not None:
            check_number(f"tolerances[{name!r}]['min_top1']", value["min_top1"], 0, 1)
        checks[name].update(value)
    return checks


def _check_preprocessing(preprocessing):
    """``preprocessing`` must be a dict that JSON can write (it goes into the report)."""
    try:
        ok = isinstance(preprocessing, dict) and json.dumps(preprocessing) is not None
    except (TypeError, ValueError):
        ok = False
    if not ok:
        fail("preprocessing", preprocessing, "None or a JSON-able dict, e.g. {'normalization': 'raw', "
                                             "'crop_fraction': 0.875}")


def _check_labels(labels, num_outputs):
    """``labels`` as a list of one-line strings, one per model output; None stays None."""
    if labels is None:
        return None
    if isinstance(labels, str):
        fail("labels", labels, f"None or a list of {num_outputs} class names (a string is not a list of them)")
    labels = list(labels)
    if len(labels) != num_outputs or not all(isinstance(x, str) and x and "\n" not in x for x in labels):
        raise ValueError(f"labels (a list of {len(labels)} items) is not supported; accepted values: None or "
                         f"{num_outputs} non-empty one-line class names, one per model output.")
    return labels


def _check_formats(formats):
    if isinstance(formats, str):
        formats = [f for f in formats.split(",") if f]
    if not isinstance(formats, (list, tuple)):
        fail("formats", formats, f"a non-empty subset of {list(FORMATS)} (a list, or a comma-separated string)")
    formats = list(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"formats={formats!r} is not supported; accepted values: a non-empty subset of {list(FORMATS)}.")
    return formats


def _size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def _commit(staging, directory, names):
    """Move verified artifacts from ``staging`` into ``directory``; the report goes last."""
    if not os.path.exists(directory):
        os.rename(staging, directory)  # one atomic rename
        return
    for name in names:
        source, target = os.path.join(staging, name), os.path.join(directory, name)
        if os.path.isdir(source):
            old = None
            if os.path.exists(target):
                old = tempfile.mkdtemp(prefix=f".{name}.old-", dir=directory)
                os.rename(target, os.path.join(old, name))
            os.rename(source, target)
            if old:
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(source, target)
    shutil.rmtree(staging, ignore_errors=True)


# --------------------------------------------------------------------------- CLI
def format_report(report):
    lines = [
        f"model {report['model']} ({report['keras_line']}), input {tuple(report['input_shape'])}, "
        f"{report['samples']} sample images, {report['float_top1_classes']} distinct Keras top-1 classes",
        f"{'format':22} {'runtime':15} {'size':>10} {'max|diff|':>10} {'top-1':>6} {'s':>6}  ops",
    ]
    rewrites = report.get("inference_rewrites")
    if rewrites:
        lines.insert(1, f"TFLite from optimize_for_inference: {rewrites['split_depthwise']} depthwise convs split, "
                        f"{rewrites['fold_batchnorm']} BatchNorms folded, {rewrites['merge_mixconv']} MixConvs merged")
    for name, entry in report["formats"].items():
        ops = ",".join(entry["tflite"]["ops"]) if entry.get("tflite") else ""
        lines.append(
            f"{name:22} {entry['runtime']:15} {entry['bytes'] / 1e6:>9.2f}M {entry['max_abs_diff']:>10.2e} "
            f"{entry['top1_agreement']:>6.3f} {entry['seconds']:>6.1f}  {ops}"
        )
    return "\n".join(lines)


def main(argv=None):
    from keras_mobile.registry import create_model, model_info

    parser = cli.ArgumentParser("keras_mobile.export", description=__doc__.splitlines()[0])
    parser.add_argument("name", help="a registered model name (see keras_mobile.list_models())")
    parser.add_argument("--formats", default=",".join(DEFAULT_FORMATS), help=f"comma-separated subset of {','.join(FORMATS)}")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--resolution", type=int, help="input resolution (default: the model's default)")
    parser.add_argument("--weights", help="a local weights file (default: random weights, BN calibrated on sample images)")
    parser.add_argument("--classes", type=int, help="override the number of classes")
    parser.add_argument("--int8-io", default="int8", choices=tflite.IO_DTYPES, help="full-integer input/output type")
    parser.add_argument("--calibration-images", type=int, default=32, help="random representative images for int8")
    parser.add_argument("--no-optimize", action="store_true",
                        help="convert the TFLite formats from the model as it is (no optimize_for_inference)")
    args = parser.parse_args(argv)
    try:  # every flag is checked before the model is built
        info = model_info(args.name)
        shape = info.input_shape(args.resolution, arg="--resolution")
        formats = _check_formats(args.formats)
        calibration_images = check_int("--calibration-images", args.calibration_images, minimum=1)
        overrides = {"input_shape": shape}
        if args.classes is not None:
            overrides["classes"] = check_int("--classes", args.classes, minimum=1)
        if args.weights is not None:
            overrides["weights"] = args.weights
        directory = _check_directory(args.out)
        model = create_model(args.name, **overrides)
        representative = sample_images(shape, calibration_images, seed=1)
        if not args.weights:
            print(
                "random weights: BatchNorm scales set to 0.6 and statistics calibrated on the representative "
                "images, so the parity checks compare a stable network (pass --weights for a trained one)",
                file=sys.stderr,
            )
            calibrate_batchnorm(model, representative, gamma=0.6)
        report = export_model(model, directory, formats, representative_data=representative, int8_io=args.int8_io,
                              optimize=not args.no_optimize)
    except (ValueError, ExportError) as error:
        status = cli.report(parser, error)
        if isinstance(error, ExportError) and not args.weights and (args.classes or 1000) >= 100:
            print(f"hint: an untrained {args.classes or 1000}-class softmax is near-uniform, below one int8 step, so no "
                  "int8 model keeps its arg-max: pass --classes 10 (or --weights FILE).", file=sys.stderr)
        return status
    print(format_report(report))
    print(f"written to {directory} (report: {REPORT})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

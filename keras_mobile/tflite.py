"""TFLite conversion and LiteRT running, shared by ``export`` and ``benchmark``.

A Keras model (Keras 3 on the TensorFlow backend, or tf_keras) is traced at a
fixed input shape, its variables are frozen into constants, and the frozen
graph goes to ``tf.lite.TFLiteConverter`` with builtin ops only (no Flex /
SELECT_TF_OPS). Freezing first is what makes Keras 3 models convert cleanly:
converting an unfrozen ``tf.function`` leaves READ_VARIABLE / VAR_HANDLE ops in
the flatbuffer. Batch is 1 and spatial dims are static, so XNNPACK gets static
shapes.

Precisions: ``fp32``; ``fp16`` (float16 weights, float32 compute on CPU);
``dynamic_int8`` (int8 weights, activations quantized on the fly); ``int8``
(full-integer: every tensor int8, calibrated on representative data, with
int8 or uint8 input/output).
"""

import re

import numpy as np

from keras_mobile import backend
from keras_mobile.validation import check_int, fail

PRECISIONS = ("fp32", "fp16", "dynamic_int8", "int8")
IO_DTYPES = ("int8", "uint8")
MAX_TENSOR_RANK = 4
_BUILTIN_OP = re.compile(r"^[A-Z][A-Z0-9_]*$")


def require_tensorflow(model=None):
    """Raise a clear ValueError unless TF graphs can be traced from this Keras line."""
    if backend.backend_name() != "tensorflow":
        raise ValueError(
            f"exporting needs TensorFlow graphs, but Keras 3 runs on the {backend.backend_name()!r} backend. "
            "SavedModel, TFLite and ONNX (via tf2onnx) are all produced from a traced tf.function. "
            "Set KERAS_BACKEND=tensorflow before importing keras (or TF_USE_LEGACY_KERAS=1 for tf_keras), "
            "rebuild the model there and load its weights (model.save_weights / weights=FILE)."
        )
    import tensorflow as tf  # noqa: F401  (a clear ImportError if TensorFlow is missing)

    if model is not None:
        if not all(hasattr(model, attribute) for attribute in ("inputs", "outputs", "name")):
            fail("model", model, "a built Keras model (keras_mobile.create_model(...), keras.Model(inputs, outputs))")
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise ValueError(
                f"model '{model.name}' has {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
                "export supports one image input and one output tensor (build it with features_only=False)."
            )


def input_shape(model, resolution=None):
    """The static ``(height, width, channels)`` to export at.

    ``resolution`` (int or (h, w)) is required when the model has None spatial
    dims, and must match the model's own size when it has fixed ones.
    """
    height, width, channels = tuple(model.inputs[0].shape[1:])
    if resolution is not None:
        pair = isinstance(resolution, (tuple, list)) and len(resolution) == 2
        size = tuple(resolution) if pair else (resolution, resolution)
        for side in size:
            if isinstance(side, bool) or not isinstance(side, int) or side < 1:
                fail("resolution", resolution, "None, an int >= 1 or a (height, width) pair of them")
        for fixed, wanted in zip((height, width), size):
            if fixed is not None and fixed != wanted:
                raise ValueError(
                    f"resolution={resolution!r} does not match model '{model.name}' input size "
                    f"{(height, width)}; accepted values: None or {(height, width)}."
                )
        height, width = size
    if height is None or width is None:
        raise ValueError(
            f"model '{model.name}' accepts any resolution (input shape {tuple(model.inputs[0].shape)}); "
            "pass resolution=R (or --resolution R) so the exported graph gets static shapes."
        )
    return int(height), int(width), int(channels)


def serving_function(model, shape, batch=1):
    """A ``tf.function`` running ``model`` in inference mode on ``(batch, *shape)`` float32 input."""
    import tensorflow as tf

    spec = tf.TensorSpec((batch, *shape), tf.float32, name="image")
    return tf.function(lambda image: model(image, training=False), input_signature=[spec])


def frozen_function(model, shape, batch=1):
    """The model's inference graph at ``(batch, *shape)`` with variables frozen to constants."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    return convert_variables_to_constants_v2(serving_function(model, shape, batch).get_concrete_function())


def image_batch(arg, value, shape):
    """``value`` as a float32 array ``(n, *shape)`` of n >= 1 images (one image ``shape`` gets a batch axis);
    ValueError naming ``arg`` if it is not numbers of that shape."""
    accepted = (f"an array (n, {', '.join(map(str, shape))}) of n >= 1 images, image shape {tuple(shape)}, in the "
                "model's input range")
    try:
        array = np.asarray(value, dtype="float32")
    except (TypeError, ValueError):
        fail(arg, value, accepted)
    if array.ndim == len(shape):
        array = array[None]
    if tuple(array.shape[1:]) != tuple(shape) or len(array) == 0:
        fail(arg, f"an array of shape {array.shape}", accepted)
    return array


def check_representative_data(data, shape, arg="representative_data"):
    """``data`` if ``representative_batches`` can read it, checked before any conversion starts; ValueError
    naming ``arg`` otherwise. A callable's and an iterator's batches are checked as they are read."""
    accepted = (f"an array of images (n, {', '.join(map(str, shape))}), a tf.data.Dataset of such images (or of "
                "(images, labels)), a list of such batches, or a zero-argument callable returning an iterable of them")
    if isinstance(data, (str, bytes)) or data is None:
        fail(arg, data, accepted)
    if isinstance(data, np.ndarray):
        return image_batch(arg, data, shape)
    if callable(data):
        return data
    import tensorflow as tf

    if isinstance(data, tf.data.Dataset):
        spec = data.element_spec
        spec = spec[0] if isinstance(spec, (tuple, list)) else spec
        images = getattr(spec, "shape", None)
        if images is None or (images.rank is not None and (
                images.rank not in (3, 4) or not images[-3:].is_compatible_with(shape))):
            fail(arg, f"a tf.data.Dataset of {spec}", accepted)
        return data
    if isinstance(data, (list, tuple)):
        for batch in data:
            _image_batch_of(arg, batch, shape)
        return data
    if not hasattr(data, "__iter__"):
        fail(arg, data, accepted)
    return data


def _image_batch_of(arg, batch, shape):
    """The images of one representative batch: an array, or the first item of an (images, labels) pair."""
    return image_batch(arg, batch[0] if isinstance(batch, (tuple, list)) else batch, shape)


def representative_batches(data, shape, limit=None):
    """Yield ``[float32 (1, h, w, c)]`` lists for the converter's representative_dataset.

    ``data``: a numpy array ``(n, h, w, c)``, a ``tf.data.Dataset`` (of images
    or ``(images, labels)``), a list of batches, or a zero-argument callable returning an iterable
    of batches (arrays, or lists/tuples whose first item is the image batch).
    Batches are split into single images since the TFLite graph has batch 1.
    """
    if callable(data) and not hasattr(data, "shape"):
        data = data()
    count = 0
    for batch in (data if not hasattr(data, "shape") else [data]):
        for image in _image_batch_of("representative_data", batch, shape):
            yield [image[None]]
            count += 1
            if limit is not None and count >= limit:
                return
    if count == 0:
        raise ValueError("representative data yielded no images.")


def convert(frozen, precision="fp32", representative_data=None, io_dtype="int8", calibration_steps=None):
    """Convert a frozen concrete function to TFLite bytes (builtin ops only)."""
    import tensorflow as tf

    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not supported; accepted values: {list(PRECISIONS)}.")
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if precision == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "dynamic_int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif precision == "int8":
        if io_dtype not in IO_DTYPES:
            raise ValueError(f"io_dtype={io_dtype!r} is not supported; accepted values: {list(IO_DTYPES)}.")
        if representative_data is None:
            raise ValueError("full-integer int8 needs representative_data (images in the model's input convention).")
        if calibration_steps is not None:
            check_int("calibration_steps", calibration_steps, minimum=1)
        shape = tuple(frozen.inputs[0].shape[1:])
        representative_data = check_representative_data(representative_data, shape)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: representative_batches(representative_data, shape, calibration_steps)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = getattr(tf, io_dtype)
        converter.inference_output_type = getattr(tf, io_dtype)
    return converter.convert()


def convert_model(model, precision="fp32", resolution=None, **kwargs):
    """``convert(frozen_function(model, input_shape(model, resolution)), precision, **kwargs)``."""
    require_tensorflow(model)
    return convert(frozen_function(model, input_shape(model, resolution)), precision, **kwargs)


# --------------------------------------------------------------------------- running
def interpreter(content, num_threads=1, delegates=True):
    """A LiteRT interpreter, allocated; ``delegates=False`` turns off the default XNNPACK delegate."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if delegates else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    result = Interpreter(model_content=content, num_threads=num_threads, experimental_op_resolver_type=resolver)
    result.allocate_tensors()
    return result


class Runner:
    """Runs a TFLite model on float images, quantizing inputs / dequantizing outputs as needed."""

    def __init__(self, content, num_threads=1, delegates=True):
        self.interpreter = interpreter(content, num_threads, delegates)
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    @property
    def xnnpack(self):
        """Whether a delegate (XNNPACK on CPU) took over nodes of the graph."""
        return any(op["op_name"] == "DELEGATE" for op in self.interpreter._get_ops_details())

    def _quantize(self, images):
        dtype = self.input["dtype"]
        if dtype == np.float32:
            return images.astype("float32")
        scale, zero_point = self.input["quantization"]
        info = np.iinfo(dtype)
        return np.clip(np.round(images / scale + zero_point), info.min, info.max).astype(dtype)

    def _dequantize(self, values):
        if self.output["dtype"] == np.float32:
            return values.astype("float32")
        scale, zero_point = self.output["quantization"]
        return ((values.astype("float32") - zero_point) * scale).astype("float32")

    def set_input(self, image):
        self.interpreter.set_tensor(self.input["index"], self._quantize(np.asarray(image, "float32")[None]))

    def invoke(self):
        self.interpreter.invoke()

    def __call__(self, images):
        """Float outputs for a float batch, one image at a time (the graph has batch 1)."""
        outputs = []
        for image in np.asarray(images, "float32"):
            self.set_input(image)
            self.invoke()
            outputs.append(self._dequantize(self.interpreter.get_tensor(self.output["index"]))[0])
        return np.stack(outputs)


def graph_facts(content):
    """``{"ops": sorted op names, "max_rank": highest tensor rank, "input_dtype", "output_dtype"}`` (no delegates)."""
    plain = interpreter(content, delegates=False)
    ops = sorted({op["op_name"] for op in plain._get_ops_details()})
    ranks = [len(t["shape_signature"]) if len(t.get("shape_signature", ())) else len(t["shape"]) for t in plain.get_tensor_details()]
    return {
        "ops": ops,
        "max_rank": max(ranks) if ranks else 0,
        "input_dtype": np.dtype(plain.get_input_details()[0]["dtype"]).name,
        "output_dtype": np.dtype(plain.get_output_details()[0]["dtype"]).name,
    }


def check_builtin(content, label="model"):
    """Raise ValueError if the graph has Flex/custom ops or a tensor above 4-D; return ``graph_facts``."""
    facts = graph_facts(content)
    foreign = [op for op in facts["ops"] if not _BUILTIN_OP.match(op) or op in ("CUSTOM", "DELEGATE")]
    if foreign:
        raise ValueError(f"{label}: TFLite graph has non-builtin ops {foreign} (only builtin ops are accepted).")
    if facts["max_rank"] > MAX_TENSOR_RANK:
        raise ValueError(f"{label}: TFLite graph has a {facts['max_rank']}-D tensor (at most {MAX_TENSOR_RANK}-D accepted).")
    return facts


def check_full_integer(content, label="model"):
    """``check_builtin`` plus: no float32 tensor anywhere (every op runs in int8); returns the facts."""
    facts = check_builtin(content, label)
    plain = interpreter(content, delegates=False)
    floats = [t["name"] for t in plain.get_tensor_details() if np.dtype(t["dtype"]) == np.float32]
    if floats:
        raise ValueError(
            f"{label}: not a full-integer graph; {len(floats)} float32 tensors remain, e.g. {floats[:5]} "
            "(a layer without a quantization range)."
        )
    return facts


def latency_stats(seconds):
    """``{"median_ms", "p25_ms", "p75_ms", "iqr_ms", "min_ms", "runs"}`` of per-run times in seconds."""
    ms = np.asarray(seconds, dtype="float64") * 1e3
    p25, median, p75 = np.percentile(ms, [25, 50, 75])
    return {
        "median_ms": float(median),
        "p25_ms": float(p25),
        "p75_ms": float(p75),
        "iqr_ms": float(p75 - p25),
        "min_ms": float(ms.min()),
        "runs": int(ms.size),
    }

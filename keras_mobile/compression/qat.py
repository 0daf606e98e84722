"""Quantization-aware training (QAT) for every keras_mobile family, and its int8 TFLite.

    model = keras_mobile.create_model("mobilenetv3_small_100", input_shape=(224, 224, 3), weights=FILE)
    qat = compression.quantize_model(model)                        # fake-quant wrappers, float weights kept
    qat.compile(...); qat.fit(...)                                 # fine-tune (small LR, a few epochs)
    int8 = compression.convert_qat(qat)                            # full-integer TFLite bytes, builtin ops only

``scheme="prune_preserve"`` is TF-MOT's pruning-preserving QAT (PQAT,
collaborative optimization): on a pruned-and-stripped model the weight
fake-quants keep the zero weights at zero, so the sparsity survives QAT
(depthwise kernels included, which TF-MOT's own scheme leaves out).

How the whole model gets wrapped: every layer is annotated, with keras_mobile's
config (``quantize_configs``) where TF-MOT has none, or TF-MOT's own registry
and transforms (Conv+BN(+ReLU) folding, Concatenate, SeparableConv2D) elsewhere;
then ``quantize_apply`` builds the QAT model. A layer nobody covers raises a
ValueError naming it and how to pass a config (``quantize_configs=``).
"""

import numpy as np

from keras_mobile import tflite
from keras_mobile.compression import keras3_qat
from keras_mobile.compression._require import import_tfmot, on_keras3, require_tf_keras
from keras_mobile.tflite import check_full_integer  # noqa: F401  (re-exported)
from keras_mobile.validation import check_choice

SCHEMES = ("default_8bit", "prune_preserve")
# Handled by TF-MOT's layout transforms rather than its registry.
_TRANSFORMED = ("InputLayer", "SeparableConv2D", "BatchNormalization")


def _scheme(tfmot, scheme):
    check_choice("scheme", scheme, SCHEMES)
    if scheme == "prune_preserve":
        return _prune_preserve_scheme()
    return tfmot.quantization.keras.default_8bit.Default8BitQuantizeScheme()


def _prune_preserve_scheme():
    """TF-MOT's PQAT scheme, with DepthwiseConv2D's zeros preserved as well.

    TF-MOT's registry lists DepthwiseConv2D but disables it (``_DISABLE_PRUNE_PRESERVE``)
    because TF-MOT's own pruning leaves depthwise kernels dense; ``prune_model``
    prunes them, so here they get the same sparsity-masked per-axis weight
    quantizer as Conv2D (``PrunePreserveDefault8BitConvWeightsQuantizer``).
    """
    import tf_keras
    from tensorflow_model_optimization.python.core.quantization.keras.collab_opts.prune_preserve import (
        default_8bit_prune_preserve_quantize_scheme as pqat_scheme,
    )
    from tensorflow_model_optimization.python.core.quantization.keras.collab_opts.prune_preserve import (
        prune_preserve_quantize_registry as pqat_registry,
    )

    base = pqat_registry.Default8bitPrunePreserveQuantizeRegistry

    class Registry(base):
        _LAYERS_CONFIG_MAP = {
            **base._LAYERS_CONFIG_MAP,
            tf_keras.layers.DepthwiseConv2D: pqat_registry._PrunePreserveInfo(
                ["depthwise_kernel"], ["Default8BitConvQuantizeConfig"]
            ),
        }
        _DISABLE_PRUNE_PRESERVE = frozenset()

    class Scheme(pqat_scheme.Default8BitPrunePreserveQuantizeScheme):
        def get_quantize_registry(self):
            return Registry()

    return Scheme()


def quantize_scope():
    """TF-MOT's ``quantize_scope`` with keras_mobile's configs and custom layers (to load QAT models)."""
    tfmot = import_tfmot()
    from keras_mobile.compression.quantize_configs import custom_objects

    return tfmot.quantization.keras.quantize_scope(custom_objects())


def _check_configs(quantize_configs):
    if quantize_configs is None:
        return {}
    if not isinstance(quantize_configs, dict):
        raise ValueError(
            f"quantize_configs={quantize_configs!r} is not supported; accepted values: None or a dict "
            "{layer name or layer class name: a zero-argument callable returning a tfmot QuantizeConfig}."
        )
    for key, factory in quantize_configs.items():
        if not isinstance(key, str) or not callable(factory):
            raise ValueError(
                f"quantize_configs[{key!r}]={factory!r} is not supported; accepted values: a layer name or class "
                "name mapped to a zero-argument callable (e.g. a QuantizeConfig subclass)."
            )
    return quantize_configs


def quantize_annotate(model, quantize_configs=None):
    """``model`` with every layer wrapped in TF-MOT's ``QuantizeAnnotate`` (weights shared, not copied).

    quantize_configs: optional ``{layer name or class name: factory}`` overriding
        or extending keras_mobile's configs (a factory returns a new QuantizeConfig).
    """
    require_tf_keras(model, "quantize_annotate")
    extra = _check_configs(quantize_configs)
    tfmot = import_tfmot()
    import tf_keras
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry,
    )

    from keras_mobile.compression.quantize_configs import quantize_config_for

    registry = default_8bit_quantize_registry.Default8BitQuantizeRegistry()
    annotate = tfmot.quantization.keras.quantize_annotate_layer
    unsupported = []

    def config_for(layer):
        for key in (layer.name, type(layer).__name__):
            if key in extra:
                return extra[key]()
        return quantize_config_for(layer)

    # Decide per layer on the original model (inbound nodes tell what feeds a BN).
    configs = {}
    for layer in model.layers:
        config = config_for(layer)
        if config is None and not registry.supports(layer) and type(layer).__name__ not in _TRANSFORMED:
            unsupported.append(f"{layer.name} ({type(layer).__name__})")
        configs[layer.name] = config
    if unsupported:
        raise ValueError(
            f"quantize_model: model '{model.name}' has layers with no 8-bit quantize config: {unsupported}. "
            "Pass quantize_configs={'<layer or class name>': <QuantizeConfig subclass>} "
            "(see keras_mobile.compression.quantize_configs for examples)."
        )

    affines = {}

    def wrap(layer):
        if isinstance(layer, tf_keras.layers.InputLayer):
            return layer
        if type(layer).__name__ == "Rescaling" and layer.name not in extra and type(layer).__name__ not in extra:
            # A per-channel affine as a 1x1 depthwise conv (kernel = scale, bias = offset): TF-MOT gives
            # its constants int8 weight / int32 bias ranges, so TFLite runs it in int8 with no calibration.
            affine = tf_keras.layers.DepthwiseConv2D(1, use_bias=True, name=layer.name, trainable=False)
            affines[layer.name] = (affine, layer.scale, layer.offset)  # scalars, or per channel (ImageNet mean/std)
            return annotate(affine)
        config = configs.get(layer.name)
        return annotate(layer, config) if config is not None else annotate(layer)

    with quantize_scope():
        annotated = tf_keras.models.clone_model(model, clone_function=wrap)
    for layer, scale, offset in affines.values():
        kernel, bias = layer.get_weights()  # (1, 1, channels, 1), (channels,)
        scale = np.broadcast_to(np.asarray(scale, kernel.dtype).reshape(-1), bias.shape)
        offset = np.broadcast_to(np.asarray(offset, bias.dtype).reshape(-1), bias.shape)
        layer.set_weights([scale.reshape(kernel.shape).copy(), offset.copy()])
    return annotated


def quantize_model(model, scheme="default_8bit", quantize_configs=None):
    """A QAT copy of ``model``: fake-quant wrappers on every layer, the float weights copied.

    scheme: ``"default_8bit"`` (TF-MOT's 8-bit scheme: per-channel symmetric
        weights, per-tensor asymmetric activations, BN folded into convs) or
        ``"prune_preserve"`` (the same, keeping zero weights at zero: PQAT).
    quantize_configs: see ``quantize_annotate``.

    The result is uncompiled; compile and fine-tune it, then ``convert_qat``.
    """
    if on_keras3(model):
        return _keras3_quantize_model(model, scheme, quantize_configs)
    require_tf_keras(model, "quantize_model")
    check_choice("scheme", scheme, SCHEMES)
    tfmot = import_tfmot()
    annotated = quantize_annotate(model, quantize_configs)
    with quantize_scope():
        return tfmot.quantization.keras.quantize_apply(annotated, _scheme(tfmot, scheme))


def _keras3_quantize_model(model, scheme, quantize_configs):
    """``quantize_model`` of a Keras 3 model: ``keras3_qat`` (no TF-MOT), whose one scheme is the 8-bit one."""
    check_choice("scheme", scheme, ("default_8bit",))
    if quantize_configs is not None:
        raise ValueError(
            f"quantize_configs={quantize_configs!r} is not supported; accepted values: None for a Keras 3 model "
            "(TF-MOT QuantizeConfigs apply to tf_keras models; keras3_qat quantizes every stock layer itself)."
        )
    return keras3_qat.quantize_model(model)


def is_quantized(model):
    """Whether ``model`` is a QAT model: TF-MOT's quantize wrappers or ``keras3_qat``'s fake-quant layers."""
    return keras3_qat.is_quantized(model)


def convert_qat(model, resolution=None, io_dtype="int8", representative_data=None, check=True):
    """Full-integer TFLite bytes of a QAT model, builtin ops only, int8 (or uint8) input and output.

    The ranges come from the model's fake-quant nodes, so no representative
    data is needed; passing some also calibrates any tensor QAT left without a
    range. ``check`` runs ``keras_mobile.tflite.check_builtin`` (no Flex or
    custom op, no tensor above 4-D) and raises ValueError otherwise.
    """
    import tensorflow as tf

    if on_keras3(model) and is_quantized(model):
        if representative_data is not None:
            raise ValueError("representative_data=... is not supported; accepted values: None for a Keras 3 QAT "
                             "model (every tensor has its range from quantize_model's fake-quant layers).")
        return keras3_qat.convert_qat(model, resolution, io_dtype, check)
    if not is_quantized(model):
        raise ValueError(
            f"convert_qat: model '{getattr(model, 'name', model)}' has no quantize wrappers; "
            "wrap it with quantize_model(...) first, or use ptq_int8(...) for post-training quantization."
        )
    if io_dtype not in tflite.IO_DTYPES:
        raise ValueError(f"io_dtype={io_dtype!r} is not supported; accepted values: {list(tflite.IO_DTYPES)}.")
    shape = tflite.input_shape(model, resolution)
    frozen = tflite.frozen_function(model, shape)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    # Not TFLITE_BUILTINS_INT8: with a concrete function the converter checks for a representative
    # dataset before it has seen the fake-quant ops. Full-integer is verified afterwards instead.
    converter.inference_input_type = getattr(tf, io_dtype)
    converter.inference_output_type = getattr(tf, io_dtype)
    if representative_data is not None:
        converter.representative_dataset = lambda: tflite.representative_batches(representative_data, shape)
    content = converter.convert()
    if check:
        check_full_integer(content, f"QAT int8 model '{model.name}'")
    return content

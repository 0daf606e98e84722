"""Compression: structured channel pruning, magnitude / 2:4 pruning, QAT and int8 PTQ on either Keras line;
pruning-preserving QAT on tf_keras (TF-MOT).

Magnitude pruning (``prune_model``, ``pruning_callbacks``, ``strip_pruning``) runs TF-MOT for a tf_keras
model and ``magnitude_pruning`` (any backend, no TF-MOT; a custom loop calls ``apply_pruning_step``)
for a Keras 3 model, with the same arguments, schedule and counts. Likewise ``quantize_model`` /
``convert_qat``: TF-MOT's wrappers for a tf_keras model, ``keras3_qat`` (fake-quant layers of
``fake_quant``, any backend; conversion on TensorFlow) for a Keras 3 one.

Channel pruning (``prune_channels``, ``channel_groups``, ``max_mac_reduction``) needs no TF-MOT and
works on Keras 3 and tf_keras: it returns a narrower dense model of stock layers. The TF-MOT-only functions
(``quantize_annotate``, ``scheme="prune_preserve"``) need ``TF_USE_LEGACY_KERAS=1`` set before importing
keras_mobile; a Keras 3 model gets a TypeError saying how to rebuild it on tf_keras. Importing this package
does not import TF-MOT; the first function that needs it does, after the model check.

    from keras_mobile import compression
    slim, report = compression.prune_channels(model, mac_reduction=0.3, return_report=True)  # either line
    print(report.format())                                        # channels, Mult-Adds, params per group / layer
    qat = compression.quantize_model(model)                       # every registered family
    int8 = compression.convert_qat(qat)                           # bytes, full-integer, builtin ops
    pruned = compression.prune_model(model, 0.5, end_step=2000)   # or m_by_n=(2, 4)
    stripped = compression.strip_pruning(pruned)
    pqat = compression.quantize_model(stripped, scheme="prune_preserve")
    baseline = compression.ptq_int8(model, calibration_images)
"""

from keras_mobile.compression._require import TFMOT_PIN, require_tf_keras  # noqa: F401
from keras_mobile.compression.channel_importance import CRITERIA  # noqa: F401
from keras_mobile.compression.channel_pruning import channel_groups, max_mac_reduction, prune_channels  # noqa: F401
from keras_mobile.compression.channel_report import ChannelGroup, ChannelPruningReport, LayerChange  # noqa: F401
from keras_mobile.compression.magnitude_pruning import PruningState, apply_pruning_step  # noqa: F401
from keras_mobile.compression.pruning import (  # noqa: F401
    PRUNABLE,
    SCHEDULES,
    format_sparsity_report,
    gzip_size,
    prune_model,
    pruning_callbacks,
    sparsity_report,
    strip_pruning,
    tflite_weight_sparsity,
    total_sparsity,
)
from keras_mobile.compression.ptq import convert_int8, ptq_int8  # noqa: F401
from keras_mobile.compression.qat import (  # noqa: F401
    SCHEMES,
    check_full_integer,
    convert_qat,
    is_quantized,
    quantize_annotate,
    quantize_model,
    quantize_scope,
)

"""Measurement scripts (not part of the installed packages): run from the repository root.

    python -m benchmarks.compression      # pruning / QAT / PTQ: accuracy, size and latency side by side
    python -m benchmarks.channel_pruning  # channel-pruned models against the narrower width: Mult-Adds, latency
    python -m benchmarks.channel_pruning_top1   # ... and their top-1 after the harness's channel_prune phase
    python -m benchmarks.input_pipeline   # our tf.data input pipeline against the tf.data guide's
    python -m benchmarks.training         # the harness's custom loop against model.fit
    python -m benchmarks.evaluate_imagenet --model NAME --weights imagenet|FILE   # top-1 / top-5 on ImageNet val

The user-facing latency benchmark is a tool of the package: ``python -m keras_mobile.benchmark``.
"""

"""Helpers shared by tests/train (a plain module: test files import it by name)."""

import os

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_worker.py")
MODEL = "mobilenetv2_035"
RESOLUTION = 32


def tiny_overrides(data_dir, **extra):
    """A config small enough for a test step: MobileNetV2 0.35 at 32 px, SGD, no export."""
    overrides = {
        "model.name": MODEL,
        "model.resolution": RESOLUTION,
        "model.dropout_rate": 0.0,
        "data.data_dir": data_dir,
        "data.shuffle_buffer_size": 256,
        "optimizer.name": "sgd",
        "optimizer.lr": 0.05,
        "optimizer.weight_decay": 0.0,
        "optimizer.weight_decay_mode": "l2",
        "schedule.name": "constant",
        "train.batch_size": 16,
        "train.train_steps": 4,
        "train.ema_decay": 0.0,
        "export.enabled": False,
    }
    overrides.update(extra)
    return overrides


def config_from_argv(argv):
    """``python -m train_tpu`` flag parsing on ``argv`` -> the resolved Config (flags reset afterwards)."""
    from train_tpu import __main__ as main

    main.FLAGS.unparse_flags()
    main.FLAGS(argv)
    try:
        return main.config_from_flags()
    finally:
        main.FLAGS.unparse_flags()

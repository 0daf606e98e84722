"""Named experiment presets (data only): the papers' ImageNet recipes, the laptop default, and fine-tuning.

A preset is a nested dict of config values applied on top of the schema
defaults by ``config.resolve_config``; a YAML file and ``--set`` overrides go
on top of it. This module imports nothing from the harness: ``config.py``
reads it, never the other way round (``config.recipe_table`` renders these
presets as a markdown table).
Each ImageNet preset says where every number comes from. Where a paper leaves
a value out, the preset says so and names what it uses instead.

    python -m train_tpu --experiment=mobilenetv2_imagenet --tpu=my-tpu --data_dir=gs://... --model_dir=gs://...
"""

import dataclasses

from keras_mobile.validation import fail


@dataclasses.dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    overrides: dict
    sources: tuple = ()  # (what, where) pairs


def _imagenet(model_name, batch_size, **sections):
    tree = {
        "model": {"name": model_name, "resolution": 224},
        "data": {"dataset": "imagenet2012", "cache_eval": False},
        "train": {"batch_size": batch_size, "steps_per_execution": 100, "checkpoint_every_steps": 5000,
                  "log_every_steps": 100},
        "export": {"calibration_images": 256},
    }
    for section, values in sections.items():
        tree.setdefault(section, {}).update(values)
    return tree


def _mobilenetv3(model_name):
    """MobileNetV3's one ImageNet recipe (Large and Small alike; sources on the presets below)."""
    return _imagenet(
        model_name,
        batch_size=4096,
        optimizer={"name": "rmsprop", "lr": 0.1, "rho": 0.9, "momentum": 0.9, "epsilon": 1e-3,
                   "weight_decay": 1e-5, "weight_decay_mode": "l2"},
        schedule={"name": "exponential", "decay_rate": 0.99, "decay_epochs": 3.0, "staircase": True,
                  "warmup_epochs": 5.0},
        train={"epochs": 350, "label_smoothing": 0.1, "ema_decay": 0.9999},
        model={"dropout_rate": 0.2},
    )


_PRESETS = [
    Experiment(
        name="default",
        description=(
            "Laptop default: MobileNetV2 0.35 at 64 px on the embedded 10-class shapes dataset, "
            "AdamW + cosine, EMA; a few minutes on 2 CPU cores."
        ),
        overrides={
            "model": {"name": "mobilenetv2_035", "resolution": 64, "dropout_rate": 0.0, "bn_momentum": 0.9},
            "data": {"dataset": "default"},
            "optimizer": {"name": "adamw", "lr": 5e-3, "weight_decay": 5e-4, "weight_decay_mode": "decoupled",
                          "epsilon": 1e-7},
            "schedule": {"name": "cosine", "warmup_epochs": 1.0},
            "train": {"batch_size": 64, "epochs": 20, "label_smoothing": 0.1, "ema_decay": 0.99,
                      "steps_per_execution": 8},
            "export": {"formats": ["savedmodel", "keras", "tflite_fp32", "tflite_int8"], "calibration_images": 64},
        },
        sources=(("all", "chosen for this package's CPU smoke run; not a paper recipe"),),
    ),
    Experiment(
        name="finetune",
        description=(
            "Fine-tuning on your own images (a few hundred to ~20k): ImageNet-pretrained MobileNetV2 1.0, the new "
            "classifier alone for 2 epochs, then every layer with the backbone at a tenth of the classifier's lr; "
            "a milder crop than ImageNet's (area 0.64-1). Pass --dataset=folder:PATH (and --weights)."
        ),
        overrides={
            "model": {"name": "mobilenetv2_100", "weights": "imagenet", "dropout_rate": 0.2, "bn_momentum": 0.99},
            "data": {"crop_area_range": [0.64, 1.0], "randaugment_num_ops": 0, "mixup_alpha": 0.0,
                     "cutmix_alpha": 0.0},
            "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9, "nesterov": True, "weight_decay": 0.0,
                          "backbone_lr_multiplier": 0.1},
            "schedule": {"name": "cosine", "warmup_epochs": 0.0},
            "train": {"batch_size": 64, "epochs": 20, "freeze_backbone_epochs": 2.0, "label_smoothing": 0.1,
                      "ema_decay": 0.0},
            "export": {"formats": ["savedmodel", "keras", "tflite_fp32", "tflite_int8"]},
        },
        sources=(
            ("train the new classifier on a frozen backbone first (BatchNorm in inference mode), then unfreeze "
             "everything at a lower learning rate",
             "the Keras transfer-learning guide (keras.io/guides/transfer_learning: 'the typical transfer-learning "
             "workflow', 'fine-tuning', and BatchNormalization kept in inference mode)"),
            ("SGD momentum 0.9, no weight decay, no MixUp below 20k examples, short schedules for small datasets",
             "BiT-HyperRule (Kolesnikov et al. 2020, 'Big Transfer (BiT)', arXiv:1912.11370, §3.3: SGD momentum 0.9, "
             "lr 0.003 at batch 512 with a zero-initialised head, 500 steps under 20k examples, MixUp only above)"),
            ("backbone lr x0.1", "discriminative fine-tuning (Howard & Ruder 2018, ULMFiT, arXiv:1801.06146 §3.2): "
             "lower layers at lower learning rates; 0.1 is our choice"),
            ("crop area 0.64-1 instead of Inception's 0.08-1",
             "BiT-HyperRule's crop for small images (resize to 160 px, random 128 px crop: 64% of the area); measured "
             "on scikit-learn's digits from scratch, 64 px: 0.08-1 64.3%, 0.25-1 69.8%, 0.64-1 82.1% top-1 (README, "
             "'Train on your own images')"),
            ("lr 0.01 at batch 64, 20 epochs, 2 frozen epochs, dropout 0.2, label smoothing 0.1",
             "our choice for a new (randomly initialised) classifier at batch 64; see the README figures"),
        ),
    ),
    Experiment(
        name="mobilenetv2_imagenet",
        description="MobileNetV2 1.0, 224 px, ImageNet (Sandler et al. 2018, §6.1).",
        overrides=_imagenet(
            "mobilenetv2_100",
            batch_size=96 * 16,
            optimizer={"name": "rmsprop", "lr": 0.045, "rho": 0.9, "momentum": 0.9, "epsilon": 1.0,
                       "weight_decay": 4e-5, "weight_decay_mode": "l2", "decay_depthwise": False},
            schedule={"name": "exponential", "decay_rate": 0.98, "decay_epochs": 1.0, "staircase": True,
                      "warmup_epochs": 0.0},
            train={"epochs": 300, "label_smoothing": 0.1, "ema_decay": 0.9999},
            model={"dropout_rate": 0.2},
        ),
        sources=(
            ("RMSProp decay 0.9 momentum 0.9, lr 0.045, x0.98 per epoch, weight decay 4e-5, batch 96 x 16 workers",
             "MobileNetV2 paper (arXiv:1801.04381) §6.1 'Training setup'"),
            ("RMSProp epsilon 1.0, no weight decay on depthwise kernels, label smoothing 0.1, EMA 0.9999, dropout 0.2",
             "TF-slim nets/mobilenet (mobilenet.training_scope: depthwise regularizer None, dropout keep 0.8) and "
             "train_image_classifier.py flags used by its README (--rmsprop_epsilon=1.0, --label_smoothing=0.1, "
             "--moving_average_decay=0.9999); the paper states none of these"),
            ("300 epochs", "not stated in the paper; our choice (the paper trains asynchronously until convergence)"),
        ),
    ),
    Experiment(
        name="mobilenetv3_large_imagenet",
        description="MobileNetV3-Large 1.0, 224 px, ImageNet (Howard et al. 2019, §6.1).",
        overrides=_mobilenetv3("mobilenetv3_large_100"),
        sources=(
            ("4x4 TPU pod, RMSProp momentum 0.9, lr 0.1, batch 4096, lr decay 0.01 every 3 epochs, dropout 0.8 "
             "(keep probability: rate 0.2), l2 weight decay 1e-5, Inception preprocessing, EMA 0.9999",
             "MobileNetV3 paper (arXiv:1905.02244) §6.1 'Training setup'"),
            ("decay read as x0.99 every 3 epochs", "the paper's 'decay rate of 0.01' taken as a 1% decay (a 100x drop "
             "every 3 epochs would stop training within 10 epochs)"),
            ("warmup 5 epochs, 350 epochs, label smoothing 0.1, RMSProp epsilon 1e-3",
             "not in the paper; the TPU MnasNet/EfficientNet trainer it was built on (tensorflow/tpu models/official/"
             "mnasnet/mnasnet_main.py and efficientnet/utils.py)"),
        ),
    ),
    Experiment(
        name="mobilenetv3_small_imagenet",
        description="MobileNetV3-Small 1.0, 224 px, ImageNet (Howard et al. 2019, §6.1).",
        overrides=_mobilenetv3("mobilenetv3_small_100"),
        sources=(
            ("same setup as MobileNetV3-Large", "MobileNetV3 paper (arXiv:1905.02244) §6.1 (one recipe for both)"),
            ("warmup, epochs, label smoothing, epsilon", "as mobilenetv3_large_imagenet (not in the paper)"),
        ),
    ),
    Experiment(
        name="mobilenext_imagenet",
        description="MobileNeXt 1.0, 224 px, ImageNet (Zhou et al. 2020, §5.1).",
        overrides=_imagenet(
            "mobilenext_100",
            batch_size=256,
            optimizer={"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": False,
                       "weight_decay": 4e-5, "weight_decay_mode": "l2"},
            schedule={"name": "cosine", "warmup_epochs": 0.0},
            train={"epochs": 200, "label_smoothing": 0.0, "ema_decay": 0.0},
            model={"dropout_rate": 0.2},
        ),
        sources=(
            ("SGD momentum 0.9, weight decay 4e-5, cosine schedule from lr 0.05, 200 epochs, batch 256 on 8 GPUs",
             "MobileNeXt paper (arXiv:2007.02269) §5.1 'Experiment setup' (from memory of the paper; not re-verified "
             "in this session)"),
            ("dropout 0.2, no label smoothing, no EMA", "not stated; our choice"),
        ),
    ),
    Experiment(
        name="mixnet_s_imagenet",
        description="MixNet-S, 224 px, ImageNet, TPU (Tan & Le 2019; MnasNet/EfficientNet TPU trainer).",
        overrides=_imagenet(
            "mixnet_s",
            batch_size=4096,
            optimizer={"name": "rmsprop", "lr": 0.016, "reference_batch_size": 256, "rho": 0.9, "momentum": 0.9,
                       "epsilon": 1e-3, "weight_decay": 1e-5, "weight_decay_mode": "l2"},
            schedule={"name": "exponential", "decay_rate": 0.97, "decay_epochs": 2.4, "staircase": True,
                      "warmup_epochs": 5.0},
            train={"epochs": 350, "label_smoothing": 0.1, "ema_decay": 0.9999},
            model={"dropout_rate": 0.2},
        ),
        sources=(
            ("RMSProp decay 0.9 momentum 0.9 epsilon 1e-3, lr 0.016 x batch/256, x0.97 every 2.4 epochs, "
             "5 warmup epochs, weight decay 1e-5, label smoothing 0.1, EMA 0.9999, 350 epochs",
             "MixNet paper (arXiv:1907.09595) §5 says it trains like MnasNet; the numbers are the defaults of "
             "tensorflow/tpu models/official/mnasnet/mnasnet_main.py + mixnet/ (base_learning_rate 0.016, "
             "moving_average_decay 0.9999, label_smoothing 0.1, weight_decay 1e-5) and efficientnet/utils.py "
             "(build_learning_rate: exponential 0.97 every 2.4 epochs, warmup 5 epochs)"),
            ("batch 4096, dropout 0.2", "EfficientNet paper §5.2 TPU setup; mixnet_builder.py dropout_rate 0.2 for mixnet-s"),
        ),
    ),
    Experiment(
        name="shufflenetv2_imagenet",
        description="ShuffleNetV2 1.0x, 224 px, ImageNet, TPU (official megvii recipe).",
        overrides=_imagenet(
            "shufflenet_v2_x1_0",
            batch_size=1024,
            optimizer={"name": "sgd", "lr": 0.5, "momentum": 0.9, "nesterov": False,
                       "weight_decay": 4e-5, "weight_decay_mode": "l2"},
            schedule={"name": "linear", "warmup_epochs": 0.0, "min_lr_ratio": 0.0},
            train={"epochs": None, "train_steps": 300_000, "label_smoothing": 0.1, "ema_decay": 0.0},
            model={"dropout_rate": 0.0},
        ),
        sources=(
            ("SGD momentum 0.9, lr 0.5 decayed linearly to 0 (LambdaLR 1 - step/total), weight decay 4e-5 (not on "
             "BN / biases), batch 1024, 300k iterations, label smoothing 0.1",
             "megvii-model/ShuffleNet-Series ShuffleNetV2/train.py defaults (--learning-rate 0.5, --weight-decay 4e-5, "
             "--batch-size 1024, --total-iters 300000, CrossEntropyLabelSmooth 0.1)"),
            ("TPU", "the recipe is GPU-born; only the strategy differs"),
        ),
    ),
]

EXPERIMENTS = {e.name: e for e in _PRESETS}


def list_experiments():
    return sorted(EXPERIMENTS)


def get_experiment(name):
    """The preset ``name``; ValueError naming ``experiment`` and the presets otherwise."""
    if name not in EXPERIMENTS:
        fail("experiment", name, list_experiments())
    return EXPERIMENTS[name]


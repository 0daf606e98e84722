"""Compression benchmark on the embedded default dataset: float vs PTQ vs QAT int8, pruning, latency, sizes.

    python -m benchmarks.compression [--models a,b] [--resolution 64] [--epochs 10]
        [--finetune-epochs 3] [--data-dir DIR]

The script selects tf_keras itself (``TF_USE_LEGACY_KERAS=1`` unless already set), as TF-MOT needs it.

Per model: train float (Adam, cosine decay) on the 3,000 training images of
``tfds_configs`` "default" (10 classes, centre crop, random flips), then
* PTQ: full-integer int8 calibrated on 200 training images;
* a control: the float model trained for the fine-tuning epochs more (lr as QAT's);
* QAT: ``quantize_model`` + fine-tuning, converted with ``convert_qat``;
* 50% magnitude pruning (polynomial decay) and 2:4 pruning, each fine-tuned
  (at the float lr: a lower one leaves the pruned net 20 points down after
  3 epochs), stripped and evaluated as float32 TFLite (and gzip sizes of
  fp32 / PTQ int8);
every figure is top-1 of the TFLite model run by LiteRT (ai_edge_litert) on the
500 eval images. Latency: LiteRT with XNNPACK, 1 thread, batch 1, median of 100 runs.
Prints a markdown table.
"""

import argparse
import os
import sys
import time

# Before anything imports TensorFlow or keras_mobile: TF-MOT needs tf_keras.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_mobile  # noqa: E402
from keras_mobile import backend  # noqa: E402
from keras_mobile import compression  # noqa: E402
from keras_mobile import tflite  # noqa: E402
import tfds_configs  # noqa: E402


def load_arrays(resolution, data_dir=None):
    """``(x_train, y_train, x_eval, y_eval)``: uint8-valued float32 images, centre-cropped, int labels."""
    source = tfds_configs.load("default", data_dir=data_dir) if data_dir else tfds_configs.load("default")
    config = source.config
    arrays = []
    for split in (config.train_split, config.eval_split):
        ds = tfds_configs.eval_input(source, global_batch_size=250, image_size=resolution, split=split, normalization="raw")
        xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
        arrays += [np.concatenate(xs).astype("float32"), np.concatenate(ys).astype("int64").reshape(-1)]
    return arrays


def _dataset(x, y, batch, seed):
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(lambda a, b: (tf.image.random_flip_left_right(a, seed=seed), b), num_parallel_calls=2)
    return ds.batch(batch, drop_remainder=True).prefetch(2)


def _fit(model, x, y, epochs, learning_rate, batch, callbacks=(), seed=0):
    keras = backend.keras  # tf_keras (main refuses Keras 3)
    steps = epochs * (len(x) // batch)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    model.compile(keras.optimizers.Adam(schedule), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(_dataset(x, y, batch, seed), epochs=epochs, verbose=2, callbacks=list(callbacks))
    return model


def top1(content, x, y):
    return float(np.mean(tflite.Runner(content)(x).argmax(-1) == y))


def latency_ms(content, image, runs=100):
    runner = tflite.Runner(content, num_threads=1)
    runner.set_input(image)
    for _ in range(10):
        runner.invoke()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        runner.invoke()
        times.append(time.perf_counter() - start)
    return tflite.latency_stats(times)["median_ms"]


def run_model(name, data, args):
    x_train, y_train, x_eval, y_eval = data
    shape = (args.resolution, args.resolution, 3)
    steps_per_epoch = len(x_train) // args.batch

    def fresh(weights=None):
        model = keras_mobile.create_model(name, input_shape=shape, classes=10)
        for layer in model.layers:
            if type(layer).__name__ == "BatchNormalization":
                # TF_STYLE's momentum 0.999 needs thousands of steps; a ~500-step run would keep the initial
                # moving statistics and evaluate at chance level.
                layer.momentum = min(layer.momentum, args.bn_momentum)
        if weights is not None:
            model.set_weights(weights)
        return model

    row, timings = {"model": name}, {}
    start = time.perf_counter()
    float_model = _fit(fresh(), x_train, y_train, args.epochs, args.learning_rate, args.batch)
    weights = float_model.get_weights()
    fp32 = tflite.convert_model(float_model, "fp32")
    row["float"] = top1(fp32, x_eval, y_eval)
    timings["float"] = time.perf_counter() - start

    start = time.perf_counter()  # control: the float model trained as long as the compressed ones
    control = _fit(fresh(weights), x_train, y_train, args.finetune_epochs, args.finetune_learning_rate, args.batch,
                   seed=3)
    row["float_control"] = top1(tflite.convert_model(control, "fp32"), x_eval, y_eval)
    timings["float_control"] = time.perf_counter() - start

    start = time.perf_counter()
    calibration = x_train[:200]
    ptq = compression.ptq_int8(float_model, calibration, calibration_steps=200)
    row["ptq"] = top1(ptq, x_eval, y_eval)
    timings["ptq"] = time.perf_counter() - start

    start = time.perf_counter()
    qat = compression.quantize_model(fresh(weights))
    _fit(qat, x_train, y_train, args.finetune_epochs, args.finetune_learning_rate, args.batch, seed=1)
    qat_int8 = compression.convert_qat(qat)
    row["qat"] = top1(qat_int8, x_eval, y_eval)
    timings["qat"] = time.perf_counter() - start

    for key, kwargs in (("prune50", {"target_sparsity": 0.5}), ("prune24", {"m_by_n": (2, 4)})):
        start = time.perf_counter()
        frequency = max(1, steps_per_epoch // 4)
        end_step = max(1, int(0.6 * args.finetune_epochs * steps_per_epoch) // frequency) * frequency
        pruned = compression.prune_model(
            fresh(weights), begin_step=0, end_step=end_step, frequency=frequency, **kwargs
        )
        _fit(pruned, x_train, y_train, args.finetune_epochs, args.prune_learning_rate, args.batch,
             callbacks=compression.pruning_callbacks(), seed=2)
        stripped = compression.strip_pruning(pruned)
        report = compression.sparsity_report(stripped)
        content = tflite.convert_model(stripped, "fp32")
        row[key] = top1(content, x_eval, y_eval)
        row[f"{key}_sparsity"] = compression.total_sparsity(report)
        row[f"{key}_fp32_gzip"] = compression.gzip_size(content)
        int8 = compression.ptq_int8(stripped, calibration, calibration_steps=200)
        row[f"{key}_int8_top1"] = top1(int8, x_eval, y_eval)
        row[f"{key}_int8_gzip"] = compression.gzip_size(int8)
        timings[key] = time.perf_counter() - start

    row["fp32_ms"] = latency_ms(fp32, x_eval[0])
    row["int8_ms"] = latency_ms(qat_int8, x_eval[0])
    row["fp32_bytes"], row["fp32_gzip"] = len(fp32), compression.gzip_size(fp32)
    row["int8_bytes"], row["int8_gzip"] = len(qat_int8), compression.gzip_size(qat_int8)
    row["timings"] = timings
    return row


def format_table(rows, args):
    pct = lambda v: f"{100 * v:.1f}"  # noqa: E731
    kb = lambda v: f"{v / 1024:.0f} KB"  # noqa: E731
    lines = [
        f"default dataset (10 classes, 3,000 train / 500 eval), {args.resolution} px, float {args.epochs} epochs, "
        f"fine-tuning {args.finetune_epochs} epochs; top-1 (%) of the TFLite model in LiteRT on the 500 eval images",
        "",
        "| model | float | float + fine-tune epochs | PTQ int8 | QAT int8 | 50% pruned (fp32) | 2:4 pruned (fp32) | "
        "fp32 / int8 latency (ms) | fp32 / int8 size (gzip) | 50% pruned gzip fp32 / int8 | 2:4 pruned gzip fp32 / int8 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {pct(r['float'])} | {pct(r['float_control'])} | {pct(r['ptq'])} | {pct(r['qat'])} | "
            f"{pct(r['prune50'])} ({pct(r['prune50_sparsity'])}% zeros) | {pct(r['prune24'])} "
            f"({pct(r['prune24_sparsity'])}% zeros) | {r['fp32_ms']:.2f} / {r['int8_ms']:.2f} | "
            f"{kb(r['fp32_bytes'])} ({kb(r['fp32_gzip'])}) / {kb(r['int8_bytes'])} ({kb(r['int8_gzip'])}) | "
            f"{kb(r['prune50_fp32_gzip'])} / {kb(r['prune50_int8_gzip'])} | "
            f"{kb(r['prune24_fp32_gzip'])} / {kb(r['prune24_int8_gzip'])} |"
        )
    lines.append("")
    for r in rows:
        lines.append(
            f"{r['model']}: pruned + PTQ int8 top-1 50% {pct(r['prune50_int8_top1'])}, 2:4 {pct(r['prune24_int8_top1'])}; "
            "seconds " + ", ".join(f"{k} {v:.0f}" for k, v in r["timings"].items())
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compression", description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mobilenetv2_035,mobilenetv3_small_075")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--finetune-epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--finetune-learning-rate", type=float, default=3e-4, help="QAT and the float control")
    parser.add_argument("--prune-learning-rate", type=float, default=3e-3,
                        help="pruning fine-tuning (recovering from removed weights needs the float lr)")
    parser.add_argument("--bn-momentum", type=float, default=0.9, help="cap on BatchNorm momentum for short runs")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    if not backend.IS_LEGACY_KERAS:
        print("error: run with TF_USE_LEGACY_KERAS=1 (TF-MOT needs tf_keras)", file=sys.stderr)
        return 1
    tf.keras.utils.set_random_seed(0) if hasattr(tf.keras.utils, "set_random_seed") else tf.random.set_seed(0)
    start = time.perf_counter()
    data = load_arrays(args.resolution, args.data_dir)
    rows = [run_model(name, data, args) for name in args.models.split(",") if name]
    print(format_table(rows, args))
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

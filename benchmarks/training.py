"""Training throughput: this harness vs plain ``model.fit`` on tf_keras.applications' MobileNetV2.

    python -m benchmarks.training [--resolution 96]    # from the repository root [--batch_size 32] [--steps 20] [--rounds 3]

Both train MobileNetV2 1.0 (ours: keras_mobile ``mobilenetv2_100``, the same graph and weights
layout as keras.applications') on the same in-memory batches (real images of the default dataset,
decoded once and cached, so the input pipeline is not what is measured), with the same global
batch, resolution, loss (sparse softmax cross-entropy on logits) and optimizer (SGD, momentum 0.9).
Rounds are interleaved (ours, fit, ours, fit, ...) in one process and the median images/s of each
is reported; the first call of each (tracing / compilation) is not timed.
"""

import argparse
import statistics
import time

import train_tpu  # noqa: F401  (selects tf_keras before anything else loads Keras)

import numpy as np
import tensorflow as tf

import tfds_configs
from train_tpu import driver
from train_tpu.backend import keras


def _batches(source, batch_size, resolution, count):
    ds = tfds_configs.train_input(source, global_batch_size=batch_size, image_size=resolution, normalization="raw",
                                  seed=0)
    images, labels = [], []
    for x, y in ds.take(count):
        images.append(x.numpy())
        labels.append(y.numpy())
    data = tf.data.Dataset.from_tensor_slices((np.stack(images), np.stack(labels)))
    return data.cache().repeat().prefetch(tf.data.AUTOTUNE)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=96)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps_per_execution", type=int, default=10, help="ours")
    parser.add_argument("--ema", action="store_true", help="also keep the EMA weights (ours)")
    parser.add_argument("--xla", action="store_true", help="XLA-compile our forward/backward pass")
    parser.add_argument("--data_dir", default=None)
    args = parser.parse_args(argv)

    source = tfds_configs.load("default", data_dir=args.data_dir)
    data = _batches(source, args.batch_size, args.resolution, 8)

    config = train_tpu.resolve_config("default", overrides={
        "model.name": "mobilenetv2_100", "model.resolution": args.resolution, "model.bn_momentum": None,
        "model.dropout_rate": 0.0, "data.data_dir": args.data_dir, "optimizer.name": "sgd", "optimizer.lr": 0.01,
        "optimizer.weight_decay": 0.0, "schedule.name": "constant", "schedule.warmup_epochs": 0.0,
        "train.label_smoothing": 0.0, "train.batch_size": args.batch_size,
        "train.ema_decay": 0.999 if args.ema else 0.0, "runtime.xla": args.xla,
        "model_dir": "/tmp/train_tpu_benchmark_unused",
    })
    ours = driver.make_trainer(config)
    iterator = iter(ours.distribute(data.unbatch().batch(args.batch_size)))

    reference = keras.applications.MobileNetV2(input_shape=(args.resolution, args.resolution, 3), weights=None,
                                               classes=10, classifier_activation=None)
    reference.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    fit_data = data.unbatch().batch(args.batch_size)

    spe = args.steps_per_execution

    def run_ours(steps):
        done = 0
        while done < steps:
            n = min(spe, steps - done)
            ours.run_steps(iterator, n)
            done += n

    def run_fit(steps):
        reference.fit(fit_data, steps_per_epoch=steps, epochs=1, verbose=0)

    run_ours(spe)  # trace
    run_fit(2)  # build the train function
    rates = {"ours": [], "fit": []}
    for _ in range(args.rounds):
        for name, fn in (("ours", run_ours), ("fit", run_fit)):
            start = time.perf_counter()
            fn(args.steps)
            rates[name].append(args.steps * args.batch_size / (time.perf_counter() - start))
    ours_rate, fit_rate = statistics.median(rates["ours"]), statistics.median(rates["fit"])
    print(f"MobileNetV2 1.0, {args.resolution} px, global batch {args.batch_size}, {args.steps} steps x "
          f"{args.rounds} rounds, {tf.distribute.get_strategy().num_replicas_in_sync} replica(s), "
          f"ours: steps_per_execution={spe}, ema={'on' if args.ema else 'off'}, xla={'on' if args.xla else 'off'}")
    print(f"  per round, ours (images/s): {', '.join(f'{r:.1f}' for r in rates['ours'])}")
    print(f"  per round, fit  (images/s): {', '.join(f'{r:.1f}' for r in rates['fit'])}")
    print(f"  train_tpu harness:            {ours_rate:8.1f} images/s (median)")
    print(f"  tf_keras model.fit:           {fit_rate:8.1f} images/s (median)")
    print(f"  ratio ours / fit:             {ours_rate / fit_rate:8.2f}x")
    return ours_rate, fit_rate


if __name__ == "__main__":
    main()

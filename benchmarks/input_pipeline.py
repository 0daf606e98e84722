"""Train-pipeline throughput: our input pipeline against a naive one.

    python -m benchmarks.input_pipeline [--num_images 256] [--image_size 224] ...

Builds ImageNet-like JPEGs locally (500x375 and similar, ~100 KB: the
synthetic shapes plus photographic-grade noise), stores them as a TFDS
dataset in a temporary directory, and times, on the same records:

  naive:   decode the full JPEG, random-resized crop, resize and flip in
           float32, normalise each image, batch (the textbook pipeline);
  full decode + our batching: the same full decode, then our uint8 resize
           and flip and our per-batch normalisation (isolates decoding);
  ours:    `preprocessing.train_image` (decode only the sampled window),
           same batching as the row above;
  train_input: the complete `pipeline.train_input`.

Images per second per core is images per CPU-second of the whole process
(all threads), so it does not depend on the number of cores. Pipelines are
measured in turn, `--rounds` times each, and the medians are reported.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from tfds_configs import _store
from tfds_configs import configs
from tfds_configs import pipeline
from tfds_configs import preprocessing
from tfds_configs import reading
from tfds_configs import sources
from tfds_configs import synthetic

IMAGE_SIZES = ((375, 500), (500, 375), (333, 500), (500, 400))  # Typical ImageNet.
EXTRA_NOISE = 40  # Brings the JPEGs to ImageNet-like ~100 KB.
NAIVE = "naive (full decode, float per image)"
FULL_DECODE = "full decode + our batching"
OURS = "ours (fused decode-and-crop)"
TRAIN_INPUT = "train_input (complete)"


def naive_image(encoded, seed, image_size, fallback_fraction):
    """The textbook baseline: every step on the full image, in float32."""
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    image = preprocessing.decode_window(
        encoded,
        lambda shape: preprocessing.random_crop_window(
            shape, crop_seed, fallback_fraction=fallback_fraction
        ),
        fused=False,
    )
    image = tf.image.resize(image, [image_size, image_size], method="bilinear")
    image = tf.image.stateless_random_flip_left_right(image, flip_seed)
    mean, std = preprocessing.NORMALIZATIONS["imagenet"]
    return (image - mean) / std


def full_decode_image(encoded, seed, image_size, fallback_fraction):
    """Our per-image function with the fused decode turned off."""
    return preprocessing.train_image(
        encoded, seed, image_size, fallback_fraction, fused=False
    )


def _examples(num_images, seed):
    rng = np.random.default_rng(seed)
    for index in range(num_images):
        label = index % len(synthetic.CLASS_NAMES)
        image = synthetic.render(rng, label, size=IMAGE_SIZES[index % len(IMAGE_SIZES)])
        noise = rng.integers(-EXTRA_NOISE, EXTRA_NOISE + 1, size=image.shape, dtype=np.int16)
        image = np.clip(image + noise, 0, 255).astype(np.uint8)
        yield index, {"image": synthetic.encode_jpeg(image), "label": label}


def build_source(data_dir, num_images, seed=0):
    """A `DataSource` over `num_images` ImageNet-like JPEGs written to `data_dir`."""
    builder = _store.write_dataset(
        data_dir=data_dir,
        name="pipeline_benchmark",
        features=tfds.features.FeaturesDict(
            {
                "image": tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg"),
                "label": tfds.features.ClassLabel(names=synthetic.CLASS_NAMES),
            }
        ),
        splits={"train": _examples(num_images, seed)},
        description="ImageNet-sized JPEGs for the input-pipeline benchmark.",
        metadata={"seed": seed},
        num_shards=8,
    )
    config = configs.DatasetConfig(
        name="pipeline_benchmark",
        tfds_name="pipeline_benchmark",
        num_classes=len(synthetic.CLASS_NAMES),
        num_train_examples=num_images,
        num_eval_examples=num_images,
        origin="generated",
    )
    return sources.DataSource(config=config, builder=builder)


def skeleton(source, image_fn, *, batch_size, image_size, num_threads,
             normalize_batches, seed=0):
    """The train pipeline's structure around a per-image function `image_fn`."""
    element_seed = tf.constant([seed, 0], tf.int64)
    ds = reading.read_split(source, "train", shuffle_files=True, seed=seed)
    ds = ds.shuffle(1024, seed=seed).repeat().enumerate()
    ds = ds.map(
        lambda index, example: (
            image_fn(
                example[0],
                tf.random.experimental.stateless_fold_in(element_seed, index),
                image_size,
                source.config.crop_fraction,
            ),
            example[1],
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    ds = ds.batch(batch_size, drop_remainder=True, num_parallel_calls=tf.data.AUTOTUNE)
    if normalize_batches:
        ds = ds.map(
            lambda images, labels: (preprocessing.normalize(images, "imagenet"), labels),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return ds.prefetch(tf.data.AUTOTUNE).with_options(
        pipeline._options(False, num_threads)  # pylint: disable=protected-access
    )


def measure(ds, *, batches, warmup):
    """Images/s (wall) and images per CPU-second over `batches` batches."""
    iterator = iter(ds)
    for _ in range(warmup):
        next(iterator)
    wall, cpu = time.perf_counter(), time.process_time()
    images = 0
    for _ in range(batches):
        images += int(next(iterator)[0].shape[0])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    del iterator  # Stops its background threads before the next measurement.
    return {"images_per_s": images / wall, "images_per_cpu_s": images / cpu}


def run(*, num_images, image_size, batch_size, batches, warmup, rounds, num_threads,
        data_dir):
    """Measures every pipeline `rounds` times, in turn, and keeps the medians
    (robust to other load on the machine); returns them and the JPEG stats."""
    source = build_source(data_dir, num_images)
    sizes = [
        len(x) for x in reading.read_split(source, "train").map(lambda e, _: e).as_numpy_iterator()
    ]
    common = dict(batch_size=batch_size, image_size=image_size, num_threads=num_threads)
    pipelines = {
        NAIVE: skeleton(source, naive_image, normalize_batches=False, **common),
        FULL_DECODE: skeleton(source, full_decode_image, normalize_batches=True, **common),
        OURS: skeleton(source, preprocessing.train_image, normalize_batches=True, **common),
        TRAIN_INPUT: pipeline.train_input(
            source, global_batch_size=batch_size, image_size=image_size,
            num_threads=num_threads, shuffle_buffer_size=1024,
        ),
    }
    samples = {name: [] for name in pipelines}
    for _ in range(rounds):
        for name, ds in pipelines.items():
            samples[name].append(measure(ds, batches=batches, warmup=warmup))
    results = {
        name: {key: float(np.median([m[key] for m in runs])) for key in runs[0]}
        for name, runs in samples.items()
    }
    return results, {"mean_jpeg_kb": float(np.mean(sizes)) / 1024}


def format_table(results, stats, args):
    """The results as a plain-text table."""
    per_core = {name: r["images_per_cpu_s"] for name, r in results.items()}
    lines = [
        f"Train pipeline, {args.num_images} JPEGs of ~500x375 "
        f"(mean {stats['mean_jpeg_kb']:.0f} KB) -> {args.image_size}x{args.image_size}, "
        f"batch {args.batch_size}, {args.num_threads} threads, "
        f"median of {args.rounds} rounds",
        f"{'pipeline':<40}{'images/s':>10}{'images/s/core':>15}",
    ]
    for name, r in results.items():
        lines.append(f"{name:<40}{r['images_per_s']:>10.1f}{r['images_per_cpu_s']:>15.1f}")
    lines.append(
        f"per core: ours / naive = {per_core[OURS] / per_core[NAIVE]:.2f}x "
        f"(fused decode alone: {per_core[OURS] / per_core[FULL_DECODE]:.2f}x; "
        f"train_input / naive = {per_core[TRAIN_INPUT] / per_core[NAIVE]:.2f}x)"
    )
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.input_pipeline",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--num_images", type=int, default=256)
    parser.add_argument("--image_size", type=int, default=224)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=12, help="timed batches per round")
    parser.add_argument("--warmup", type=int, default=3, help="untimed batches per round")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per pipeline")
    parser.add_argument("--num_threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--data_dir", default=None, help="default: a temporary directory")
    args = parser.parse_args(argv)
    for name in ("num_images", "image_size", "batch_size", "batches", "rounds", "num_threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory() as tmp:
        results, stats = run(
            num_images=args.num_images, image_size=args.image_size,
            batch_size=args.batch_size, batches=args.batches, warmup=args.warmup,
            rounds=args.rounds, num_threads=args.num_threads, data_dir=args.data_dir or tmp,
        )
    print(format_table(results, stats, args))
    return results


if __name__ == "__main__":
    main()

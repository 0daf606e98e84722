"""Input-pipeline throughput on real photographs: ours against the tf.data guide's pipeline.

    python -m benchmarks.input_pipeline              # the table (about 8 minutes on 2 cores)
    python -m benchmarks.input_pipeline --profile    # the per-stage profile (about 20 minutes)

Data: distinct JPEGs cut from the photographs that scikit-image ships
(`benchmarks/photos.py`), `--num_images` per split and size: about 500x375
(the size of typical ImageNet images) and about 1.5 MP (full camera size;
upscaled windows, as no shipped photograph is that large). They are written
and prepared with `tfds_configs.prepare_image_folder` under `--cache_dir`
once, and reused by later runs.

Pipelines, all reading the same prepared dataset, 224 px, batch 64, pixels
scaled to [-1, 1]:

  guide train: `as_dataset` with `SkipDecoding`, shuffle, repeat, then in one
      `map(num_parallel_calls=AUTOTUNE)`: `decode_jpeg`,
      `sample_distorted_bounding_box` (area 0.08-1, aspect 3/4-4/3, the
      ranges of ours), `slice`, float `resize`, `random_flip_left_right`,
      `/ 127.5 - 1`; `batch`, `prefetch(AUTOTUNE)`: the tf.data performance
      guide's pipeline, written plainly;
  ours train:  `tfds_configs.train_input(source, global_batch_size=64,
      image_size=224, normalization="inception")`;
  guide eval:  the same reading, `decode_jpeg`, the centred square of 0.875 of
      the shorter side (the window of ours), `slice`, `resize`, `/ 127.5 - 1`;
  ours eval:   `tfds_configs.eval_input(...)` with the same arguments.

Eval pipelines are repeated so that a round can time more batches than a pass
holds. Each round of each pipeline runs alone, in a fresh Python process (no
other pipeline's threads or buffers alive): it builds the pipeline, takes
`--warmup` batches, then times `--batches` batches: images per second of wall
time, and images per CPU-second of the process (all its threads), which does
not depend on the number of cores. Rounds alternate between the pipelines
(every other round runs them in reverse order) and the medians are reported.

`--profile` times each train pipeline cut after each of its stages instead
(the cut keeps one pixel per image, so only the work up to that stage runs):
CPU milliseconds per image, cumulative, medians of the rounds.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from benchmarks import photos

SIZES = {  # name -> (label, (height, width) of the images, cycled)
    "small": ("~500x375", ((375, 500), (500, 375), (333, 500), (500, 400))),
    "large": ("~1.5 MP", ((1000, 1500), (1500, 1000), (1200, 1200))),
}
PIPELINES = ("guide", "ours")
MODES = ("train", "eval")
SHUFFLE_BUFFER = 10_000  # train_input's default, for both pipelines.
CENTRE_FRACTION = 0.875
AREA_RANGE = (0.08, 1.0)
ASPECT_RATIO_RANGE = (3 / 4, 4 / 3)


# The pipelines -------------------------------------------------------------

def guide_train(source, *, batch_size, image_size):
    """The tf.data performance guide's training pipeline, written plainly."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel

    def preprocess(example):
        image = tf.io.decode_jpeg(example["image"], channels=3)
        begin, size, _ = tf.image.sample_distorted_bounding_box(
            tf.shape(image), bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
            min_object_covered=0.0, aspect_ratio_range=ASPECT_RATIO_RANGE,
            area_range=AREA_RANGE, max_attempts=10, use_image_if_no_bounding_boxes=True)
        image = tf.slice(image, begin, size)
        image = tf.image.resize(image, [image_size, image_size])
        image = tf.image.random_flip_left_right(image)
        return image / 127.5 - 1.0, example["label"]

    ds = source.builder.as_dataset(
        split="train", shuffle_files=True, decoders={"image": tfds.decode.SkipDecoding()})
    ds = ds.shuffle(SHUFFLE_BUFFER).repeat()
    ds = ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def guide_eval(source, *, batch_size, image_size):
    """The guide's evaluation pipeline: full decode, centre crop, resize."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel

    def preprocess(example):
        image = tf.io.decode_jpeg(example["image"], channels=3)
        shape = tf.shape(image)
        side = tf.cast(CENTRE_FRACTION * tf.cast(tf.minimum(shape[0], shape[1]), tf.float32),
                       tf.int32)
        image = tf.slice(image, [(shape[0] - side + 1) // 2, (shape[1] - side + 1) // 2, 0],
                         [side, side, 3])
        image = tf.image.resize(image, [image_size, image_size])
        return image / 127.5 - 1.0, example["label"]

    ds = source.builder.as_dataset(
        split="validation", decoders={"image": tfds.decode.SkipDecoding()})
    ds = ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def ours_train(source, *, batch_size, image_size):
    import tfds_configs  # pylint: disable=import-outside-toplevel

    return tfds_configs.train_input(source, global_batch_size=batch_size,
                                    image_size=image_size, normalization="inception")


def ours_eval(source, *, batch_size, image_size):
    import tfds_configs  # pylint: disable=import-outside-toplevel

    return tfds_configs.eval_input(source, global_batch_size=batch_size,
                                   image_size=image_size, normalization="inception")


BUILDERS = {
    ("guide", "train"): guide_train, ("guide", "eval"): guide_eval,
    ("ours", "train"): ours_train, ("ours", "eval"): ours_eval,
}


# Stage cuts for the profile -------------------------------------------------

OURS_STAGES = (
    "read (TFDS, shuffle, repeat, element seeds)",
    "+ crop window from the JPEG header",
    "+ decode the window only (DCT-scaled when >= 2x the output)",
    "+ resize to 224x224 (float)",
    "+ flip",
    "+ normalize",
)
GUIDE_STAGES = (
    "read (TFDS, shuffle, repeat)",
    "+ decode the full JPEG",
    "+ crop window and slice",
    "+ resize to 224x224 (float)",
    "+ flip",
    "+ scale to [-1, 1]",
)
COMPLETE = "complete pipeline (+ batch, prefetch)"


def _one_pixel(value):
    """What a cut pipeline keeps of a stage's output: a few values, so that
    batching costs nothing, yet every op up to the stage runs in full."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    return tf.cast(value[0, 0] if value.shape.rank == 3 else value, tf.float32)


def ours_cut(source, stages, *, batch_size, image_size):
    """`ours_train` cut after its first `stages` stages (mirrors
    `pipeline.train_input` and `preprocessing.train_image`)."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from tfds_configs import pipeline  # pylint: disable=import-outside-toplevel
    from tfds_configs import preprocessing  # pylint: disable=import-outside-toplevel
    from tfds_configs import reading  # pylint: disable=import-outside-toplevel

    crop = tf.random.experimental.stateless_fold_in(tf.constant([0, 0], tf.int64), 0)

    def cut(index, element):
        encoded, label = element
        seed = tf.random.experimental.stateless_fold_in(crop, index)
        crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        window_fn = lambda shape: preprocessing.random_crop_window(  # noqa: E731
            shape, crop_seed, fallback_fraction=CENTRE_FRACTION)
        out = tf.cast(crop_seed, tf.float32)
        if stages >= 2:
            out = window_fn(tf.image.extract_jpeg_shape(encoded, output_type=tf.int32)[:2])
        if stages >= 3:
            out = preprocessing.decode_window(encoded, window_fn, min_size=image_size)
        if stages >= 4:
            out = preprocessing.resize(out, image_size)
        if stages >= 5:
            out = tf.image.stateless_random_flip_left_right(out, flip_seed)
        if stages >= 6:
            out = preprocessing.normalize(out, "inception")
        return _one_pixel(out), label

    ds = reading.read_split(source, "train", shuffle_files=True, seed=0)
    ds = ds.shuffle(SHUFFLE_BUFFER, seed=0).repeat().enumerate()
    ds = ds.map(cut, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    return ds.with_options(pipeline._options(False, None))  # pylint: disable=protected-access


def guide_cut(source, stages, *, batch_size, image_size):
    """`guide_train` cut after its first `stages` stages."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel

    def cut(example):
        out = tf.cast(example["label"], tf.float32)
        if stages >= 2:
            out = image = tf.io.decode_jpeg(example["image"], channels=3)
        if stages >= 3:
            begin, size, _ = tf.image.sample_distorted_bounding_box(
                tf.shape(image), bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
                min_object_covered=0.0, aspect_ratio_range=ASPECT_RATIO_RANGE,
                area_range=AREA_RANGE, max_attempts=10, use_image_if_no_bounding_boxes=True)
            out = tf.slice(image, begin, size)
        if stages >= 4:
            out = tf.image.resize(out, [image_size, image_size])
        if stages >= 5:
            out = tf.image.random_flip_left_right(out)
        if stages >= 6:
            out = out / 127.5 - 1.0
        return _one_pixel(out), example["label"]

    ds = source.builder.as_dataset(
        split="train", shuffle_files=True, decoders={"image": tfds.decode.SkipDecoding()})
    ds = ds.shuffle(SHUFFLE_BUFFER).repeat()
    ds = ds.map(cut, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


# Data and measurement ------------------------------------------------------

def prepare(cache_dir, size, num_images):
    """The `DataSource` of `num_images` train and validation photos of `size`."""
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel

    import tfds_configs  # pylint: disable=import-outside-toplevel

    tfds.disable_progress_bar()
    folder = photos.write_folder(
        os.path.join(cache_dir, f"photos_{size}_{num_images}"), sizes=SIZES[size][1],
        counts={"train": num_images, "val": num_images})
    return tfds_configs.prepare_image_folder(
        folder, data_dir=os.path.join(cache_dir, "tfds"), name=f"photos_{size}_{num_images}")


def _build(spec, source):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    common = dict(batch_size=spec["batch_size"], image_size=spec["image_size"])
    if spec.get("stages"):
        cut = guide_cut if spec["pipeline"] == "guide" else ours_cut
        ds = cut(source, spec["stages"], **common)
    else:
        ds = BUILDERS[(spec["pipeline"], spec["mode"])](source, **common)
        ds = ds.repeat() if spec["mode"] == "eval" else ds
    if spec.get("threads"):  # One thread per op and per pipeline: CPU time is work done.
        options = tf.data.Options()
        options.threading.private_threadpool_size = spec["threads"]
        options.threading.max_intra_op_parallelism = 1
        ds = ds.with_options(options)
    return ds


def measure(spec):
    """Builds the pipeline `spec` names and times it: a dict of figures."""
    import tfds_configs  # pylint: disable=import-outside-toplevel

    source = tfds_configs.load_image_folder(spec["dataset"], data_dir=spec["data_dir"])
    ds = _build(spec, source)
    iterator = iter(ds)
    for _ in range(spec["warmup"]):
        next(iterator)
    wall, cpu = time.perf_counter(), time.process_time()
    images = 0
    for _ in range(spec["batches"]):
        images += int(next(iterator)[1].shape[0])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"images_per_s": images / wall, "images_per_cpu_s": images / cpu,
            "cpu_ms_per_image": 1e3 * cpu / images}


def measure_alone(spec):
    """`measure(spec)` in a fresh Python process."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.input_pipeline", "--measure", json.dumps(spec)],
        capture_output=True, text=True, env=env, cwd=root, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode or not lines:
        raise RuntimeError(
            f"Measuring {spec} failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    return json.loads(lines[-1])


def _median(runs, key):
    return statistics.median(run[key] for run in runs)


def run(args):
    """Measures every (size, mode, pipeline) `args.rounds` times; returns
    {(size, mode, pipeline): [measurement, ...]} and the datasets' stats."""
    measure_fn = measure_alone if args.isolate else measure
    specs, stats = {}, {}
    for size in args.sizes:
        source = prepare(args.cache_dir, size, args.num_images)
        stats[size] = _jpeg_stats(source)
        base = dict(dataset=source.config.name, data_dir=args.data_dir, warmup=args.warmup,
                    batches=args.batches, batch_size=args.batch_size,
                    image_size=args.image_size)
        if args.profile:
            base["threads"] = 1
            for pipeline, names in (("guide", GUIDE_STAGES), ("ours", OURS_STAGES)):
                for stages in range(1, len(names) + 1):
                    specs[(size, pipeline, stages)] = dict(base, pipeline=pipeline,
                                                           mode="train", stages=stages)
                specs[(size, pipeline, 0)] = dict(base, pipeline=pipeline, mode="train")
        else:
            for mode in args.modes:
                for pipeline in PIPELINES:
                    specs[(size, mode, pipeline)] = dict(base, pipeline=pipeline, mode=mode)
    samples = {key: [] for key in specs}
    for round_index in range(args.rounds):
        keys = list(specs)
        if round_index % 2:  # Reversed: drifting load hits every pipeline alike.
            keys.reverse()
        for key in keys:
            samples[key].append(measure_fn(specs[key]))
            if args.verbose:
                print(f"round {round_index + 1}: {key}: {samples[key][-1]}", flush=True)
    return samples, stats


def _jpeg_stats(source):
    import numpy as np  # pylint: disable=import-outside-toplevel
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from tfds_configs import reading  # pylint: disable=import-outside-toplevel

    sizes, pixels = [], []
    for encoded, _ in reading.read_split(source, "train").as_numpy_iterator():
        sizes.append(len(encoded))
        pixels.append(int(np.prod(tf.image.extract_jpeg_shape(encoded).numpy()[:2])))
    return {"mean_kb": float(np.mean(sizes)) / 1024, "mean_mp": float(np.mean(pixels)) / 1e6}


def format_table(samples, stats, args, load):
    lines = [
        f"{args.num_images} train + {args.num_images} validation JPEGs per size, cut from "
        f"real photographs; {args.image_size} px, batch {args.batch_size}; "
        f"{os.cpu_count()} CPUs, load average {load[0]:.1f} -> {load[1]:.1f}; each round: "
        f"one pipeline alone{' in a fresh process' if args.isolate else ''}, {args.warmup} "
        f"warm-up + {args.batches} timed batches; medians of {args.rounds} rounds.",
        "",
        "| images | pipeline | guide img/s | ours img/s | ours / guide | "
        "guide img/CPU-s | ours img/CPU-s | ours / guide |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size in args.sizes:
        label = (f"{SIZES[size][0]} ({stats[size]['mean_mp']:.2f} MP, "
                 f"{stats[size]['mean_kb']:.0f} KB)")
        for mode in args.modes:
            guide, ours = samples[(size, mode, "guide")], samples[(size, mode, "ours")]
            cells = []
            for key in ("images_per_s", "images_per_cpu_s"):
                g, o = _median(guide, key), _median(ours, key)
                cells += [f"{g:.0f}", f"{o:.0f}", f"**{o / g:.2f}x**"]
            lines.append(f"| {label} | {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_profile(samples, stats, args, load):
    lines = [
        f"Per-stage profile of the train pipelines: each cut after a stage keeps one pixel per "
        f"image; CPU ms per image (all threads), medians of {args.rounds} rounds, each cut "
        f"alone in a fresh process; {os.cpu_count()} CPUs, load average {load[0]:.1f} -> "
        f"{load[1]:.1f}.",
    ]
    for size in args.sizes:
        lines += ["", f"{SIZES[size][0]} ({stats[size]['mean_mp']:.2f} MP, "
                  f"{stats[size]['mean_kb']:.0f} KB):", "",
                  "| pipeline | cut after | CPU ms / image | stage |", "|---|---|---|---|"]
        for pipeline, names in (("guide", GUIDE_STAGES), ("ours", OURS_STAGES)):
            previous = 0.0
            for stages, name in enumerate(names + (COMPLETE,), start=1):
                key = (size, pipeline, stages if stages <= len(names) else 0)
                value = _median(samples[key], "cpu_ms_per_image")
                lines.append(f"| {pipeline} | {name} | {value:.3f} | {value - previous:+.3f} |")
                previous = value
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.input_pipeline",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="small,large",
                        help=f"comma-separated, of {sorted(SIZES)}")
    parser.add_argument("--modes", default="train,eval", help=f"comma-separated, of {list(MODES)}")
    parser.add_argument("--num_images", type=int, default=256, help="per split and size")
    parser.add_argument("--image_size", type=int, default=224)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=15, help="timed batches per round")
    parser.add_argument("--warmup", type=int, default=3, help="untimed batches per round")
    parser.add_argument("--rounds", type=int, default=5, help="measurements per pipeline")
    parser.add_argument("--profile", action="store_true", help="the per-stage profile")
    parser.add_argument("--cache_dir", default=os.path.join(
        os.path.expanduser("~"), ".cache", "keras_mobile", "input_pipeline_benchmark"))
    parser.add_argument("--no_isolation", dest="isolate", action="store_false",
                        help="measure in this process (quicker; for tests)")
    parser.add_argument("--json", default=None, help="also write every measurement here")
    parser.add_argument("--verbose", action="store_true", help="print each measurement")
    parser.add_argument("--measure", default=None, help=argparse.SUPPRESS)  # The child's spec.
    args = parser.parse_args(argv)
    if args.measure is not None:
        return args
    args.sizes = [s for s in args.sizes.split(",") if s]
    unknown = [s for s in args.sizes if s not in SIZES]
    if unknown or not args.sizes:
        parser.error(f"--sizes={','.join(args.sizes)}: accepted values: {sorted(SIZES)}")
    modes = [m for m in args.modes.split(",") if m]
    if not modes or any(m not in MODES for m in modes):
        parser.error(f"--modes={args.modes}: accepted values: {list(MODES)}")
    args.modes = [m for m in MODES if m in modes]
    for name in ("num_images", "image_size", "batch_size", "batches", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    args.cache_dir = os.path.abspath(os.path.expanduser(args.cache_dir))
    args.data_dir = os.path.join(args.cache_dir, "tfds")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.measure is not None:
        print(json.dumps(measure(json.loads(args.measure))))
        return None
    start_load = os.getloadavg()[0]
    samples, stats = run(args)
    load = (start_load, os.getloadavg()[0])
    print((format_profile if args.profile else format_table)(samples, stats, args, load))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"args": {k: v for k, v in vars(args).items() if k != "measure"},
                       "load_average": load, "stats": stats,
                       "samples": [{"key": list(k), "runs": v} for k, v in samples.items()]},
                      f, indent=1)
    return samples


if __name__ == "__main__":
    main()

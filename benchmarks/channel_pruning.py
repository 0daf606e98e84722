"""Channel pruning against the narrower width multiplier: Mult-Adds, params and LiteRT fp32 latency.

    python -m benchmarks.channel_pruning [--models a,b] [--reductions 0.3,0.5] [--resolution 224]
        [--criterion l1] [--round_to 8] [--runs 60] [--warmup 5] [--json out.json]

From the repository root (``benchmarks/`` is not installed). Per model (default: mobilenetv2_100,
mobilenetv3_large_100, mobilenext_100, shufflenet_v2_x1_0) and per fraction of Mult-Adds to remove:

* ``pruned``: ``compression.prune_channels`` (criterion ``--criterion``) of the model with seeded random
  weights (latency does not depend on weight values; top-1 needs the harness's trained and fine-tuned
  model, see below);
* ``width``: the same family at the width multiplier whose Mult-Adds are closest to the pruned model's,
  found by bisection over the family's width argument (``registry.width_override``). ShuffleNetV2's
  builder takes only torchvision's four scales, so its baseline is built here with the family's blocks
  and stage widths ``make_divisible(width * (116, 232, 464), 16)`` (every branch a multiple of 8, as the
  pruned model's), stem 24 and head 1024 as in every torchvision scale;
* the unpruned model.

Everything is converted to fp32 TFLite and timed by ``keras_mobile.benchmark.measure``: LiteRT with
XNNPACK, 1 thread, batch 1, all rows interleaved in a fresh random order each round, medians (and the
fastest run, the better estimate on a loaded machine). Speedups are the unpruned model's median over
the row's. The load average (``os.getloadavg``) is printed before and after the timing: on a shared
machine, compare ratios, not milliseconds.

Top-1 after training is measured by ``benchmarks.channel_pruning_top1`` (the harness's
``--channel_prune`` phase against the width baseline trained for the same total epochs).
"""

import argparse
import json
import os
import sys
import time


from keras_mobile import backend, benchmark, compression, tflite
from keras_mobile.channels import make_divisible
from keras_mobile.profile import profile_model
from keras_mobile.registry import create_model, model_info, width_override

DEFAULT_MODELS = ("mobilenetv2_100", "mobilenetv3_large_100", "mobilenext_100", "shufflenet_v2_x1_0")
DEFAULT_REDUCTIONS = (0.3, 0.5)
SPEEDUP_TARGET = 1.25  # the target for 30% fewer Mult-Adds


# --------------------------------------------------------------------------- models
def _shufflenet_v2_at(width, resolution, classes=1000):
    """ShuffleNetV2 at any width (see the module docstring): torchvision's topology, the package's blocks."""
    from keras_mobile.blocks.conv import TORCH_STYLE, conv_bn_act
    from keras_mobile.blocks.shuffle import pool_3x3_s2, shufflenet_v2_unit
    from keras_mobile.builder import FeatureMaps, ModelOptions, pooled_dense_top
    from keras_mobile.models.shufflenet_v2 import CHANNELS, NORMALIZATION, REPEATS

    stem, *stages, head = CHANNELS[1.0]
    options = ModelOptions(input_shape=(resolution, resolution, 3), classes=classes)
    model_input, x = options.inputs(32, normalization=NORMALIZATION)
    features = FeatureMaps()
    x = conv_bn_act(x, stem, 3, 2, act="relu", style=TORCH_STYLE, name="stem")
    x = pool_3x3_s2(x, "max", TORCH_STYLE, name="stem_pool")
    for stage, (repeats, filters) in enumerate(zip(REPEATS, stages), start=1):
        filters = make_divisible(filters * width, 16)
        for index in range(repeats):
            x = shufflenet_v2_unit(x, filters, 2 if index == 0 else 1, TORCH_STYLE, name=f"stage{stage}_block{index + 1}")
    x = conv_bn_act(x, head, 1, act="relu", style=TORCH_STYLE, name="head")
    return options.finish(model_input, x, features, pooled_dense_top(0.0), f"shufflenet_v2_w{width:.3f}")


def _at_width(name, width, resolution, classes=1000):
    if model_info(name).family == "shufflenet_v2":
        return _shufflenet_v2_at(width, resolution, classes)
    return create_model(name, input_shape=(resolution, resolution, 3), classes=classes, **width_override(name, width))


def width_baseline(name, mult_adds, resolution, log=print, classes=1000):
    """``(width, model)``: the family at the width whose Mult-Adds are closest to ``mult_adds`` (bisection).

    ``classes``: the classifier's outputs, as in the model ``mult_adds`` was counted on (the head counts).
    """
    low, high = 0.1, 1.0
    counted = {}

    def macs(width):
        width = round(width, 4)
        if width not in counted:
            model = _at_width(name, width, resolution, classes)
            counted[width] = (profile_model(model).mult_adds, model)
        return counted[width][0]

    while high - low > 0.005:
        middle = (low + high) / 2
        if macs(middle) < mult_adds:
            low = middle
        else:
            high = middle
    best = min((round(low, 4), round(high, 4)), key=lambda w: abs(macs(w) - mult_adds))
    log(f"{name}: width {best:.3f} has {macs(best):,} Mult-Adds (pruned: {mult_adds:,}); {len(counted)} widths built")
    return best, counted[best][1]


# --------------------------------------------------------------------------- rows
def _row(label, name, variant, model, extra=None):
    profile = profile_model(model)
    return {
        "model": label,
        "family": model_info(name).family,
        "base": name,
        "variant": variant,
        "resolution": int(model.inputs[0].shape[1]),
        "precision": "fp32",
        "params": profile.trainable_params,
        "mult_adds": profile.mult_adds,
        "content": tflite.convert_model(model, "fp32"),
        **(extra or {}),
    }


def rows(models, reductions, resolution=224, criterion="l1", round_to=8, log=print):
    """One row per (model, variant): unpruned, pruned at each reduction, its width baseline; with TFLite bytes."""
    backend.keras.utils.set_random_seed(0)
    out = []
    for name in models:
        start = time.perf_counter()
        model = create_model(name, input_shape=(resolution, resolution, 3))
        out.append(_row(name, name, "unpruned", model))
        for reduction in reductions:
            pruned, report = compression.prune_channels(model, reduction, criterion=criterion, round_to=round_to,
                                                        return_report=True)
            out.append(_row(f"{name} pruned {reduction:.0%}", name, f"pruned {reduction:.0%}", pruned,
                            {"target": reduction, "mac_reduction": report.mac_reduction}))
            width, baseline = width_baseline(name, report.mult_adds_after, resolution, log)
            out.append(_row(f"{name} width {width:.3f}", name, f"width {width:.3f}", baseline,
                            {"target": reduction, "width": width}))
        log(f"{name}: built, pruned and converted in {time.perf_counter() - start:.0f}s")
    return out


def attach_ratios(results):
    """Add ``speedup`` (unpruned median / row median) and ``mult_adds_ratio`` to every result."""
    base = {r["base"]: r for r in results if r["variant"] == "unpruned"}
    for r in results:
        r["speedup"] = base[r["base"]]["median_ms"] / r["median_ms"]
        r["mult_adds_ratio"] = r["mult_adds"] / base[r["base"]]["mult_adds"]
    return results


def format_table(results):
    lines = [
        "| model | variant | Mult-Adds | params | fp32 ms (1 thread) | IQR ms | min ms | speedup |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['base']} | {r['variant']} | {r['mult_adds'] / 1e6:.1f}M ({r['mult_adds_ratio']:.0%}) | "
            f"{r['params'] / 1e6:.2f}M | {r['median_ms']:.2f} | {r['iqr_ms']:.2f} | {r['min_ms']:.2f} | {r['speedup']:.2f}x |"
        )
    lines.append("")
    for r in results:
        if r["variant"].startswith("pruned"):
            width = next(b for b in results if b["base"] == r["base"] and b.get("target") == r["target"]
                         and b["variant"].startswith("width"))
            verdict = ""
            if abs(r["target"] - 0.3) < 1e-9:
                verdict = f" (target >= {SPEEDUP_TARGET}x: {'met' if r['speedup'] >= SPEEDUP_TARGET else 'MISSED'})"
            lines.append(
                f"{r['base']} {r['variant']}: {r['speedup']:.2f}x faster than unpruned{verdict}; "
                f"{width['median_ms'] / r['median_ms']:.2f}x the speed of {width['variant']} "
                f"({width['mult_adds'] / r['mult_adds']:.3f}x its Mult-Adds)"
            )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.channel_pruning", description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated registered names")
    parser.add_argument("--reductions", default=",".join(map(str, DEFAULT_REDUCTIONS)),
                        help="comma-separated fractions of Mult-Adds to remove")
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--criterion", default="l1", choices=[c for c in compression.CRITERIA if c != "taylor"])
    parser.add_argument("--round_to", type=int, default=8)
    parser.add_argument("--runs", type=int, default=60, help="timed interleaved rounds")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--json", help="write the results (without TFLite bytes) as JSON")
    args = parser.parse_args(argv)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    try:
        models = [m for m in args.models.split(",") if m]
        reductions = [float(r) for r in args.reductions.split(",") if r]
        for name in models:
            model_info(name)
    except ValueError as error:
        parser.error(str(error))
    prepared = rows(models, reductions, args.resolution, args.criterion, args.round_to, log)
    load_before = os.getloadavg()
    results = attach_ratios(benchmark.measure(prepared, threads=(1,), warmup=args.warmup, runs=args.runs, log=log))
    load_after = os.getloadavg()
    print(format_table(results))
    print(f"\nload average (1, 5, 15 min) before timing {tuple(round(v, 2) for v in load_before)}, "
          f"after {tuple(round(v, 2) for v in load_after)}; {os.cpu_count()} CPUs; {args.runs} rounds, "
          f"criterion {args.criterion}, round_to {args.round_to}, {args.resolution} px")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "load_before": load_before, "load_after": load_after}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Top-1 of channel pruning against the narrower width multiplier, trained by the harness on the default data.

    python -m benchmarks.channel_pruning_top1 [--models a,b] [--reductions 0.3,0.5] [--resolution 64]
        [--epochs 12] [--phase_epochs 4] [--out /tmp/channel_pruning_top1] [--json out.json]

From the repository root. Per model (default: the four of ``benchmarks.channel_pruning``), each a
``python -m train_tpu`` run of the ``default`` preset (AdamW, cosine, EMA) at ``--resolution``:

* ``unpruned``: the float model, ``--epochs`` epochs;
* ``pruned r``: that float run's final weights, ``--channel_prune=r`` (criterion ``l1``), fine-tuned
  ``--phase_epochs`` epochs with the float model as teacher (the float run is trained once and copied
  into each reduction's model_dir, where the harness finds it finished);
* ``width w``: the family at the width whose Mult-Adds are closest to the pruned model's (bisection,
  ``benchmarks.channel_pruning.width_baseline``), trained from scratch for ``--epochs + --phase_epochs``
  epochs: the same total. ShuffleNetV2's harness model takes only torchvision's four scales, so it has
  no width baseline here.

Top-1 is the harness's eval on the default dataset's eval split (EMA weights for the float and width
runs, the phase's weights for the pruned ones). One seed: differences of a point or two are within the
run-to-run spread of such short runs.

Resolution: 64 px, the default preset's (at 32 px MobileNetV2 1.0 reached only 32% top-1 after 12 epochs,
too low to compare anything). The default set (4 models, 2 reductions, 12 + 4 epochs) took 30-40 minutes
per model on 2 cores (2026-11-30; figures in docs/compression.md). The width baseline is bisected on the
model with the harness's classifier (the data's classes): the head counts in the Mult-Adds.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

from benchmarks.channel_pruning import DEFAULT_MODELS, DEFAULT_REDUCTIONS, width_baseline
from keras_mobile.registry import model_info

NO_WIDTH_BASELINE = {"shufflenet_v2": "the harness's ShuffleNetV2 takes only torchvision's four scales"}


def train(model_dir, model, resolution, epochs, extra=(), log=print):
    """One ``python -m train_tpu`` run of the default preset; returns its summary.json (dict)."""
    argv = [sys.executable, "-m", "train_tpu", f"--model={model}", f"--resolution={resolution}",
            f"--epochs={epochs}", f"--model_dir={model_dir}", "--set", "export.enabled=false", *extra]
    log("$ " + " ".join(argv[1:]))
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    log(f"  {time.perf_counter() - start:.0f} s")
    with open(os.path.join(model_dir, "summary.json"), encoding="utf-8") as f:
        return json.load(f)


def _row(model, variant, summary, total_epochs, width=None):
    return {"model": model, "variant": variant, "width": width, "mult_adds": summary["mult_adds"],
            "params": summary["params"], "epochs": total_epochs, "top1": summary["metrics"]["eval_top1"],
            "wall_seconds": summary.get("wall_seconds")}


def rows(models, reductions, resolution, epochs, phase_epochs, out, log=print):
    results = []
    for model in models:
        float_dir = os.path.join(out, model, "float")
        unpruned = train(float_dir, model, resolution, epochs, log=log)
        results.append(_row(model, "unpruned", unpruned, epochs))
        for reduction in reductions:
            pruned_dir = os.path.join(out, model, f"pruned_{reduction:g}")
            shutil.rmtree(pruned_dir, ignore_errors=True)
            shutil.copytree(float_dir, pruned_dir)  # the finished float phase: not trained again
            summary = train(pruned_dir, model, resolution, epochs, log=log,
                            extra=[f"--channel_prune={reduction}", f"--channel_prune_epochs={phase_epochs}"])
            pruned = summary["phases"]["channel_prune"]
            results.append(_row(model, f"pruned {reduction:.0%}", pruned, epochs + phase_epochs))
            family = model_info(model).family
            if family in NO_WIDTH_BASELINE:
                log(f"{model}: no width baseline ({NO_WIDTH_BASELINE[family]})")
                continue
            classes = len(unpruned["per_class"]["examples"])  # the head counts: the default data has 10 classes
            width, _ = width_baseline(model, pruned["mult_adds"], resolution, log=log, classes=classes)
            baseline = train(os.path.join(out, model, f"width_{width:.3f}"), model, resolution,
                             epochs + phase_epochs, extra=[f"--width={width}"], log=log)
            results.append(_row(model, f"width {width:.3f}", baseline, epochs + phase_epochs, width))
    return results


def format_table(results, resolution):
    lines = [f"| model | variant | Mult-Adds at {resolution} px | params | epochs | top-1 | vs unpruned |",
             "|---|---|---|---|---|---|---|"]
    reference = {}
    for r in results:
        if r["variant"] == "unpruned":
            reference[r["model"]] = r["top1"]
        delta = (r["top1"] - reference[r["model"]]) * 100
        lines.append(f"| {r['model']} | {r['variant']} | {r['mult_adds'] / 1e6:.2f}M | {r['params'] / 1e6:.2f}M | "
                     f"{r['epochs']:g} | {r['top1']:.1%} | {delta:+.1f} |")
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.channel_pruning_top1",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS))
    parser.add_argument("--reductions", default=",".join(str(r) for r in DEFAULT_REDUCTIONS))
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--epochs", type=float, default=12.0, help="float training epochs")
    parser.add_argument("--phase_epochs", type=float, default=4.0, help="channel_prune fine-tuning epochs")
    parser.add_argument("--out", default="/tmp/channel_pruning_top1")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]
    try:
        args.reductions = [float(r) for r in args.reductions.split(",") if r]
    except ValueError:
        parser.error(f"--reductions={args.reductions}: accepted values: comma-separated numbers in (0, 1)")
    if not args.reductions or not all(0 < r < 1 for r in args.reductions):
        parser.error(f"--reductions={','.join(map(str, args.reductions))}: accepted values: numbers in (0, 1)")
    for name in ("resolution", "epochs", "phase_epochs"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be > 0")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    load = os.getloadavg()[0]
    results = rows(args.models, args.reductions, args.resolution, args.epochs, args.phase_epochs, args.out)
    print(f"\ndefault dataset, {args.resolution} px, default preset; {args.epochs:g} float epochs + "
          f"{args.phase_epochs:g} channel_prune epochs; load average {load:.1f} -> {os.getloadavg()[0]:.1f}\n")
    print(format_table(results, args.resolution))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()

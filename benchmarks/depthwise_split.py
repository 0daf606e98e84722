"""Which pieces a large depthwise kernel should be cut into: every candidate timed under LiteRT + XNNPACK.

    python -m benchmarks.depthwise_split [--kernels 6,7,8,9,10,11] [--shapes 28x240s1,14x480s1,56x240s2]
        [--precision fp32,int8] [--runs 30] [--json out.json]

From the repository root. For each kernel size k and feature map (SIZExCHANNELS, stride), one model
holds a single k x k depthwise convolution ('same' padding) and each candidate is the same convolution
rewritten by ``keras_mobile.optimize_for_inference`` with that candidate as its plan: every cut of the
kernel into a grid of blocks of side <= 5 listed in ``CANDIDATES`` (rows = columns), each with the two
arrangements (``own``: every piece pads / crops the input itself; ``shared``: one pad, a crop per
piece). All models of one precision are converted (int8: calibrated on random images) and timed
interleaved at one thread (``keras_mobile.benchmark.measure``: each round runs every model once, in a
fresh order); medians of ``--runs`` rounds. Printed: per kernel size, shape and precision, each
candidate's time as a fraction of the original k x k convolution's, and the summary the plan table
``keras_mobile.inference_rewrites.DEPTHWISE_PLANS`` is chosen from: the candidate with the lowest
geometric mean of that fraction over shapes and precisions.
"""

import argparse
import json
import math
import sys
import time

import numpy as np

# Cuts of one kernel side into blocks of at most 5 (the grid uses the same cut for rows and columns).
CANDIDATES = {
    6: ((3, 3), (4, 2), (5, 1), (2, 2, 2)),
    7: ((4, 3), (3, 4), (5, 2), (3, 3, 1), (3, 2, 2)),
    8: ((4, 4), (5, 3), (3, 3, 2)),
    9: ((5, 4), (4, 5), (3, 3, 3), (4, 4, 1)),
    10: ((5, 5), (4, 3, 3), (4, 4, 2)),
    11: ((4, 4, 3), (4, 3, 4), (5, 3, 3), (5, 5, 1), (3, 3, 3, 2)),
}
ARRANGEMENTS = ("own", "shared")


def parse_shape(text):
    """``"28x240s1"`` -> (28, 240, 1)."""
    try:
        size, rest = text.lower().split("x")
        channels, stride = rest.split("s") if "s" in rest else (rest, "1")
        shape = int(size), int(channels), int(stride)
        if min(shape) < 1:
            raise ValueError
    except ValueError:
        raise ValueError(f"--shapes {text!r}: accepted values: SIZExCHANNELSsSTRIDE, e.g. 28x240s1") from None
    return shape


def single_depthwise(kernel, size, channels, stride, seed=0):
    """A model holding one k x k depthwise conv ('same', no bias), seeded weights."""
    from keras_mobile.backend import keras, layers

    image = keras.Input((size, size, channels), batch_size=1, name="image")
    model = keras.Model(image, layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name="dw")(image),
                        name=f"dw{kernel}")
    weights = np.random.default_rng(seed).normal(0, 1 / kernel, model.weights[0].shape).astype("float32")
    model.set_weights([weights])
    return model


def variants(kernel, size, channels, stride):
    """``[(label, model)]``: the original, then every candidate plan and arrangement."""
    from keras_mobile.inference_rewrites import DepthwisePlan, grid, optimize_for_inference

    original = single_depthwise(kernel, size, channels, stride)
    out = [(f"{kernel}x{kernel}", original)]
    for cut in CANDIDATES[kernel]:
        for arrangement in ARRANGEMENTS:
            plan = DepthwisePlan(grid(cut), arrangement)
            label = f"{'+'.join(map(str, cut))} {arrangement}"
            out.append((label, optimize_for_inference(original, plans={kernel: plan})))
    return out


def run(kernels, shapes, precisions, runs, log=print):
    from keras_mobile import benchmark, testing, tflite

    rows = []
    for kernel in kernels:
        for size, channels, stride in shapes:
            start = time.perf_counter()
            for label, model in variants(kernel, size, channels, stride):
                frozen = tflite.frozen_function(model, (size, size, channels))
                images = testing.sample_images((size, size, channels), 4, seed=1) / 127.5 - 1
                for precision in precisions:
                    content = tflite.convert(frozen, precision, representative_data=images)
                    rows.append({"model": label, "kernel": kernel, "shape": f"{size}x{channels}s{stride}",
                                 "family": "depthwise", "resolution": size, "precision": precision, "params": 0,
                                 "mult_adds": size * size * channels * kernel * kernel // (stride * stride),
                                 "content": content, "ops": tflite.graph_facts(content)["ops"]})
            log(f"k={kernel} {size}x{channels} stride {stride}: converted in {time.perf_counter() - start:.0f} s")
    return benchmark.measure(rows, (1,), warmup=5, runs=runs, log=log, require_xnnpack=True)


def summarize(results):
    """Per kernel: ``{label: {"per_case": {(shape, precision): fraction}, "geomean": g}}`` against the original."""
    summary = {}
    base = {(r["kernel"], r["shape"], r["precision"]): r["median_ms"] for r in results if "x" in r["model"].split()[0]
            and r["model"] == f"{r['kernel']}x{r['kernel']}"}
    for r in results:
        if r["model"] == f"{r['kernel']}x{r['kernel']}":
            continue
        entry = summary.setdefault(r["kernel"], {}).setdefault(r["model"], {"per_case": {}})
        entry["per_case"][(r["shape"], r["precision"])] = r["median_ms"] / base[(r["kernel"], r["shape"], r["precision"])]
    for per_kernel in summary.values():
        for entry in per_kernel.values():
            values = list(entry["per_case"].values())
            entry["geomean"] = math.exp(sum(math.log(v) for v in values) / len(values))
    return summary


def format_results(results, summary):
    cases = sorted({(r["shape"], r["precision"]) for r in results})
    lines = []
    for kernel, per_kernel in sorted(summary.items()):
        base = {(r["shape"], r["precision"]): r for r in results if r["model"] == f"{kernel}x{kernel}"}
        lines.append(f"\nk={kernel}: the {kernel}x{kernel} depthwise conv, median us (1 thread): "
                     + ", ".join(f"{s} {p} {base[(s, p)]['median_ms'] * 1e3:.0f}" for s, p in cases))
        lines.append(f"{'candidate':16} " + " ".join(f"{s + ' ' + p:>15}" for s, p in cases) + f" {'geomean':>8}")
        best = min(per_kernel, key=lambda label: per_kernel[label]["geomean"])
        for label, entry in sorted(per_kernel.items(), key=lambda kv: kv[1]["geomean"]):
            lines.append(f"{label:16} " + " ".join(f"{entry['per_case'][c]:>15.2f}" for c in cases)
                         + f" {entry['geomean']:>8.2f}" + ("  <- fastest" if label == best else ""))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.depthwise_split", description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", default=",".join(map(str, CANDIDATES)))
    parser.add_argument("--shapes", default="28x240s1,14x480s1,56x240s2")
    parser.add_argument("--precision", default="fp32,int8")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    try:
        kernels = [int(k) for k in args.kernels.split(",") if k]
        unknown = [k for k in kernels if k not in CANDIDATES]
        if unknown or not kernels:
            raise ValueError(f"--kernels {args.kernels!r}: accepted values: a subset of {list(CANDIDATES)}")
        shapes = [parse_shape(s) for s in args.shapes.split(",") if s]
        precisions = [p for p in args.precision.split(",") if p]
        if not precisions or any(p not in ("fp32", "int8") for p in precisions):
            raise ValueError(f"--precision {args.precision!r}: accepted values: fp32, int8 (comma-separated)")
        if args.runs < 1:
            raise ValueError(f"--runs {args.runs}: accepted values: an int >= 1")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    load = __import__("os").getloadavg()[0]
    results = run(kernels, shapes, precisions, args.runs, log=log)
    summary = summarize(results)
    print(f"LiteRT + XNNPACK, 1 thread, {args.runs} interleaved rounds; load average {load:.1f} -> "
          f"{__import__('os').getloadavg()[0]:.1f}; time of each candidate / time of the k x k conv")
    print(format_results(results, summary))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"results": results, "summary": {str(k): {label: {"geomean": e["geomean"],
                       "per_case": {" ".join(c): v for c, v in e["per_case"].items()}} for label, e in v.items()}
                       for k, v in summary.items()}}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""CPU latency of the zoo under LiteRT + XNNPACK: FLOPs are not latency.

    python -m keras_mobile.benchmark [NAMES ...] [--threads 1,2] [--precision fp32,int8] [--plot out.png]
    python -m keras_mobile.benchmark --ops        # what single op patterns cost (MixNet, ShuffleNet, V3 ops)
    python -m keras_mobile.benchmark --optimized  # + each model as export ships it (optimize_for_inference)

Each model (random weights; latency does not depend on their values) is
converted to TFLite at batch 1 with static shapes (``keras_mobile.tflite``),
fp32 and/or full-integer int8, and run by ``ai_edge_litert`` with the default
XNNPACK delegate (checked). After a warm-up, models are timed **interleaved**:
each round invokes every (model, precision) once, so load from other processes
hits all rows alike and ratios stay fair. Reported: median and IQR of the
per-invoke times, params, Mult-Adds and ms per GMAC. keras.applications'
MobileNetV2 (same Keras line, converted the same way) is timed as a reference
row unless ``--no-reference``, next to our mobilenetv2_100 built with
``include_preprocessing=False``: keras.applications' model expects inputs
already scaled to [-1, 1] (``preprocess_input`` runs outside the graph), ours
takes [0, 255] and rescales inside (a MUL and an ADD over the input image), so
the like-for-like comparison is the model without that layer. Targets checked
at the end:

* our mobilenetv2_100 fp32 (no preprocessing) / keras.applications MobileNetV2 fp32 <= 1.03
* every family's ms/GMAC <= 2x mobilenetv2_100's at one thread (above 1.3x is flagged)
* mobilenetv2_100 int8 / fp32 <= 0.6

``--optimized`` adds a ``NAME/optimized`` row for every model that ``keras_mobile.optimize_for_inference``
rewrites (what ``export_model`` converts by default; models it leaves alone convert to the same graph,
said in the log), and the targets for it: its ms/GMAC against mobilenetv2_100's (MixNet-S: <= 1.5x),
its int8 no slower than its fp32, and no optimized row slower than its original. ``--ops`` always
times each rewritten op pattern beside its original (``PATTERN [optimized]``).
"""

import json
import os
import re
import sys
import time

import numpy as np

from keras_mobile import backend, cli, tflite
from keras_mobile.registry import create_model, list_models, model_info
from keras_mobile.validation import check_int, fail

REFERENCE = "keras.applications.MobileNetV2"
BASELINE = "mobilenetv2_100"
RAW_BASELINE = "mobilenetv2_100/no_preprocessing"  # include_preprocessing=False: the reference's input range
OPTIMIZED = "/optimized"  # row suffix: the model after optimize_for_inference
OPTIMIZED_PATTERN = " [optimized]"
NO_MERGE_PATTERN = " [optimized, no merge]"
OPTIMIZED_MS_PER_GMAC_TARGET = {"mixnet_s": 1.5}  # x mobilenetv2_100's fp32 ms/GMAC at 1 thread
# The 1.0-width variant of each family (families not listed: their first variant).
_PREFERRED = (
    "mobilenetv1_100", "mobilenetv2_100", "mobilenetv3_large_100", "mobilenext_100", "rexnet_100",
    "mixnet_s", "shufflenet_v1_g3_100", "shufflenet_v2_x1_0", "squeezenet1_1", "xception",
)


def default_models():
    names = list_models()
    chosen = {}
    for name in _PREFERRED:
        if name in names:
            chosen.setdefault(model_info(name).family, name)
    for name in names:
        chosen.setdefault(model_info(name).family, name)
    return sorted(chosen.values())


def _build(name, resolution):
    """``(model, family, resolution)`` for a registered name or the reference."""
    if name in (REFERENCE, RAW_BASELINE):
        shape = model_info(BASELINE).input_shape(resolution)
        if name == REFERENCE:
            return backend.keras.applications.MobileNetV2(weights=None, input_shape=shape), "keras.applications", shape[0]
        return create_model(BASELINE, input_shape=shape, include_preprocessing=False), "mobilenetv2", shape[0]
    info = model_info(name, arg="names")
    shape = info.input_shape(resolution)
    return create_model(name, input_shape=shape), info.family, shape[0]


def prepare(names, precisions, resolution=None, reference=True, optimized=False, log=print):
    """Convert every model: a list of row dicts with ``content`` (TFLite bytes) per precision.

    ``optimized``: also each model after ``optimize_for_inference`` (row ``NAME/optimized``), where it
    rewrites anything.
    """
    extra = [REFERENCE, RAW_BASELINE] if reference else []
    names = list(dict.fromkeys(list(names) + extra))
    rows = []
    for name in names:
        start = time.perf_counter()
        model, family, size = _build(name, resolution)
        # The reference expects [-1, 1]; ours [0, 255] (it rescales inside); calibrate each in its own range.
        scale = (1 / 127.5, -1.0) if name in (REFERENCE, RAW_BASELINE) else (1.0, 0.0)
        rows += _convert(name, family, model, precisions, scale)
        log(f"converted {name} ({', '.join(precisions)}) in {time.perf_counter() - start:.1f}s")
        if optimized and name not in (REFERENCE, RAW_BASELINE):
            rows += _optimized_rows(name, family, model, precisions, log)
        del model
    return rows


def _optimized_rows(name, family, model, precisions, log):
    from keras_mobile.inference_rewrites import optimize_for_inference

    faster, report = optimize_for_inference(model, return_report=True)
    if not report.rewrites:
        log(f"{name}: optimize_for_inference rewrites nothing (its export converts the same graph)")
        return []
    log(report.format().splitlines()[0])
    return _convert(name + OPTIMIZED, family, faster, precisions, figures_of=model)


def _convert(name, family, model, precisions, scale=(1.0, 0.0), figures_of=None):
    """Rows for one Keras model: TFLite bytes per precision, calibrated on ``sample_images * a + b``.

    ``figures_of``: the model whose params and Mult-Adds the rows carry (default ``model``); a rewritten
    graph carries its original's, so ms/GMAC compares graphs of the same architecture.
    """
    from keras_mobile.testing import sample_images
    from keras_mobile.profile import mult_adds, trainable_params

    counted = model if figures_of is None else figures_of
    params, macs = trainable_params(counted), mult_adds(counted)
    tflite.require_tensorflow(model)
    shape = tflite.input_shape(model)
    frozen = tflite.frozen_function(model, shape)
    images = sample_images(shape, 8, seed=1) * scale[0] + scale[1]
    rows = []
    for precision in precisions:
        content = tflite.convert(frozen, precision, representative_data=images)
        rows.append({
            "model": name,
            "family": family,
            "resolution": shape[0],
            "precision": precision,
            "params": params,
            "mult_adds": macs,
            "content": content,
            "ops": tflite.check_builtin(content, f"{name} {precision}")["ops"],
        })
    return rows


# --------------------------------------------------------------------------- op patterns
def op_patterns(size=28, channels=240):
    """``{label: Keras model}``: one op pattern each, at a ``size`` x ``size`` x ``channels`` feature map.

    The patterns the families above differ in, built with the package's own
    blocks (so they convert exactly as in the zoo): plain depthwise and
    pointwise convs (MobileNetV2's ops), MixNet's mixed-kernel depthwise
    (split, three depthwise convs, concat) and grouped pointwise convs,
    ShuffleNet's channel shuffle and split, MobileNetV3's hard-swish and
    squeeze-excite. Timed against each other, their ms/GMAC say which ops
    are slow per Mult-Add on this CPU.
    """
    from keras_mobile.backend import keras, layers
    from keras_mobile.blocks.conv import TF_STYLE, activation, batch_norm, conv, squeeze_excite
    from keras_mobile.blocks.mobile import mixed_depthwise
    from keras_mobile.layers import ChannelShuffle, ChannelSplit

    def model(label, fn):
        image = keras.Input((size, size, channels), batch_size=1, name="image")
        return keras.Model(image, fn(image), name=re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_"))

    style = TF_STYLE
    patterns = {
        "depthwise 3x3": lambda x: layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x),
        "depthwise 5x5": lambda x: layers.DepthwiseConv2D(5, padding="same", use_bias=False)(x),
        "depthwise 7x7": lambda x: layers.DepthwiseConv2D(7, padding="same", use_bias=False)(x),
        "depthwise 9x9": lambda x: layers.DepthwiseConv2D(9, padding="same", use_bias=False)(x),
        "depthwise 7x7 + BN": lambda x: layers.BatchNormalization()(layers.DepthwiseConv2D(7, padding="same",
                                                                                            use_bias=False)(x)),
        "mixed depthwise 3/5/7 (MixNet)": lambda x: mixed_depthwise(x, (3, 5, 7), style=style, name="mix"),
        "mixed depthwise 3/5/7 + BN (MixNet)": lambda x: batch_norm(mixed_depthwise(x, (3, 5, 7), style=style,
                                                                                   name="mix"), style, "bn"),
        "mixed depthwise 3/5 + BN (MixNet)": lambda x: batch_norm(mixed_depthwise(x, (3, 5), style=style,
                                                                                 name="mix"), style, "bn"),
        "mixed depthwise 3/3/3 (split, concat)": lambda x: mixed_depthwise(x, (3, 3, 3), style=style, name="mix"),
        "pointwise 1x1": lambda x: conv(x, channels, 1, name="pw"),
        "grouped pointwise 1x1, 2 groups (MixNet)": lambda x: conv(x, channels, 1, groups=2, name="gpw"),
        "grouped pointwise 1x1, 3 groups (ShuffleNetV1)": lambda x: conv(x, channels, 1, groups=3, name="g3"),
        "channel shuffle, 2 groups": lambda x: ChannelShuffle(2)(x),
        "channel split + concat": lambda x: layers.Concatenate()(ChannelSplit([channels // 2, channels // 2])(x)[::-1]),
        "relu6": lambda x: activation(x, "relu6", "act"),
        "hard-swish": lambda x: activation(x, "hard_swish", "act"),
        "swish": lambda x: activation(x, "swish", "act"),
        "squeeze-excite (1/4)": lambda x: squeeze_excite(x, channels // 4, "relu", "hard_sigmoid", name="se"),
    }
    return {label: model(label, fn) for label, fn in patterns.items()}


def prepare_ops(precisions, size=28, channels=240, log=print):
    """Rows of every op pattern, and of each one ``optimize_for_inference`` rewrites (``PATTERN [optimized]``)."""
    from keras_mobile.inference_rewrites import optimize_for_inference

    rows = []
    for label, model in op_patterns(size, channels).items():
        _randomize_batchnorm(model)
        rows += _convert(label, "op pattern", model, precisions)
        faster, report = optimize_for_inference(model, return_report=True)
        if report.rewrites:
            variants = [(OPTIMIZED_PATTERN, faster)]
            if report.count("merge_mixconv"):  # the merge's own effect: the same rewrite without it
                variants.append((NO_MERGE_PATTERN, optimize_for_inference(model, merge_mixconv=False)))
            for suffix, rewritten in variants:
                rows += _convert(label + suffix, "op pattern", rewritten, precisions, figures_of=model)
    log(f"converted {len(rows)} op-pattern rows ({size}x{size}x{channels})")
    return rows


def _randomize_batchnorm(model, seed=0):
    """Non-trivial BatchNorm statistics (as after training), so a folded BatchNorm is not a no-op."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in layer.get_weights()])


def format_ops_table(results):
    lines = [f"{'op pattern':48} {'prec':5} {'thr':>3} {'MAdds':>8} {'median us':>10} {'ns/MAdd':>8} {'XNNPACK':>7}  TFLite ops"]
    for r in results:
        per = f"{r['median_ms'] * 1e6 / r['mult_adds']:>8.3f}" if r["mult_adds"] else f"{'-':>8}"
        lines.append(
            f"{r['model'][:48]:48} {r['precision']:5} {r['threads']:>3} {r['mult_adds'] / 1e6:>7.2f}M "
            f"{r['median_ms'] * 1e3:>10.1f} {per} {'yes' if r['xnnpack'] else 'no':>7}  {','.join(r['ops'])}"
        )
    return "\n".join(lines)


def measure(rows, threads=(1,), warmup=5, runs=30, log=print, require_xnnpack=True):
    """Time every row at every thread count, interleaved; return result dicts (no ``content``).

    ``require_xnnpack``: raise if the XNNPACK delegate took no node of a row
    (models); otherwise record it (op patterns, some of which are no-ops).
    """
    results = []
    for num_threads in threads:
        runners = []
        for row in rows:
            runner = tflite.Runner(row["content"], num_threads=num_threads)
            if require_xnnpack and not runner.xnnpack:
                raise RuntimeError(f"{row['model']} {row['precision']}: the XNNPACK delegate was not applied.")
            shape = tuple(runner.input["shape"][1:])
            runner.set_input(np.random.default_rng(0).uniform(0, 255, shape).astype("float32"))
            runners.append(runner)
        for runner in runners:
            for _ in range(warmup):
                runner.invoke()
        times = [[] for _ in runners]
        order = list(range(len(runners)))
        rng = np.random.default_rng(num_threads)
        for _ in range(runs):
            rng.shuffle(order)  # interleaved, in a fresh order each round
            for i in order:
                start = time.perf_counter()
                runners[i].invoke()
                times[i].append(time.perf_counter() - start)
        for row, seconds, runner in zip(rows, times, runners):
            stats = tflite.latency_stats(seconds)
            gmacs = row["mult_adds"] / 1e9
            results.append({
                **{k: v for k, v in row.items() if k != "content"},
                "threads": num_threads,
                "xnnpack": runner.xnnpack,
                **stats,
                "ms_per_gmac": stats["median_ms"] / gmacs if gmacs else None,
            })
        log(f"timed {len(rows)} rows at {num_threads} thread(s), {runs} interleaved rounds")
    return results


def targets(results):
    """The three target ratios (None where a needed row is missing)."""

    def median(model, precision, threads):
        for r in results:
            if (r["model"], r["precision"], r["threads"]) == (model, precision, threads):
                return r
        return None

    out = {"reference_ratio": {}, "reference_ratio_with_preprocessing": {}, "int8_ratio": {}, "ms_per_gmac_vs_mobilenetv2": {}}
    thread_counts = sorted({r["threads"] for r in results})
    for t in thread_counts:
        raw, ours, ref = median(RAW_BASELINE, "fp32", t), median(BASELINE, "fp32", t), median(REFERENCE, "fp32", t)
        if raw and ref:
            out["reference_ratio"][t] = raw["median_ms"] / ref["median_ms"]
        if ours and ref:
            out["reference_ratio_with_preprocessing"][t] = ours["median_ms"] / ref["median_ms"]
        fp32, int8 = median(BASELINE, "fp32", t), median(BASELINE, "int8", t)
        if fp32 and int8:
            out["int8_ratio"][t] = int8["median_ms"] / fp32["median_ms"]
    out["optimized_speedup"], out["optimized_int8_vs_fp32"] = {}, {}
    for r in results:
        if r["model"].endswith(OPTIMIZED):
            original = median(r["model"][: -len(OPTIMIZED)], r["precision"], r["threads"])
            if original:
                out["optimized_speedup"][f"{r['model']} {r['precision']} {r['threads']}t"] = original["median_ms"] / r["median_ms"]
            if r["precision"] == "int8" and (fp32 := median(r["model"], "fp32", r["threads"])):
                out["optimized_int8_vs_fp32"][f"{r['model']} {r['threads']}t"] = r["median_ms"] / fp32["median_ms"]
    base = median(BASELINE, "fp32", 1)
    if base:
        for r in results:
            if r["threads"] == 1 and r["precision"] == "fp32" and r["model"] not in (BASELINE, RAW_BASELINE, REFERENCE):
                out["ms_per_gmac_vs_mobilenetv2"][r["model"]] = r["ms_per_gmac"] / base["ms_per_gmac"]
    return out


def format_table(results, ratios=None):
    lines = [
        f"{'model':32} {'family':18} {'px':>4} {'prec':5} {'thr':>3} {'params':>8} {'MAdds':>8} "
        f"{'median ms':>10} {'IQR ms':>8} {'ms/GMAC':>8}",
    ]
    for r in results:
        lines.append(
            f"{r['model'][:32]:32} {r['family'][:18]:18} {r['resolution']:>4} {r['precision']:5} {r['threads']:>3} "
            f"{r['params'] / 1e6:>7.2f}M {r['mult_adds'] / 1e6:>7.0f}M {r['median_ms']:>10.2f} {r['iqr_ms']:>8.2f} "
            f"{r['ms_per_gmac']:>8.1f}"
        )
    if ratios:
        lines.append("")
        for t, value in ratios["reference_ratio"].items():
            lines.append(f"target: {RAW_BASELINE} fp32 / {REFERENCE} fp32 at {t} thread(s) = {value:.3f} (<= 1.03: {'ok' if value <= 1.03 else 'MISSED'})")
        for t, value in ratios.get("reference_ratio_with_preprocessing", {}).items():
            lines.append(f"info:   {BASELINE} fp32 (rescaling in the graph) / {REFERENCE} fp32 at {t} thread(s) = {value:.3f}")
        for t, value in ratios["int8_ratio"].items():
            lines.append(f"target: {BASELINE} int8 / fp32 at {t} thread(s) = {value:.3f} (<= 0.60: {'ok' if value <= 0.6 else 'MISSED'})")
        for model, value in sorted(ratios["ms_per_gmac_vs_mobilenetv2"].items(), key=lambda kv: -kv[1]):
            verdict = "MISSED (> 2x)" if value > 2 else ("flagged (> 1.3x)" if value > 1.3 else "ok")
            limit = OPTIMIZED_MS_PER_GMAC_TARGET.get(model[: -len(OPTIMIZED)]) if model.endswith(OPTIMIZED) else None
            if limit:
                verdict = f"<= {limit}: {'ok' if value <= limit else 'MISSED'}"
            lines.append(f"target: {model} ms/GMAC / {BASELINE}'s at 1 thread = {value:.2f} ({verdict})")
        for key, value in ratios.get("optimized_speedup", {}).items():
            lines.append(f"target: {key}: original / optimized = {value:.2f}x (>= 1: {'ok' if value >= 1 else 'SLOWER'})")
        for key, value in ratios.get("optimized_int8_vs_fp32", {}).items():
            lines.append(f"target: {key}: int8 / fp32 = {value:.2f} (<= 1: {'ok' if value <= 1 else 'MISSED'})")
    return "\n".join(lines)


def format_markdown(results, threads=1):
    """The README's table: per model, fp32 and int8 ms as built and as exported (``/optimized`` rows)."""
    rows = {(r["model"], r["precision"]): r for r in results if r["threads"] == threads}
    base = rows.get((BASELINE, "fp32"))
    models = [m for m in dict.fromkeys(r["model"] for r in results)
              if not m.endswith(OPTIMIZED) and m not in (REFERENCE, RAW_BASELINE)]
    lines = [f"| model | Mult-Adds | fp32 ms | fp32 ms, optimized | int8 ms | int8 ms, optimized | "
             f"ms/GMAC / {BASELINE}'s (fp32) | optimized |",
             "|---|---|---|---|---|---|---|---|"]

    def cell(model, precision):
        row = rows.get((model, precision))
        return f"{row['median_ms']:.2f}" if row else "–"

    for model in models:
        first = rows.get((model, "fp32")) or rows.get((model, "int8"))
        rewritten = any((model + OPTIMIZED, p) in rows for p in ("fp32", "int8"))
        same = "same graph"
        ratio = optimized = "–"
        if base and (model, "fp32") in rows:
            ratio = f"{rows[(model, 'fp32')]['ms_per_gmac'] / base['ms_per_gmac']:.2f}"
            if (model + OPTIMIZED, "fp32") in rows:
                optimized = f"**{rows[(model + OPTIMIZED, 'fp32')]['ms_per_gmac'] / base['ms_per_gmac']:.2f}**"
        lines.append(f"| {model} | {first['mult_adds'] / 1e6:.0f}M | {cell(model, 'fp32')} | "
                     f"{cell(model + OPTIMIZED, 'fp32') if rewritten else same} | {cell(model, 'int8')} | "
                     f"{cell(model + OPTIMIZED, 'int8') if rewritten else same} | {ratio} | "
                     f"{optimized if rewritten else same} |")
    return "\n".join(lines)


def plot(results, path, threads=None, precision="fp32"):
    """Mult-Adds against median latency, one colour per family."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    threads = threads or min(r["threads"] for r in results)
    chosen = [r for r in results if r["threads"] == threads and r["precision"] == precision]
    fig, ax = plt.subplots(figsize=(8, 6))
    for i, family in enumerate(sorted({r["family"] for r in chosen})):
        rows = [r for r in chosen if r["family"] == family]
        marker = "osD^v<>"[i // 10 % 7]  # ten colours per marker: every family stays distinct
        ax.scatter([r["mult_adds"] / 1e6 for r in rows], [r["median_ms"] for r in rows], label=family, s=40, marker=marker)
        for r in rows:
            ax.annotate(r["model"], (r["mult_adds"] / 1e6, r["median_ms"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Mult-Adds (M)")
    ax.set_ylabel(f"median latency (ms), LiteRT XNNPACK, {precision}, {threads} thread(s)")
    ax.set_title("FLOPs are not latency")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv=None):
    parser = cli.ArgumentParser("keras_mobile.benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="registered model names (default: one 1.0-width variant per family)")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--precision", default="fp32,int8", help="comma-separated subset of fp32,fp16,dynamic_int8,int8")
    parser.add_argument("--resolution", type=int, help="input resolution for every model (default: each model's)")
    parser.add_argument("--runs", type=int, default=30, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=5, help="untimed invokes per model first")
    parser.add_argument("--no-reference", action="store_true", help=f"skip the {REFERENCE} reference row")
    parser.add_argument("--plot", help="write a PNG of Mult-Adds against latency per family")
    parser.add_argument("--json", help="write the results as JSON")
    parser.add_argument("--markdown", action="store_true", help="also print the README's table (1 thread)")
    parser.add_argument("--ops", action="store_true", help="time single op patterns (op_patterns) instead of models")
    parser.add_argument("--optimized", action="store_true",
                        help="also time each model after optimize_for_inference (what export_model converts)")
    parser.add_argument("--ops-size", help="op-pattern feature map, SIZExCHANNELS (with --ops; default 28x240)")
    args = parser.parse_args(argv)
    try:  # every flag is checked before the first model is converted
        threads = _int_list("--threads", args.threads)
        precisions = _choices("--precision", args.precision, tflite.PRECISIONS)
        check_int("--runs", args.runs, minimum=1)
        check_int("--warmup", args.warmup, minimum=0)
        model_flags = (("names", args.names or None), ("--resolution", args.resolution),
                       ("--no-reference", args.no_reference or None), ("--optimized", args.optimized or None),
                       ("--plot", args.plot), ("--markdown", args.markdown or None))
        if args.ops:
            for flag, value in model_flags:
                if value is not None:
                    fail(flag, value, "none with --ops (it times op patterns, not models)")
            size, channels = _ops_size("28x240" if args.ops_size is None else args.ops_size)
        elif args.ops_size is not None:
            fail("--ops-size", args.ops_size, "none without --ops (the op patterns' feature map)")
        else:
            names = args.names or default_models()
            for name in names:  # unknown names and resolutions below a model's minimum, before any conversion
                model_info(name, arg="names").input_shape(args.resolution, arg="--resolution")
        log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
        if args.ops:
            rows = prepare_ops(precisions, size, channels, log=log)
        else:
            rows = prepare(names, precisions, args.resolution, reference=not args.no_reference,
                           optimized=args.optimized, log=log)
    except ValueError as error:
        return cli.report(parser, error)
    results = measure(rows, threads, args.warmup, args.runs, log=log, require_xnnpack=not args.ops)
    if args.ops:
        print(format_ops_table(results))
        if args.json:
            _write_json(args.json, {"results": results})
        return 0
    ratios = targets(results)
    print(format_table(results, ratios))
    if args.markdown:
        print("\n" + format_markdown(results, min(threads)))
    if args.json:
        _write_json(args.json, {"results": results, "targets": ratios})
    if args.plot:
        plot(results, args.plot)
        print(f"plot written to {args.plot}")
    return 0


def _int_list(flag, text, minimum=1):
    """``[ints]`` from a comma-separated ``text`` (at least one, each >= ``minimum``); ValueError naming ``flag``."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < minimum:
        fail(flag, text, f"comma-separated integers >= {minimum}, e.g. '1,2'")
    return values


def _choices(flag, text, accepted):
    """``[items]`` from a comma-separated ``text``: a non-empty subset of ``accepted``; ValueError naming ``flag``."""
    values = [v for v in text.split(",") if v]
    if not values or any(v not in accepted for v in values):
        fail(flag, text, f"a comma-separated non-empty subset of {list(accepted)}")
    return values


def _ops_size(text):
    try:
        size, channels = (int(v) for v in text.lower().split("x"))
    except ValueError:
        size = channels = 0
    if size < 1 or channels < 4:
        fail("--ops-size", text, "SIZExCHANNELS, e.g. 28x240 (size >= 1, channels >= 4)")
    return size, channels


def _write_json(path, content):
    """Write atomically: a temporary file beside ``path``, then one rename."""
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w") as f:
        json.dump(content, f, indent=2)
    os.replace(temporary, path)


if __name__ == "__main__":
    sys.exit(main())

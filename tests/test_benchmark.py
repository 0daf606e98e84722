"""The latency benchmark runs end to end on a small model; its target ratios are computed right."""

import json

import pytest

from keras_mobile import benchmark
from keras_mobile.profile import mult_adds
from keras_mobile.registry import create_model


@pytest.mark.slow
def test_benchmark_end_to_end(tmp_path, capsys):
    plot, results = tmp_path / "latency.png", tmp_path / "results.json"
    argv = ["mobilenetv2_035", "--resolution", "64", "--threads", "1", "--precision", "fp32,int8",
            "--runs", "3", "--warmup", "1", "--plot", str(plot), "--json", str(results)]
    assert benchmark.main(argv) == 0
    table = capsys.readouterr().out
    assert "mobilenetv2_035" in table and benchmark.REFERENCE in table
    rows = json.loads(results.read_text())["results"]
    assert {(r["model"], r["precision"]) for r in rows} == {
        (m, p) for m in ("mobilenetv2_035", benchmark.REFERENCE, benchmark.RAW_BASELINE) for p in ("fp32", "int8")
    }
    # Like for like: the reference and our model without in-graph rescaling have the same ops and MACs.
    by_name = {(r["model"], r["precision"]): r for r in rows}
    raw, ref = by_name[(benchmark.RAW_BASELINE, "fp32")], by_name[(benchmark.REFERENCE, "fp32")]
    assert raw["ops"] == ref["ops"] and raw["mult_adds"] == ref["mult_adds"] and raw["params"] == ref["params"]
    assert "MUL" in by_name[("mobilenetv2_035", "fp32")]["ops"] and "MUL" not in raw["ops"]
    # The figure per GMAC divides by the profiler's count for the model as built at that resolution.
    macs = mult_adds(create_model("mobilenetv2_035", input_shape=(64, 64, 3)))
    assert by_name[("mobilenetv2_035", "fp32")]["mult_adds"] == by_name[("mobilenetv2_035", "int8")]["mult_adds"] == macs
    for row in rows:
        assert row["xnnpack"] and row["runs"] == 3 and row["median_ms"] > 0
        assert row["p25_ms"] <= row["median_ms"] <= row["p75_ms"]
        if row["model"] == "mobilenetv2_035":
            assert row["ms_per_gmac"] == pytest.approx(row["median_ms"] * 1e9 / macs, rel=1e-12)
        assert not [op for op in row["ops"] if op.startswith("Flex")]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_op_patterns_run(capsys):
    assert benchmark.main(["--ops", "--ops-size", "8x24", "--threads", "1", "--precision", "fp32", "--runs", "2", "--warmup", "1"]) == 0
    table = capsys.readouterr().out
    for label in ("mixed depthwise 3/5/7 (MixNet)", "channel shuffle, 2 groups", "hard-swish", "squeeze-excite (1/4)"):
        assert label in table
    # every pattern optimize_for_inference rewrites is timed beside its original, and only those
    rewritten = {line[:48].strip() for line in table.splitlines() if "[optimized" in line}
    assert {label[:48] for label in ("depthwise 7x7 [optimized]", "depthwise 9x9 [optimized]",
                                     "mixed depthwise 3/5 + BN (MixNet) [optimized]",
                                     "mixed depthwise 3/5 + BN (MixNet) [optimized, no merge]")} <= rewritten
    assert not any(line.startswith(("depthwise 3x3 [", "depthwise 5x5 [", "pointwise 1x1 [")) for line in table.splitlines())
    assert benchmark.main(["--ops", "--ops-size", "28"]) == 1
    assert capsys.readouterr().err.startswith("keras_mobile.benchmark: --ops-size='28' is not supported")


def test_target_ratios():
    def row(model, precision, threads, ms, macs=1e9):
        return {"model": model, "precision": precision, "threads": threads, "median_ms": ms,
                "ms_per_gmac": ms / (macs / 1e9)}

    results = [
        row("mobilenetv2_100", "fp32", 1, 10.0), row("mobilenetv2_100", "int8", 1, 5.0),
        row(benchmark.REFERENCE, "fp32", 1, 10.0 / 1.02), row("xception", "fp32", 1, 60.0, macs=20e9),
        row(benchmark.RAW_BASELINE, "fp32", 1, 9.0 / 1.02),
    ]
    ratios = benchmark.targets(results)
    assert abs(ratios["reference_ratio"][1] - 0.9) < 1e-9
    assert abs(ratios["reference_ratio_with_preprocessing"][1] - 1.02) < 1e-9
    assert set(ratios["ms_per_gmac_vs_mobilenetv2"]) == {"xception"}
    assert ratios["int8_ratio"][1] == 0.5
    assert ratios["ms_per_gmac_vs_mobilenetv2"]["xception"] == 0.3
    assert "MISSED" not in benchmark.format_table([], ratios)

    # optimized rows: speedup over the original, int8 against fp32, and MixNet-S's ms/GMAC target
    results += [row("mixnet_s", "fp32", 1, 30.0, macs=0.25e9), row("mixnet_s", "int8", 1, 60.0, macs=0.25e9),
                row("mixnet_s" + benchmark.OPTIMIZED, "fp32", 1, 15.0, macs=0.25e9),
                row("mixnet_s" + benchmark.OPTIMIZED, "int8", 1, 12.0, macs=0.25e9)]
    ratios = benchmark.targets(results)
    assert ratios["optimized_speedup"] == {"mixnet_s/optimized fp32 1t": 2.0, "mixnet_s/optimized int8 1t": 5.0}
    assert ratios["optimized_int8_vs_fp32"] == {"mixnet_s/optimized 1t": 0.8}
    assert ratios["ms_per_gmac_vs_mobilenetv2"]["mixnet_s/optimized"] == 6.0  # 60 ms/GMAC against 10
    table = benchmark.format_table([], ratios)
    assert "mixnet_s/optimized ms/GMAC / mobilenetv2_100's at 1 thread = 6.00 (<= 1.5: MISSED)" in table
    assert "mixnet_s/optimized 1t: int8 / fp32 = 0.80 (<= 1: ok)" in table

"""Bad command lines of the Keras 3 line's tools: one line ``keras_mobile.<tool>: ...`` naming the flag or argument,
a non-zero exit status, no usage block, no traceback.

One child process runs every case: each tool's module as ``__main__`` (``runpy``, as ``python -m`` does) with its
``sys.argv``, its stderr captured per case, so TensorFlow is imported once for all of them.
"""

import json
import textwrap

import pytest

from helpers import command_error_lines, python_env, run_python

# (tool module, argv with {tmp} for a scratch folder, exit status, what the one line must contain)
CASES = [
    ("keras_mobile.convert", ["{tmp}/nope.safetensors", "--model", "rexnet_100", "--out", "{tmp}/o.weights.h5"], 1,
     "checkpoint='{tmp}/nope.safetensors' is not supported; accepted values: the path of an existing checkpoint"),
    ("keras_mobile.convert", ["{tmp}/c.safetensors", "--model", "rexnet_100x", "--out", "{tmp}/o.weights.h5"], 1,
     "--model='rexnet_100x' is not supported; accepted values: ['rexnet_100', "),
    ("keras_mobile.convert", ["{tmp}/c.safetensors", "--model", "mobilenetv2_100", "--out", "{tmp}/o.weights.h5"], 1,
     "--model='mobilenetv2_100' is not supported; accepted values: a model of a family with a PyTorch reference"),
    ("keras_mobile.convert", ["{tmp}/c.safetensors", "--model", "rexnet_100", "--out", "{tmp}/o.h5"], 1,
     "out_path='{tmp}/o.h5' is not supported"),
    ("keras_mobile.convert", ["{tmp}/c.safetensors", "--model", "rexnet_100"], 2,
     "the following arguments are required: --out"),
    ("keras_mobile.predict", ["/nope.tflite", "{tmp}/x.jpg"], 1, "model='/nope.tflite' is not supported"),
    ("keras_mobile.predict", ["{tmp}/bad.tflite", "{tmp}/x.jpg"], 1,
     "model='{tmp}/bad.tflite' is not supported; accepted values: a TFLite model file"),
    ("keras_mobile.predict", ["{tmp}/bad.tflite", "{tmp}/x.jpg", "--top", "0"], 1, "top=0 is not supported"),
    ("keras_mobile.predict", ["{tmp}/bad.tflite", "{tmp}/x.jpg", "--top", "abc"], 2,
     "argument --top: invalid int value: 'abc'"),
    ("keras_mobile.predict", ["{tmp}/w.weights.h5", "{tmp}/x.jpg"], 1,
     "model_name=None is not supported; accepted values: a registered model name (--model)"),
    ("keras_mobile.export", ["mobilenetv2_100x", "--out", "{tmp}/e"], 1,
     "name='mobilenetv2_100x' is not supported; accepted values: ['mobilenetv2_100', "),
    ("keras_mobile.export", ["mobilenetv2_035", "--out", "{tmp}/e", "--formats", "tflite_int9"], 1,
     "formats=['tflite_int9'] is not supported"),
    ("keras_mobile.export", ["mobilenetv2_035", "--out", "{tmp}/e", "--resolution", "0"], 1,
     "--resolution=0 is not supported; accepted values: an integer >= 32"),
    ("keras_mobile.export", ["mobilenetv2_035", "--out", "{tmp}/e", "--classes", "0"], 1,
     "--classes=0 is not supported; accepted values: an integer >= 1"),
    ("keras_mobile.export", ["mobilenetv2_035", "--out", "{tmp}/e", "--calibration-images", "0"], 1,
     "--calibration-images=0 is not supported"),
    ("keras_mobile.export", ["mobilenetv2_035", "--out", "{tmp}/x.jpg"], 1,
     "directory='{tmp}/x.jpg' is not supported; accepted values: the path of a directory"),
    ("keras_mobile.export", ["mobilenetv2_035", "--out", "{tmp}/e", "--int8-io", "int16"], 2,
     "argument --int8-io: invalid choice: 'int16'"),
    ("keras_mobile.benchmark", ["--threads", "a"], 1, "--threads='a' is not supported"),
    ("keras_mobile.benchmark", ["--precision", "int4"], 1, "--precision='int4' is not supported"),
    ("keras_mobile.benchmark", ["mobilenetv2_035", "--runs", "0"], 1, "--runs=0 is not supported"),
    ("keras_mobile.benchmark", ["mobilenetv2_035", "--warmup", "-1"], 1, "--warmup=-1 is not supported"),
    ("keras_mobile.benchmark", ["mobilenetv2_100x"], 1, "names='mobilenetv2_100x' is not supported"),
    ("keras_mobile.benchmark", ["xception", "--resolution", "64"], 1,
     "--resolution=64 is not supported; accepted values: an integer >= 71"),
    ("keras_mobile.benchmark", ["--ops", "mobilenetv2_035"], 1, "names=['mobilenetv2_035'] is not supported"),
    ("keras_mobile.benchmark", ["--ops-size", "8x24"], 1, "--ops-size='8x24' is not supported"),
    ("keras_mobile.profile", [], 1, "name=None is not supported"),
    ("keras_mobile.profile", ["mobilenetv2_100x"], 1, "name='mobilenetv2_100x' is not supported"),
    ("keras_mobile.profile", ["mobilenetv2_035", "--resolution", "0"], 1, "--resolution=0 is not supported"),
    ("keras_mobile.profile", ["squeezenet1_1", "--width", "0.5"], 1, "--width=0.5 is not supported"),
    ("keras_mobile.profile", ["--all", "--pattern", "zzz*"], 1, "--pattern='zzz*' is not supported"),
    ("keras_mobile.profile", ["--all", "mobilenetv2_035"], 1, "name='mobilenetv2_035' is not supported"),
]

CHILD = textwrap.dedent("""
    import contextlib, io, json, runpy, sys, traceback, warnings

    # runpy's note that the tool's module was already imported (by an earlier case), not the tool's output
    warnings.filterwarnings("ignore", message=".*found in sys.modules after import of package")
    results = []
    for module, argv in json.loads(sys.argv[1]):
        sys.argv = [module, *argv]
        stderr, code = io.StringIO(), 0
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            try:
                runpy.run_module(module, run_name="__main__", alter_sys=True)
            except SystemExit as exit_:
                code = exit_.code
            except BaseException:
                code = "uncaught"
                stderr.write(traceback.format_exc())
        results.append({"code": code, "stderr": stderr.getvalue()})
    print(json.dumps(results))
""")


def _fill(text, tmp):
    return text.replace("{tmp}", str(tmp))


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """``[{"code", "stderr"}]`` per case, from one child process."""
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "bad.tflite").write_bytes(b"not a flatbuffer")
    (tmp / "c.safetensors").write_bytes(b"")
    (tmp / "w.weights.h5").write_bytes(b"")
    (tmp / "x.jpg").write_bytes(b"not an image")
    cases = [(module, [_fill(a, tmp) for a in argv]) for module, argv, _, _ in CASES]
    result = run_python(["-c", CHILD, json.dumps(cases)], timeout=240, env=python_env(legacy=False))
    return tmp, json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{m.split('.')[1]}-{' '.join(a)}" for m, a, _, _ in CASES])
def test_a_bad_command_line_is_one_line_naming_the_flag(outcomes, index):
    tmp, results = outcomes
    module, _, status, expected = CASES[index]
    code, stderr = results[index]["code"], results[index]["stderr"]
    assert "Traceback" not in stderr, stderr
    assert code == status, stderr
    lines = command_error_lines(stderr)
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"{module}: ") and _fill(expected, tmp) in lines[0], lines[0]


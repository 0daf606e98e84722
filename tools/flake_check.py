"""Flake detector: run CI (``bash .ci/run``) several times in a row, each on a fresh clone, to shake out tests
that fail by chance (timing) or by machine (rounding).

    python tools/flake_check.py                                  # plain, load, numerics: 3 passes of CI
    python tools/flake_check.py --passes load,load --load 0.5    # twice under a heavier background load
    python tools/flake_check.py --rev HEAD~1 --out /tmp/flakes.md

Each pass clones the checkout's committed ``--rev`` into a new temporary folder (what CI sees: nothing
uncommitted), runs its ``.ci/run`` with ``CI=true`` and stops at the first red pass. The passes:

* ``plain``: CI as it is.
* ``load``: CI beside a background CPU burner, one process per core, each busy ``--load`` of every 100 ms
  (at normal priority, so CI's workers lose that share of the cores): tests whose outcome depends on timing
  (child-process timeouts, races, wall-clock assumptions) are shaken out.
* ``numerics``: CI with TensorFlow's oneDNN kernels off (``TF_ENABLE_ONEDNN_OPTS=0``: Eigen's kernels, which
  round differently, as another CPU's kernels do) and every test seeded with ``--seed`` instead of 0
  (``KERAS_MOBILE_TEST_SEED``, read by ``tests/conftest.py``): tests whose verdict depends on rounding or on
  one lucky seed are shaken out.

The report (a markdown table: pass, what was changed, exit code, wall time, each pytest run's closing line) is
printed and, with ``--out``, written; the CPU model is stated with it. ``.ci/run`` installs the clone into the
current interpreter (``pip install -e``); the checkout this script belongs to is reinstalled (``--no-deps``)
at the end, so the environment points back at it.
"""

import argparse
import datetime
import multiprocessing
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSES = ("plain", "load", "numerics")
PERIOD = 0.1  # seconds of one burner duty cycle
# pytest's closing line: "=== 613 passed, 3 skipped, 40 deselected in 412.3s (0:06:52) ==="
SUMMARY = re.compile(r"^=+ (.*\d+ (?:passed|failed|error).*) =+$")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="tools/flake_check.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--passes", default=",".join(PASSES),
                        help=f"comma-separated passes, run in order, each from {list(PASSES)} (default: all three)")
    parser.add_argument("--rev", default="HEAD", help="the commit to test (default: HEAD)")
    parser.add_argument("--load", type=float, default=0.3,
                        help="the burner's busy fraction of each core in the load pass, in (0, 1] (default 0.3)")
    parser.add_argument("--seed", type=int, default=1, help="KERAS_MOBILE_TEST_SEED of the numerics pass (default 1)")
    parser.add_argument("--out", help="also write the markdown report here")
    parser.add_argument("--keep", action="store_true", help="keep each pass's clone and log (paths in the report)")
    args = parser.parse_args(argv)
    passes = [name.strip() for name in args.passes.split(",") if name.strip()]
    unknown = [name for name in passes if name not in PASSES]
    if not passes or unknown:
        parser.error(f"--passes={args.passes!r} is not supported; accepted values: a comma-separated list of "
                     f"{list(PASSES)}")
    if not 0 < args.load <= 1:
        parser.error(f"--load={args.load} is not supported; accepted values: a number in (0, 1]")
    if args.seed < 0:
        parser.error(f"--seed={args.seed} is not supported; accepted values: an integer >= 0")
    args.passes = passes
    return args


def cpu_model():
    """lscpu's model name (the processor decides which kernels run, so which rounding a test sees)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    names = [line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")]
    return names[0] if names else "unknown"


def _burn(fraction, stop):
    """Keep one core busy ``fraction`` of every PERIOD until ``stop`` is set."""
    while not stop.is_set():
        start = time.perf_counter()
        while time.perf_counter() - start < fraction * PERIOD:
            pass
        time.sleep(max(0.0, (1 - fraction) * PERIOD))


class Burner:
    """A background CPU load: one duty-cycled busy process per core, for the duration of a ``with`` block."""

    def __init__(self, fraction, processes=None):
        self.fraction, self.count = fraction, processes or os.cpu_count() or 1
        self.stop, self.workers = multiprocessing.Event(), []

    def __enter__(self):
        for _ in range(self.count):
            worker = multiprocessing.Process(target=_burn, args=(self.fraction, self.stop), daemon=True)
            worker.start()
            self.workers.append(worker)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for worker in self.workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
        return False


def pass_environment(name, args):
    """(environment changes, what they mean in words) of one pass."""
    if name == "numerics":
        return ({"TF_ENABLE_ONEDNN_OPTS": "0", "KERAS_MOBILE_TEST_SEED": str(args.seed)},
                f"oneDNN off (TF_ENABLE_ONEDNN_OPTS=0), tests seeded with {args.seed}")
    if name == "load":
        return {}, f"background burner: {os.cpu_count()} processes, each busy {args.load:.0%} of every 100 ms"
    return {}, "as CI runs it"


def fresh_clone(rev, parent):
    """A clone of this checkout's commit ``rev`` in a new folder under ``parent`` (uncommitted work left out)."""
    directory = tempfile.mkdtemp(prefix="ci-", dir=parent)
    subprocess.run(["git", "clone", "--quiet", "--no-local", REPO, directory], check=True)
    subprocess.run(["git", "-C", directory, "checkout", "--quiet", "--detach", rev], check=True)
    return directory


def run_pass(name, args, parent):
    """Run CI once on a fresh clone; returns the row of the report."""
    changes, meaning = pass_environment(name, args)
    clone = fresh_clone(args.rev, parent)
    log_path = os.path.join(parent, f"{os.path.basename(clone)}.log")
    env = {**os.environ, "CI": "true", **changes}
    env.pop("PYTEST_ADDOPTS", None)
    start = time.perf_counter()
    with open(log_path, "w") as log:
        def ci():
            return subprocess.run(["bash", ".ci/run"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL).returncode

        if name == "load":
            with Burner(args.load):
                code = ci()
        else:
            code = ci()
    seconds = time.perf_counter() - start
    with open(log_path, errors="replace") as log:
        summaries = [match.group(1) for match in map(SUMMARY.match, log.read().splitlines()) if match]
    if not args.keep:
        shutil.rmtree(clone, ignore_errors=True)
    return {"pass": name, "changes": meaning, "code": code, "seconds": seconds, "summaries": summaries,
            "log": log_path, "clone": clone if args.keep else None}


def format_report(rows, args, commit, cpu):
    lines = [f"Flake check of {commit} ({args.rev}), {datetime.date.today().isoformat()}, "
             f"{os.cpu_count()} cores, CPU: {cpu}", "",
             "| pass | changed | exit | wall time | pytest: Keras 3 | pytest: tf_keras |", "|---|---|---|---|---|---|"]
    for row in rows:
        minutes, seconds = divmod(round(row["seconds"]), 60)
        runs = (row["summaries"] + ["(not reached)", "(not reached)"])[:2]
        lines.append(f"| {row['pass']} | {row['changes']} | {row['code']} | {row['seconds']:.0f} s "
                     f"({minutes} min {seconds} s) | {runs[0]} | {runs[1]} |")
    red = [row for row in rows if row["code"] != 0]
    lines += ["", f"{len(rows) - len(red)} of {len(args.passes)} passes green" +
              (f"; stopped at the red pass '{red[0]['pass']}' (log: {red[0]['log']})" if red else "")]
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", args.rev], capture_output=True, text=True,
                            check=True).stdout.strip()
    cpu = cpu_model()
    parent = tempfile.mkdtemp(prefix="flake-check-")
    rows = []
    try:
        for name in args.passes:
            print(f"flake_check: pass {len(rows) + 1}/{len(args.passes)} '{name}' on {commit} ...", flush=True)
            rows.append(run_pass(name, args, parent))
            row = rows[-1]
            print(f"flake_check: '{name}' exit {row['code']} in {row['seconds']:.0f} s; " +
                  "; ".join(row["summaries"]), flush=True)
            if row["code"] != 0:
                break
    finally:
        # .ci/run installed the clone into this interpreter: point it back at this checkout.
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--no-deps", "-e", REPO], check=False)
    report = format_report(rows, args, commit, cpu)
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report + "\n")
    if all(row["code"] == 0 for row in rows) and not args.keep:
        shutil.rmtree(parent, ignore_errors=True)
    return 0 if len(rows) == len(args.passes) and all(row["code"] == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

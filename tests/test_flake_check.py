"""tools/flake_check.py (the flake detector: CI several times on fresh clones, under load, with other numerics)
and the per-test seed it varies. Running CI itself is the tool's job, not the suite's."""

import importlib.util
import os
import random

import numpy as np
import pytest

from conftest import TEST_SEED
from helpers import REPO


def _tool():
    spec = importlib.util.spec_from_file_location("flake_check", os.path.join(REPO, "tools", "flake_check.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


flake_check = _tool()


def test_every_test_starts_from_the_same_seed():
    np_state, py_state = np.random.random(), random.random()
    np.random.seed(TEST_SEED)
    random.seed(TEST_SEED)
    assert (np.random.random(), random.random()) == (np_state, py_state)


def test_passes_and_their_environments():
    args = flake_check.parse_args([])
    assert args.passes == ["plain", "load", "numerics"] and args.rev == "HEAD"
    changes, meaning = flake_check.pass_environment("numerics", flake_check.parse_args(["--seed", "7"]))
    assert changes == {"TF_ENABLE_ONEDNN_OPTS": "0", "KERAS_MOBILE_TEST_SEED": "7"} and "seeded with 7" in meaning
    assert flake_check.pass_environment("plain", args)[0] == flake_check.pass_environment("load", args)[0] == {}


@pytest.mark.parametrize("argv, message", [
    (["--passes", "plain,hot"], "--passes='plain,hot' is not supported; accepted values: a comma-separated list of "
                                "['plain', 'load', 'numerics']"),
    (["--passes", ""], "--passes='' is not supported"),
    (["--load", "0"], "--load=0.0 is not supported; accepted values: a number in (0, 1]"),
    (["--seed", "-1"], "--seed=-1 is not supported; accepted values: an integer >= 0"),
])
def test_bad_flags_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        flake_check.parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_report_states_each_pass_and_stops_at_the_red_one():
    args = flake_check.parse_args(["--passes", "plain,load,numerics"])
    rows = [
        {"pass": "plain", "changes": "as CI runs it", "code": 0, "seconds": 965.4, "log": "a.log",
         "summaries": ["613 passed, 3 skipped in 412.30s (0:06:52)", "176 passed, 1 skipped in 528.00s (0:08:48)"]},
        {"pass": "load", "changes": "burner", "code": 1, "seconds": 600.0, "log": "b.log",
         "summaries": ["1 failed, 612 passed in 400.00s (0:06:40)"]},
    ]
    report = flake_check.format_report(rows, args, "abc1234", "AMD EPYC").splitlines()
    assert report[0].startswith("Flake check of abc1234 (HEAD)") and report[0].endswith("CPU: AMD EPYC")
    assert report[4] == ("| plain | as CI runs it | 0 | 965 s (16 min 5 s) | 613 passed, 3 skipped in 412.30s (0:06:52) "
                         "| 176 passed, 1 skipped in 528.00s (0:08:48) |")
    assert report[5].endswith("| 1 failed, 612 passed in 400.00s (0:06:40) | (not reached) |")
    assert report[-1] == "1 of 3 passes green; stopped at the red pass 'load' (log: b.log)"
    assert flake_check.SUMMARY.match("=== 1 failed, 612 passed, 40 deselected in 400.00s (0:06:40) ===").group(1) == \
        "1 failed, 612 passed, 40 deselected in 400.00s (0:06:40)"


def test_burner_starts_one_process_per_core_and_stops_them():
    with flake_check.Burner(0.1, processes=2) as burner:
        assert len(burner.workers) == 2 and all(worker.is_alive() for worker in burner.workers)
    assert not any(worker.is_alive() for worker in burner.workers)

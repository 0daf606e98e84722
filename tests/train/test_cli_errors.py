"""Bad ``python -m train_tpu`` command lines: one line ``train_tpu: ...`` naming the flag or config key, exit status 1,
no traceback, no usage block.

The flag and config cases run the harness's own parsing and ``main`` in this process (what ``app.run`` calls);
two child processes check the real command line end to end: a config value refused before the run, and a
dataset refused once the run has started.
"""

import pytest

from helpers import command_error_lines, python_env, run_python
from train_tpu import __main__ as main

pytestmark = pytest.mark.tf_keras_line  # train_tpu runs on tf_keras


def _exit_message(argv):
    """The message ``python -m train_tpu ARGV`` exits with (``sys.exit(message)``: status 1, one stderr line)."""
    main.FLAGS.unparse_flags()
    try:
        with pytest.raises(SystemExit) as exit_:
            main.main(main.parse_flags(["train_tpu", *argv]))
    finally:
        main.FLAGS.unparse_flags()
    return exit_.value.code


@pytest.mark.parametrize("argv, expected", [
    (["--epochs=abc"], "train_tpu: flag --epochs=abc: could not convert string to float: 'abc' (python -m train_tpu "
                       "--helpshort lists the flags)."),
    (["--epoch=3"], "train_tpu: Unknown command line flag 'epoch'"),
    (["stray"], "train_tpu: arguments ['stray'] are not supported; accepted values: flags only, --name=value"),
    (["--dataset=folder:/nope/photos"], "train_tpu: data.dataset='folder:/nope/photos' is not supported; accepted "
                                        "values: 'folder:<path>' of an existing folder with one sub-folder per class "
                                        "(the folder '/nope/photos' does not exist)."),
    (["--dataset=defualt"], "train_tpu: data.dataset='defualt' is not supported; accepted values: a registered "
                            "dataset (default, "),
    (["--model=mobilenetv2_100x"], "train_tpu: model.name='mobilenetv2_100x' is not supported; accepted values: "
                                   "['mobilenetv2_100', "),
    (["--weights=/nope.weights.h5"], "train_tpu: model.weights='/nope.weights.h5' is not supported"),
    (["--channel_prune=1.5"], "train_tpu: channel_prune.mac_reduction=1.5 is not supported; accepted values: a number "
                              "in [0, 1)."),
    (["--channel_prune=0.3", "--channel_prune_criterion=l2"], "train_tpu: channel_prune.criterion='l2' is not supported"),
    (["--channel_prune=0.3", "--channel_prune_lr=-1"], "train_tpu: channel_prune.lr=-1.0 is not supported"),
    (["--channel_prune_epochs=2"], "train_tpu: --channel_prune_epochs=2.0 is not supported; accepted values: left out "
                                   "unless --channel_prune=FRACTION turns its phase on."),
    (["--qat_lr=0.01"], "train_tpu: --qat_lr=0.01 is not supported; accepted values: left out unless --qat turns"),
    (["--distill_from_float"], "train_tpu: --distill_from_float=True is not supported; accepted values: left out "
                               "unless --channel_prune=FRACTION or --prune or --qat turns its phase on."),
    (["--prune", "--target_sparsity=0.7", "--m_by_n=2:4"], "train_tpu: --target_sparsity=0.7 is not supported; "
                                                           "accepted values: left out with --m_by_n"),
    (["--epochs=2", "--train_steps=3"], "train_tpu: --epochs=2.0 is not supported; accepted values: left out with "
                                        "--train_steps (--train_steps overrides it)."),
    (["--teacher=nope"], "train_tpu: distill.teacher='nope' is not supported; accepted values: '', a registered model "
                         "name or an existing"),
    (["--teacher=mobilenetv2_100"], "train_tpu: distill.teacher_weights='' is not supported; accepted values: a "
                                    "weights file: a registered teacher ('mobilenetv2_100') needs one"),
])
def test_a_bad_flag_is_one_line_naming_it(tmp_path, argv, expected):
    message = _exit_message([*argv, f"--model_dir={tmp_path}"])
    assert isinstance(message, str) and "\n" not in message
    assert message.startswith(expected), message


def _one_line_error(result):
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = command_error_lines(result.stderr)
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


def test_a_folder_that_does_not_exist_is_refused_before_the_run(tmp_path):
    result = run_python(["-m", "train_tpu", "--dataset=folder:/nope/photos", f"--model_dir={tmp_path}"], timeout=120,
                        env=python_env(legacy=True), check=False)
    assert _one_line_error(result) == (
        "train_tpu: data.dataset='folder:/nope/photos' is not supported; accepted values: 'folder:<path>' of an "
        "existing folder with one sub-folder per class (the folder '/nope/photos' does not exist).")


def test_a_folder_without_class_folders_is_refused_when_the_run_loads_it(tmp_path):
    (tmp_path / "photos").mkdir()
    result = run_python(["-m", "train_tpu", f"--dataset=folder:{tmp_path / 'photos'}", f"--data_dir={tmp_path / 'data'}",
                         f"--model_dir={tmp_path / 'run'}"], timeout=120, env=python_env(legacy=True), check=False)
    assert _one_line_error(result) == (
        f"train_tpu: image folder '{tmp_path / 'photos'}' needs at least 2 class folders (one sub-folder per class); "
        "found [].")

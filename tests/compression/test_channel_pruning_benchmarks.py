"""The channel-pruning benchmarks' own logic: the width baseline's bisection, the top-1 table, the flags."""

import pytest

from benchmarks import channel_pruning, channel_pruning_top1
from keras_mobile.profile import profile_model
from keras_mobile.registry import create_model


def test_width_baseline_lands_on_the_closest_mult_adds():
    target = int(0.7 * profile_model(create_model("mobilenetv2_100", input_shape=(32, 32, 3))).mult_adds)
    width, model = channel_pruning.width_baseline("mobilenetv2_100", target, 32, log=lambda *_: None)
    found = profile_model(model).mult_adds
    assert 0.6 < width < 0.9 and abs(found - target) / target < 0.05  # widths move in steps of 8 channels
    for other in (width - 0.01, width + 0.01):  # a neighbouring width is no closer
        neighbour = profile_model(create_model("mobilenetv2_100", input_shape=(32, 32, 3), alpha=other)).mult_adds
        assert abs(neighbour - target) >= abs(found - target)


def test_top1_table_states_each_row_against_its_unpruned_model():
    rows = [
        {"model": "m", "variant": "unpruned", "mult_adds": 10e6, "params": 2e6, "epochs": 12, "top1": 0.900},
        {"model": "m", "variant": "pruned 30%", "mult_adds": 7e6, "params": 1.5e6, "epochs": 16, "top1": 0.895},
        {"model": "m", "variant": "width 0.771", "mult_adds": 7.01e6, "params": 1.4e6, "epochs": 16, "top1": 0.870},
    ]
    lines = channel_pruning_top1.format_table(rows, 32).splitlines()
    assert lines[0].startswith("| model | variant | Mult-Adds at 32 px |")
    assert lines[2:] == ["| m | unpruned | 10.00M | 2.00M | 12 | 90.0% | +0.0 |",
                         "| m | pruned 30% | 7.00M | 1.50M | 16 | 89.5% | -0.5 |",
                         "| m | width 0.771 | 7.01M | 1.40M | 16 | 87.0% | -3.0 |"]


@pytest.mark.parametrize("argv, message", [
    (["--reductions", "0.3,1"], "--reductions=0.3,1.0: accepted values: numbers in (0, 1)"),
    (["--reductions", "a"], "--reductions=a: accepted values: comma-separated numbers in (0, 1)"),
    (["--epochs", "0"], "--epochs must be > 0"),
])
def test_top1_benchmark_rejects_bad_flags(argv, message, capsys):
    with pytest.raises(SystemExit):
        channel_pruning_top1.parse_args(argv)
    assert message in capsys.readouterr().err

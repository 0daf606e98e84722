"""The shape of the code base: imports flow one way, and a table-driven family is one module.

The import graph is read from the source (every ``import`` statement, at module
level or inside a function), so a cycle hidden in a function body counts.
"""

import ast
import importlib
import pathlib
import sys
import textwrap

import pytest

import keras_mobile
from helpers import REPO, python_env, run_python

PACKAGES = ("keras_mobile", "train_tpu", "tfds_configs", "benchmarks")
ROOT = pathlib.Path(REPO)


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules():
    return {_module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}


def _imports(name, path, modules):
    """The project modules ``name`` imports (``from a import b`` is ``a.b`` when that is a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import a.b.c` of a non-module attribute: its module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


@pytest.fixture(scope="module")
def import_graph():
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _find_cycle(graph):
    """One import cycle as a list of modules, or None (depth-first search)."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for child in sorted(graph.get(node, ())):
            if state.get(child) == "open":
                return stack[stack.index(child):] + [child]
            if child not in state:
                cycle = visit(child)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_import_graph_reads_the_packages(import_graph):
    assert {"keras_mobile.builder", "train_tpu.config", "tfds_configs.pipeline"} <= set(import_graph)
    assert "keras_mobile.validation" in import_graph["keras_mobile.builder"]
    assert "keras_mobile.specs" in import_graph["keras_mobile.models.mobilenet_v2"]


def test_the_import_graph_has_no_cycle(import_graph):
    assert _find_cycle(import_graph) is None, " -> ".join(_find_cycle(import_graph))


def test_cycle_finder_finds_a_cycle_inside_functions():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize(
    "package, forbidden",
    [("keras_mobile", ("tfds_configs", "train_tpu", "benchmarks")), ("tfds_configs", ("train_tpu", "benchmarks")),
     ("train_tpu", ("benchmarks",))],
)
def test_libraries_import_only_the_packages_below_them(import_graph, package, forbidden):
    wrong = {(name, target) for name, targets in import_graph.items() if name.split(".")[0] == package
             for target in targets if target.split(".")[0] in forbidden}
    assert not wrong


def test_importing_a_package_selects_no_keras_line():
    """``import keras_mobile`` / ``import tfds_configs`` load no Keras, so ``import train_tpu`` after them works."""
    code = textwrap.dedent("""
        import sys
        import keras_mobile, keras_mobile.validation
        assert not {"keras", "tf_keras", "tensorflow"} & set(sys.modules), sorted(sys.modules)
        import tfds_configs
        assert "keras_mobile.backend" not in sys.modules
        import train_tpu
        assert keras_mobile.create_model("mobilenetv2_035").__module__.startswith("tf_keras")
        print("ok")
    """)
    assert run_python(["-c", code], timeout=240, env=python_env(legacy=False)).stdout.strip().endswith("ok")


# --------------------------------------------------------------------------- a family is one module
TOY_FAMILY = '''
"""ToyNet: a throwaway table-driven family (two inverted-residual stages), for the architecture test."""

from keras_mobile.blocks import TF_STYLE, conv_bn_act
from keras_mobile.builder import BlockRules, FeatureMaps, build_stages, model_builder, pooled_dense_top
from keras_mobile.channels import make_divisible
from keras_mobile.registry import register_variants
from keras_mobile.specs import parse_table
from keras_mobile.validation import check_number

TABLE = parse_table(["ds_r1_k3_s1_c16", "ir_r2_k3_s2_e4_c24_se0.25", "sg_r1_s2_t4_c32", "lb_r1_s1_e6_c40"])


@model_builder
def ToyNet(options, alpha=1.0, dropout_rate=0.0):
    """ToyNet; any ``alpha`` in (0, 4]."""
    alpha = check_number("alpha", alpha, 0.0, 4.0, low_open=True)
    rules = BlockRules(
        round_filters=lambda c: make_divisible(c * alpha, 8),
        expanded_width=lambda in_channels, spec: make_divisible(in_channels * spec.expansion, 8),
        se_width=lambda in_channels, expanded, spec: make_divisible(expanded * spec.se_ratio, 8),
        style=TF_STYLE,
    )
    model_input, x = options.inputs(32)
    features = FeatureMaps()
    x = features.add(conv_bn_act(x, 16, 3, 2, act="relu6", style=TF_STYLE, name="stem"), 2)
    x = build_stages(x, TABLE, features, rules)
    return options.finish(model_input, x, features, pooled_dense_top(dropout_rate), f"toynet_{alpha:.2f}")


register_variants("toynet", ToyNet, {"toynet_100": {"alpha": 1.0}}, width_arg="alpha",
                  references={"toynet_100": (%(params)d, %(mult_adds)d, "counted by hand in tests/test_architecture.py")})
'''


def _toy_params():
    """Trainable parameters of ToyNet at alpha 1, 10 classes, tallied layer by layer by hand."""
    bn = lambda c: 2 * c  # noqa: E731  (gamma, beta)
    stem = 3 * 3 * 3 * 16 + bn(16)
    ds = 3 * 3 * 16 + bn(16) + 16 * 16 + bn(16)
    # ir block 1: 16 -> expand 64 -> dw s2 -> SE 16 -> project 24; block 2: 24 -> 96 -> SE 24 -> 24 (+ add)
    ir1 = 16 * 64 + bn(64) + 9 * 64 + bn(64) + (64 * 16 + 16) + (16 * 64 + 64) + 64 * 24 + bn(24)
    ir2 = 24 * 96 + bn(96) + 9 * 96 + bn(96) + (96 * 24 + 24) + (24 * 96 + 96) + 96 * 24 + bn(24)
    # sandglass t=4, 24 -> 32 at stride 2: no leading dw; reduce to 24 // 4 = 6 (not below 32 / 6, so not raised)
    sg = 24 * 6 + bn(6) + 6 * 32 + bn(32) + 9 * 32 + bn(32)
    # linear bottleneck 32 -> expand 192 -> dw -> project 40 (partial residual on 32 channels)
    lb = 32 * 192 + bn(192) + 9 * 192 + bn(192) + 192 * 40 + bn(40)
    head = 40 * 10 + 10
    return stem + ds + ir1 + ir2 + sg + lb + head


def test_a_table_driven_family_is_one_module(tmp_path):
    """Dropping one spec module into keras_mobile/models' path enrolls it: builder, registry, width argument."""
    from keras_mobile import models, registry
    from keras_mobile.profile import trainable_params

    params = _toy_params()
    (tmp_path / "toynet.py").write_text(TOY_FAMILY % {"params": params, "mult_adds": 0})
    models.__path__.append(str(tmp_path))
    try:
        models.load_families()
        assert "toynet_100" in keras_mobile.list_models("toy*")
        info = keras_mobile.model_info("toynet_100")
        assert (info.family, info.width_arg) == ("toynet", "alpha")
        model = keras_mobile.create_model("toynet_100", input_shape=(64, 64, 3), classes=10)
        assert trainable_params(model) == info.reference[0] == params
        names = [layer.name for layer in model.layers]
        assert {"stage1_block1_project_conv", "stage2_block2_add", "stage3_block1_reduce_conv",
                "stage4_block1_add"} <= set(names)
        assert keras_mobile.ToyNet(alpha=0.5, include_top=False, input_shape=(64, 64, 3)).name == "toynet_0.50"
    finally:
        models.__path__.remove(str(tmp_path))
        registry._REGISTRY.pop("toynet_100", None)
        models.FAMILY_MODULES.pop("toynet", None)
        models.BUILDERS.pop("ToyNet", None)
        vars(keras_mobile).pop("ToyNet", None)
        sys.modules.pop("keras_mobile.models.toynet", None)
        importlib.invalidate_caches()
    assert "toynet_100" not in keras_mobile.list_models()

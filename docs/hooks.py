"""MkDocs hooks (``hooks:`` in mkdocs.yml): the generated pages' tables, from the model registry.

* ``docs/zoo.md`` carries two markers that are replaced at build time:
  ``<!-- generated: families -->`` (one row per family: builder, variants, width argument, resolution,
  reference) and ``<!-- generated: variants -->`` (one row per registered variant: the reference
  implementation's parameters and Mult-Adds, ``ModelInfo.reference``). Nothing is built: the figures are the
  registry's, which ``tests/test_model_figures.py`` pins against the built models, so the page cannot go
  stale. (``python -m keras_mobile.profile --all`` builds every model and prints the counted table.)
* ``docs/api/builders.md``: ``<!-- generated: builders -->`` becomes each builder's runtime signature and
  docstring; ``docs/training.md``: ``<!-- generated: presets -->`` the training presets as resolved
  (``train_tpu.config.recipe_table()``).
* README.md's family table is checked against the registry (a family missing from it, or a wrong width
  argument), and its relative links must point at existing files: a failure is a warning, which
  ``mkdocs build --strict`` turns into a failed build.

keras_mobile and train_tpu are imported from this checkout (the repository root goes first on ``sys.path``),
on tf_keras (``TF_USE_LEGACY_KERAS=1``, which train_tpu needs; the registry is the same on both lines);
importing them imports TensorFlow (a few seconds) and builds no model.
"""

import logging
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAMILIES_MARKER = "<!-- generated: families -->"
VARIANTS_MARKER = "<!-- generated: variants -->"
BUILDERS_MARKER = "<!-- generated: builders -->"
PRESETS_MARKER = "<!-- generated: presets -->"

log = logging.getLogger("mkdocs.hooks.keras_mobile")
_cache = {}


def _registry():
    """``{family: [ModelInfo, ...]}`` in registration order (imported once per build process)."""
    if "families" not in _cache:
        if sys.path[:1] != [ROOT]:
            sys.path.insert(0, ROOT)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        # The registry is the same on both Keras lines; tf_keras lets train_tpu (presets table) load too.
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        import keras_mobile

        families = {}
        for name in keras_mobile.list_models():
            info = keras_mobile.model_info(name)
            families.setdefault(info.family, []).append(info)
        _cache["families"] = families
    return _cache["families"]


def _builder_name(info):
    builder = getattr(info.constructor, "__wrapped__", info.constructor)
    return getattr(builder, "__name__", "?")


def _millions(value):
    return "" if value is None else f"{value / 1e6:,.2f}M"


def families_table():
    """Markdown: one row per registered family."""
    lines = [
        "| family | builder | width argument | input normalization | variants (registered names) | px | reference implementation |",
        "|---|---|---|---|---|---|---|",
    ]
    for family, infos in sorted(_registry().items()):
        names = sorted(info.name for info in infos)
        names = ", ".join(f"`{n}`" for n in names) if len(names) <= 6 else f"`{names[0]}` … `{names[-1]}` ({len(names)})"
        width = f"`{infos[0].width_arg}`" if infos[0].width_arg else "–"
        resolutions = sorted({info.default_resolution for info in infos})
        sources = sorted({info.reference[2] for info in infos if info.reference})
        lines.append(
            f"| {family} | `{_builder_name(infos[0])}` | {width} | `{infos[0].normalization}` | {names} | "
            f"{', '.join(map(str, resolutions))} | {'; '.join(sources)} |"
        )
    return "\n".join(lines)


def variants_table():
    """Markdown: one row per registered variant with its reference figures (no model is built)."""
    lines = [
        "| model | family | arguments | px | params | Mult-Adds | reference |",
        "|---|---|---|---|---|---|---|",
    ]
    for family, infos in sorted(_registry().items()):
        for info in sorted(infos, key=lambda i: i.name):
            params, mult_adds, source = info.reference or (None, None, "")
            arguments = ", ".join(f"{k}={v!r}" for k, v in info.arguments.items())
            lines.append(
                f"| `{info.name}` | {family} | {arguments} | {info.default_resolution} | "
                f"{'' if params is None else f'{params:,}'} | {_millions(mult_adds)} | {source} |"
            )
    return "\n".join(lines)


def _key(family):
    """Family names compared loosely: "ShuffleNetV1" in the README is the registry's "shufflenet_v1"."""
    return re.sub(r"[^a-z0-9]", "", family.lower())


def _cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _readme_families(path):
    """README.md's family table as ``{family key: {column header: cell}}``."""
    rows, header = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("| family |"):
                header = _cells(line)
                continue
            if header:
                if not line.startswith("|"):
                    break
                cells = _cells(line)
                if not set(cells[0]) <= set("-: "):
                    rows[_key(cells[0])] = dict(zip(header, cells))
    return rows


def check_readme():
    """Warn (a failure under --strict) where README.md's family table disagrees with the registry."""
    path = os.path.join(ROOT, "README.md")
    rows = _readme_families(path)
    if not rows:
        log.warning("README.md: no family table (a table whose header starts with '| family |').")
        return
    registered = {_key(family): family for family in _registry()}
    for family, infos in _registry().items():
        row = rows.get(_key(family))
        if row is None:
            log.warning(f"README.md's family table has no row for registered family {family!r}.")
            continue
        width, cell = infos[0].width_arg, row.get("width argument", "")
        if width and cell != f"`{width}`":
            log.warning(f"README.md's family table: {family!r} has width argument {cell!r}; the registry's is `{width}`.")
        if not width and re.search(r"`\w+`", cell):
            log.warning(f"README.md's family table: {family!r} has no width argument (the registry's width_arg is None).")
    for key, row in rows.items():
        if key not in registered:
            log.warning(f"README.md's family table has a row for {row['family']!r}, which is not a registered family.")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):  # README links into the repository must resolve
        if "://" not in target and not os.path.exists(os.path.join(ROOT, target.split("#")[0])):
            log.warning(f"README.md links to {target!r}, which does not exist.")


def builders_sections():
    """Markdown: per family module, each public builder's runtime signature and its docstring.

    ``@model_builder`` gives a builder a runtime signature (architecture arguments, then every
    ``ModelOptions`` field as a keyword) that differs from its source (``options`` first), and griffe
    reads the source; so the signature is written here from ``inspect.signature`` and mkdocstrings renders
    the docstring alone.
    """
    import importlib
    import inspect

    sections = []
    for family, infos in sorted(_registry().items()):
        module_name = getattr(infos[0].constructor, "__wrapped__", infos[0].constructor).__module__
        module = importlib.import_module(module_name)
        names = {}  # builder object -> public names (MobileNet and its alias MobileNetV1)
        for name, value in vars(module).items():
            if name[:1].isupper() and inspect.isfunction(value) and value.__module__ == module_name:
                names.setdefault(value, []).append(name)
        for value, aliases in names.items():
            name, *others = aliases
            alias = f" (also `keras_mobile.{others[0]}`)" if others else ""
            sections.append(
                f"## `keras_mobile.{name}`{alias}\n\n"
                f"```python\n{name}{inspect.signature(value)}\n```\n\n"
                f"::: {module_name}.{name}\n"
                "    options:\n      show_root_heading: false\n      show_signature: false\n"
            )
    return "\n".join(sections)


def presets_table():
    """Markdown: every training preset as resolved (``train_tpu.config.recipe_table``)."""
    _registry()  # the same Keras line and sys.path
    try:
        from train_tpu import config as train_config

        return train_config.recipe_table()
    except Exception as error:  # a warning names it (a failure under --strict); the rest of the site still builds
        log.warning(f"training.md: the presets table could not be generated: {type(error).__name__}: {error}")
        return "*(The presets table could not be generated; see the build log.)*"


# --------------------------------------------------------------------------- MkDocs events
def on_pre_build(config):
    check_readme()


def on_page_markdown(markdown, page, config, files):
    if FAMILIES_MARKER in markdown:
        markdown = markdown.replace(FAMILIES_MARKER, families_table())
    if BUILDERS_MARKER in markdown:
        markdown = markdown.replace(BUILDERS_MARKER, builders_sections())
    if PRESETS_MARKER in markdown:
        markdown = markdown.replace(PRESETS_MARKER, presets_table())
    if VARIANTS_MARKER in markdown:
        markdown = markdown.replace(VARIANTS_MARKER, variants_table())
    return markdown

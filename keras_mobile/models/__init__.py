"""One module per family; importing this package imports (and so registers) every one of them.

A family module is found by its file alone: every module in this folder whose
name does not start with ``_`` is imported, registers its variants with
``registry.register_variants`` and offers its PascalCase builder functions
(``MobileNetV2``, ``MixNetS``, ...) as ``keras_mobile.<Name>``. Adding a
family is adding its module; nothing else lists it.
"""

import importlib
import pkgutil

FAMILY_MODULES = {}  # module name -> module
BUILDERS = {}  # public builder name -> function


def load_families():
    """Import every family module on this package's path not imported yet; returns ``BUILDERS``."""
    for found in pkgutil.iter_modules(__path__):
        if found.name.startswith("_") or found.name in FAMILY_MODULES:
            continue
        module = importlib.import_module(f"{__name__}.{found.name}")
        FAMILY_MODULES[found.name] = module
        for name, value in vars(module).items():
            if name[:1].isupper() and callable(value) and getattr(value, "__module__", None) == module.__name__:
                BUILDERS[name] = value
    return BUILDERS


load_families()

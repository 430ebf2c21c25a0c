"""End-to-end fixtures."""

from __future__ import annotations

import importlib
import pkgutil

import schemathesis

# pytest assertion-rewrites every module of a distribution that ships a pytest plugin, schemathesis
# included (`-p no:` does not stop that). Its modules are imported lazily, and a rewrite compiled
# deep inside a running test trips CPython 3.11.7's AST recursion check ("AST constructor
# recursion depth mismatch"). Importing them all here, at collection, keeps the stack shallow.
for _module in pkgutil.walk_packages(schemathesis.__path__, "schemathesis."):
    try:
        importlib.import_module(_module.name)
    except Exception:  # optional extras that are not installed: never imported by our tests either
        pass

"""Checks of an AsyncAPI 3.0.0 document as third-party tooling reads it, in Python: the official
JSON Schema of the specification (vendored, tests/data/asyncapi/), every `$ref` resolving, and
values (a reply, its headers) validating against the schemas the document gives them (AsyncAPI's
schema dialect is a superset of JSON Schema draft-07)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SPEC = Path(__file__).resolve().parent / "data" / "asyncapi" / "asyncapi-3.0.0.json"
_BASE = "urn:coursewright:asyncapi"


@functools.cache
def _spec_validator() -> Draft7Validator:
    return Draft7Validator(json.loads(SPEC.read_text()))


def spec_errors(document: dict[str, Any]) -> list[str]:
    """Where and why the document breaks the AsyncAPI 3.0.0 JSON Schema; empty when it does not."""
    return [
        f"/{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
        for e in sorted(_spec_validator().iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    ]


def _refs(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield path, node["$ref"]
        for key, value in node.items():
            yield from _refs(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _refs(value, f"{path}/{i}")


def resolve(document: dict[str, Any], ref: str) -> Any:
    """The node a local `$ref` (`#/a/b~1c`) points to; KeyError when there is none."""
    if not ref.startswith("#/"):
        raise KeyError(f"not a reference inside the document: {ref}")
    node: Any = document
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def dangling_refs(document: dict[str, Any]) -> list[str]:
    """Each `$ref` of the document that points nowhere in it, with where it is."""
    dangling = []
    for path, ref in _refs(document):
        try:
            resolve(document, ref)
        except (KeyError, IndexError, ValueError, TypeError):
            dangling.append(f"{path}: {ref}")
    return dangling


def value_errors(document: dict[str, Any], pointer: str, value: Any) -> list[str]:
    """Why `value` does not fit the schema at `pointer` in the document (e.g.
    `#/components/messages/Problem/payload`), its `$ref`s resolved in the document."""
    resource = Resource.from_contents(document, default_specification=DRAFT7)
    registry: Registry[Any] = Registry().with_resource(_BASE, resource)
    validator = Draft7Validator({"$ref": _BASE + pointer}, registry=registry)
    return [f"/{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in validator.iter_errors(value)]

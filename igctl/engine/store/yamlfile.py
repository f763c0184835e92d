"""Loading YAML files into pydantic models with errors an operator can act on:
the file, the key, the line, and what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def _line_of(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the YAML node at `loc` (a pydantic error location), or of the
    deepest mapping on the way to it."""
    node, line = root, None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = None
            for key, value in node.value:
                if key.value == str(part):
                    found = (key, value)
                    break
            if found is None:
                break
            line = found[0].start_mark.line + 1
            node = found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def describe_validation_error(exc: ValidationError, source: str, text: str | None = None) -> str:
    root = None
    if text is not None:
        try:
            root = yaml.compose(text)
        except yaml.YAMLError:
            root = None
    parts = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        key = ".".join(str(p) for p in loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            msg = "unknown setting"
        else:
            msg = err["msg"].removeprefix("Value error, ")
        line = _line_of(root, loc) if root is not None else None
        where = f" (line {line})" if line else ""
        parts.append(f"{key}{where}: {msg}")
    return f"{source}: " + "; ".join(parts)


def load_model(path: Path, model: type[M], label: str | None = None) -> M:
    label = label or path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"{label} not found: {path}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{label} is not valid UTF-8") from None
    return parse_model(text, model, label)


def yaml_error(exc: yaml.YAMLError, label: str) -> InvalidInput:
    """A YAML syntax error as an operator reads it: the file, the line, the problem."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or "invalid YAML"
    return InvalidInput(f"{label}: not valid YAML{where}: {problem}")


def parse_model(text: str, model: type[M], label: str) -> M:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise yaml_error(exc, label) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput(f"{label}: expected a mapping of settings at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc, label, text)) from None

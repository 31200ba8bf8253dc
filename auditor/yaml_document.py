"""A YAML document read for validation: its data, the line of every key, and errors that name
the file, the key path and the line (``file:line: key: what``). Used by the config loader and by
every other file the auditor reads as YAML with a JSON Schema.
"""

from __future__ import annotations

import difflib
import re
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from auditor.sources.files import MAX_CONFIG_BYTES, FileTooLarge, read_limited
from auditor.yaml_shape import shape_problem

PathPart = str | int


# A message quoting a value is cut here: a value can be a whole (expanded) subtree.
_MAX_MESSAGE = 400


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escaped(text: str) -> str:
    return _CONTROL.sub(lambda m: repr(m.group(0))[1:-1], text)


def _brief(value: Any) -> str:
    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxdict, short.maxstring = 2, 4, 4, 60
    return short.repr(value)


class ConfigError(Exception):
    """A config that cannot be used; ``str()`` is one line naming file, line and key."""

    def __init__(self, path: Path, message: str, line: int | None = None, key: str = "") -> None:
        # One line, whatever the file holds: control characters (line and record separators
        # among them) are shown escaped, as repr() would.
        message, key = _escaped(message), _escaped(key)
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 1] + "…"
        self.path, self.line, self.key, self.message = path, line, key, message
        where = _escaped(f"{path}:{line}" if line else str(path))
        super().__init__(f"{where}: {key + ': ' if key else ''}{message}")


def _format_path(parts: Sequence[PathPart]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _node_at(node: yaml.Node | None, parts: Sequence[PathPart]) -> yaml.Node | None:
    for part in parts:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part] if part < len(node.value) else None
        else:
            return None
    return node


def _key_node(node: yaml.Node | None, parts: Sequence[PathPart], key: str) -> yaml.Node | None:
    parent = _node_at(node, parts)
    if isinstance(parent, yaml.MappingNode):
        return next((k for k, _ in parent.value if k.value == key), None)
    return None


def _line(node: yaml.Node | None) -> int | None:
    return None if node is None else node.start_mark.line + 1


def _reject_duplicate_keys(
    path: Path, node: yaml.Node, parts: list[PathPart], visited: set[int] | None = None
) -> None:
    # An aliased node is one object however often it is referred to: checked once.
    visited = set() if visited is None else visited
    if id(node) in visited:
        return
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.value in seen:
                raise ConfigError(
                    path, "duplicate key", _line(key), _format_path([*parts, key.value])
                )
            seen.add(key.value)
            _reject_duplicate_keys(path, value, [*parts, key.value], visited)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _reject_duplicate_keys(path, item, [*parts, index], visited)


@dataclass(frozen=True)
class YamlDocument:
    path: Path
    data: Any
    root: yaml.Node | None

    def line(self, parts: Sequence[PathPart]) -> int | None:
        return _line(_node_at(self.root, parts))

    def error(self, parts: Sequence[PathPart], message: str) -> ConfigError:
        return ConfigError(self.path, message, self.line(parts), _format_path(parts))


class YamlProblem(Exception):
    """Why a YAML text cannot be read: one line's worth, and the line if known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    @classmethod
    def of(cls, error: yaml.YAMLError) -> YamlProblem:
        if isinstance(error, yaml.MarkedYAMLError):
            mark = error.problem_mark or error.context_mark
            return cls(f"invalid YAML: {error.problem or error}", mark.line + 1 if mark else None)
        return cls(f"invalid YAML: {error}")


def compose_bounded(text: str, what: str) -> yaml.Node | None:
    """The text's node tree, once its size and depth are known to be bounded (``yaml_shape``);
    raises YamlProblem ("the <what> ..." or "invalid YAML: ...") with the line."""
    try:
        problem = shape_problem(text)
        if problem is not None:
            raise YamlProblem(f"the {what} {problem.message}", problem.line)
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        raise YamlProblem.of(error) from None


def read_yaml(path: Path) -> YamlDocument:
    try:
        # A regular file of bounded size: a device or a FIFO would never end, or block.
        text = read_limited(path, MAX_CONFIG_BYTES).decode("utf-8")
    except FileTooLarge as error:
        raise ConfigError(path, f"cannot read config: {error}") from None
    except OSError as error:
        raise ConfigError(path, f"cannot read config: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, "config is not UTF-8 text") from None
    try:
        root = compose_bounded(text, "config")
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        problem = YamlProblem.of(error)
        raise ConfigError(path, problem.message, problem.line) from None
    except YamlProblem as problem:
        raise ConfigError(path, problem.message, problem.line) from None
    if root is not None:
        _reject_duplicate_keys(path, root, [])
    return YamlDocument(path, data, root)


# ---------------------------------------------------------------------------------------------
# Schema errors as one line


def _schema_error(document: YamlDocument, error: ValidationError) -> ConfigError:
    parts: list[PathPart] = list(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        if extra:
            key = str(extra[0])
            hint = difflib.get_close_matches(key, allowed, n=1)
            suggestion = (
                f" (did you mean '{hint[0]}'?)" if hint else f"; allowed: {', '.join(allowed)}"
            )
            line = _line(_key_node(document.root, parts, key))
            return ConfigError(
                document.path, f"unknown key '{key}'{suggestion}", line, _format_path([*parts, key])
            )
    if error.validator == "required":
        return document.error(parts, error.message.replace("is a required property", "is missing"))
    if error.validator == "enum":
        allowed_values: Any = error.validator_value
        options = ", ".join(str(o) for o in allowed_values)
        return document.error(parts, f"{_brief(error.instance)} is not one of: {options}")
    if error.validator == "type":
        return document.error(
            parts, f"expected {error.validator_value}, got {_brief(error.instance)}"
        )
    if error.validator == "pattern" and isinstance(schema.get("message"), str):
        # The schema says what the value must be (a platform's handle syntax) in words.
        return document.error(parts, f"{error.instance!r} is not {schema['message']}")
    if error.validator == "oneOf" and error.context:
        best = min(error.context, key=lambda e: len(list(e.absolute_path)))
        inner = _schema_error(document, best)
        return inner if inner.key else document.error(parts, inner.message)
    return document.error(parts, error.message)


def validate(document: YamlDocument, schema: Mapping[str, Any]) -> None:
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(document.data), key=lambda e: list(map(str, e.path)))
    if errors:
        # The deepest error is the most specific; one line is what the user gets.
        first = max(errors[:1] + errors, key=lambda e: len(list(e.absolute_path)))
        raise _schema_error(document, first)

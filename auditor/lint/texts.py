"""Profile texts and reply templates kept in files, read with the line each starts on.

The shapes (``docs/lint.md``):

- **YAML** (``.yaml``, ``.yml``): a mapping with ``profile`` and/or ``templates``. ``profile``
  is the bio as a string, or a mapping of ``bio``, ``website``, ``fields`` (a list of
  ``{name, value}``, as Mastodon shows them) and ``hours`` (the hours shape of
  ``docs/business_hours.md``); ``templates`` maps each template's name to its text. Any other
  top-level key is refused, so that a misspelt ``template:`` is not silently skipped.
- **Markdown** (``.md``, ``.markdown``) and **plain text** (``.txt``): one template per file,
  named after the file. An optional front matter (``---`` lines at the top) may say
  ``kind: profile`` (the body is the bio; ``website`` may be given there too) and ``name``.
  In Markdown a first ``# heading`` names the template and is not part of its text, and HTML
  comments (notes for agents) are not read.

Anything else (unreadable, not UTF-8, malformed YAML, a wrong shape) is a
:class:`LintInputError` naming the file and, where there is one, the line.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from auditor.sources.files import FileTooLarge, read_limited
from auditor.yaml_document import YamlProblem, compose_bounded

YAML_SUFFIXES = (".yaml", ".yml")
MARKDOWN_SUFFIXES = (".md", ".markdown")
TEXT_SUFFIXES = (".txt",)
LINTED_SUFFIXES = (*YAML_SUFFIXES, *MARKDOWN_SUFFIXES, *TEXT_SUFFIXES)
# Profiles and templates are short; a file this large is not one of them.
MAX_FILE_BYTES = 4 << 20
PROFILE_KEYS = ("bio", "website", "fields", "hours")
TOP_LEVEL_KEYS = ("profile", "templates")

Kind = Literal["profile", "template"]
_KINDS: tuple[Kind, ...] = ("profile", "template")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.M | re.S)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_HEADING = re.compile(r"#{1,6}[ \t]+(.+?)[ \t#]*$")


class LintInputError(Exception):
    """A file that cannot be linted; ``str()`` is one line naming the file (and line)."""

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {' '.join(message.split())}")


@dataclass(frozen=True, slots=True)
class Text:
    """One profile or template as a file holds it."""

    kind: Kind
    name: str
    text: str
    # The file line the text starts on (1-based).
    line: int
    # Whether the text's own lines are the file's, one for one (a block scalar, a Markdown
    # body); otherwise (a folded or quoted YAML string) every place in it is on ``line``.
    lines_kept: bool = True
    website: str | None = None
    fields: list[dict[str, Any]] | None = None
    hours: dict[str, Any] | None = None

    def line_at(self, offset: int) -> int:
        """The file line of the text's character at ``offset``."""
        if not self.lines_kept:
            return self.line
        return self.line + self.text.count("\n", 0, max(offset, 0))

    def last_line(self) -> int:
        """The file line of the text's last non-blank character (where a signature goes)."""
        return self.line_at(len(self.text.rstrip()) - 1)


@dataclass(frozen=True, slots=True)
class TextFile:
    path: str
    sha256: str
    texts: list[Text] = field(default_factory=list)

    @property
    def profiles(self) -> list[Text]:
        return [t for t in self.texts if t.kind == "profile"]

    @property
    def templates(self) -> list[Text]:
        return [t for t in self.texts if t.kind == "template"]


def collect(paths: Sequence[Path]) -> list[Path]:
    """The files to lint: each file named, and every file of a linted kind in each folder
    named (its subfolders too, hidden ones left out), in name order, each once."""
    found: dict[Path, None] = {}
    for path in paths:
        if path.is_dir():
            inside = sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in LINTED_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not inside:
                kinds = ", ".join(LINTED_SUFFIXES)
                raise LintInputError(str(path), f"the folder holds no {kinds} file to lint")
            found.update(dict.fromkeys(inside))
        elif path.exists() or path.is_symlink():
            if path.suffix.lower() not in LINTED_SUFFIXES:
                raise LintInputError(
                    str(path),
                    "not a file lint reads (name it .yaml, .yml, .md, .markdown or .txt)",
                )
            found[path] = None
        else:
            raise LintInputError(str(path), "no such file or folder")
    return list(found)


def read_file(path: Path) -> TextFile:
    """The profile and templates ``path`` holds; :class:`LintInputError` when it cannot."""
    name = str(path)
    try:
        data = read_limited(path, MAX_FILE_BYTES)
    except FileTooLarge as error:
        raise LintInputError(name, f"cannot read it: {error}") from None
    except OSError as error:
        raise LintInputError(name, f"cannot read it: {error.strerror or error}") from None
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LintInputError(name, "not UTF-8 text") from None
    content = content.replace("\r\n", "\n").replace("\r", "\n")
    suffix = path.suffix.lower()
    if suffix in YAML_SUFFIXES:
        texts = _yaml_texts(name, content)
    else:
        texts = [_document_text(name, path.stem, content, markdown=suffix in MARKDOWN_SUFFIXES)]
    return TextFile(name, hashlib.sha256(data).hexdigest(), texts)


# --------------------------------------------------------------------------------------- YAML


def _yaml_texts(name: str, content: str) -> list[Text]:
    root = _compose(name, content)
    if root is None:
        raise LintInputError(name, "empty: give it a profile: or templates: key")
    if not isinstance(root, yaml.MappingNode):
        raise LintInputError(name, "expected a mapping with profile: and/or templates:", 1)
    texts: list[Text] = []
    for key, key_node, value in _items(name, root):
        if key == "profile":
            texts.append(_yaml_profile(name, value))
        elif key == "templates":
            texts += _yaml_templates(name, value)
        else:
            raise LintInputError(
                name,
                f"unknown key {key!r}: expected {' or '.join(TOP_LEVEL_KEYS)}",
                _line(key_node),
            )
    if not texts:
        raise LintInputError(name, "neither a profile nor any template in it", 1)
    return texts


def _compose(name: str, content: str) -> yaml.Node | None:
    try:
        return compose_bounded(content, "file")
    except YamlProblem as problem:
        raise LintInputError(name, problem.message, problem.line) from None


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _items(name: str, node: yaml.MappingNode) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
    """A mapping's string keys with their nodes; a key written twice is refused (YAML
    loaders keep the last one silently)."""
    seen: set[str] = set()
    for key_node, value in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if not isinstance(key, str) or key_node.tag != "tag:yaml.org,2002:str":
            raise LintInputError(name, "keys must be strings", _line(key_node))
        if key in seen:
            raise LintInputError(name, f"key {key!r} written twice", _line(key_node))
        seen.add(key)
        yield key, key_node, value


def _string(name: str, node: yaml.Node, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
        raise LintInputError(name, f"{what} must be text", _line(node))
    value: str = node.value
    return value


def _scalar_text(name: str, kind: Kind, label: str, node: yaml.Node, what: str) -> Text:
    text = _string(name, node, what)
    if not text.strip():
        raise LintInputError(name, f"{what} is empty", _line(node))
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        # A block scalar's text starts on the line after its indicator.
        return Text(kind, label, text, _line(node) + 1, lines_kept=node.style == "|")
    single_line = "\n" not in text
    return Text(kind, label, text, _line(node), lines_kept=single_line)


def _yaml_profile(name: str, node: yaml.Node) -> Text:
    if isinstance(node, yaml.ScalarNode):
        return _scalar_text(name, "profile", "profile", node, "profile")
    if not isinstance(node, yaml.MappingNode):
        raise LintInputError(
            name, "profile must be the bio's text or a mapping of " + ", ".join(PROFILE_KEYS)
        )
    parts: dict[str, yaml.Node] = {}
    for key, key_node, value in _items(name, node):
        if key not in PROFILE_KEYS:
            raise LintInputError(
                name,
                f"unknown profile key {key!r}: expected {', '.join(PROFILE_KEYS)}",
                _line(key_node),
            )
        parts[key] = value
    bio = (
        _scalar_text(name, "profile", "profile", parts["bio"], "profile.bio")
        if "bio" in parts
        else Text("profile", "profile", "", _line(node))
    )
    website = _string(name, parts["website"], "profile.website") if "website" in parts else None
    fields = _profile_fields(name, parts["fields"]) if "fields" in parts else None
    hours = _constructed(parts["hours"]) if "hours" in parts else None
    if "hours" in parts and not isinstance(hours, dict):
        raise LintInputError(name, "profile.hours must be a mapping (the hours shape)")
    if not (bio.text or website or fields or hours):
        raise LintInputError(name, "the profile states nothing", _line(node))
    return Text(
        "profile",
        "profile",
        bio.text,
        bio.line,
        lines_kept=bio.lines_kept,
        website=website,
        fields=fields,
        hours=hours,
    )


def _profile_fields(name: str, node: yaml.Node) -> list[dict[str, Any]]:
    fields = _constructed(node)
    if not isinstance(fields, list) or not all(
        isinstance(f, Mapping) and set(f) <= {"name", "value"} for f in fields
    ):
        raise LintInputError(name, "profile.fields must be a list of {name, value}", _line(node))
    return [dict(f) for f in fields]


def _constructed(node: yaml.Node) -> Any:
    """The Python value of one node (after its shape has been checked for the whole file)."""
    return yaml.SafeLoader("").construct_document(node)


def _yaml_templates(name: str, node: yaml.Node) -> list[Text]:
    if not isinstance(node, yaml.MappingNode):
        raise LintInputError(name, "templates must map each template's name to its text")
    return [
        _scalar_text(name, "template", key, value, f"template {key!r}")
        for key, _, value in _items(name, node)
    ]


# --------------------------------------------------------------------------- Markdown, text


def _document_text(name: str, stem: str, content: str, *, markdown: bool) -> Text:
    """One template (or, with ``kind: profile``, a profile) in a Markdown or text file."""
    meta: dict[str, Any] = {}
    body_line = 1
    front = _FRONT_MATTER.match(content)
    if front is not None:
        meta = _front_matter(name, front.group(1))
        body_line += content.count("\n", 0, front.end())
        content = content[front.end() :]
    if markdown:
        # Comments become blank lines, so that the lines after them keep their numbers.
        content = _HTML_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), content)
    kind = meta.get("kind", "template")
    label = meta.get("name")
    leading = len(content) - len(content.lstrip())
    body_line += content.count("\n", 0, leading)
    content = content[leading:]
    heading = _HEADING.match(content.split("\n", 1)[0]) if markdown else None
    if heading is not None:
        label = label or heading.group(1)
        rest = content.split("\n", 1)[1] if "\n" in content else ""
        stripped = rest.lstrip()
        body_line += 1 + rest.count("\n", 0, len(rest) - len(stripped))
        content = stripped
    text = content.rstrip()
    if kind == "template" and not text:
        raise LintInputError(name, "no template text in it", body_line)
    website = meta.get("website")
    return Text(
        kind, label or (stem if kind == "template" else "profile"), text, body_line, website=website
    )


def _front_matter(name: str, block: str) -> dict[str, Any]:
    try:
        meta = yaml.safe_load(block) if block.strip() else {}
    except yaml.YAMLError as error:
        raise LintInputError(name, f"invalid front matter: {error}", 1) from None
    if not isinstance(meta, dict):
        raise LintInputError(name, "the front matter must be a mapping (kind: profile)", 1)
    kind = meta.get("kind", "template")
    if kind not in _KINDS:
        raise LintInputError(name, f"front matter kind {kind!r}: expected profile or template", 1)
    for key in ("name", "website"):
        if key in meta and not isinstance(meta[key], str):
            raise LintInputError(name, f"front matter {key} must be text", 1)
    return meta

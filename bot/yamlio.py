"""Read YAML configuration files and turn validation errors into file/key/reason messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bot.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _named_entry(data: Any, loc: tuple[int | str, ...]) -> str | None:
    """The ``name`` of the innermost list entry on the way to ``loc`` (a feed, a
    subscription), so that an error names what the operator calls it, not only its index."""
    name = None
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(part, int) and isinstance(data, dict) and isinstance(data.get("name"), str):
            name = data["name"]
    return name


def read_yaml(path: Path, *, required: bool) -> dict[str, Any]:
    """Read a YAML mapping; a syntax error names the line and column."""
    if not path.exists():
        if required:
            raise ConfigError(str(path), "", "file not found")
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(str(path), "", f"not UTF-8 text ({e.reason} at byte {e.start})") from e
    return read_yaml_text(path, text)


def read_yaml_text(path: Path, text: str) -> dict[str, Any]:
    """``text`` (the contents of ``path``, or what it is about to be) as a YAML mapping."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(str(path), where, f"invalid YAML: {problem}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "", "the top level must be a mapping of keys")
    return data


def validate_file(model: type[M], path: Path, data: dict[str, Any]) -> M:
    """Validate ``data`` read from ``path``; the first error becomes a ConfigError."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        key = _format_loc(tuple(first["loc"]))
        name = _named_entry(data, tuple(first["loc"]))
        if name:
            key += f" ({name!r})"
        reason = first["msg"]
        if reason.startswith("Value error, "):
            reason = reason[len("Value error, ") :]
        # Our own cross-field checks put the key in the message already.
        if not key and ":" in reason:
            key, reason = (s.strip() for s in reason.split(":", 1))
        extra = len(e.errors()) - 1
        if extra:
            reason += f" (and {extra} more problem{'s' if extra > 1 else ''} in this file)"
        raise ConfigError(str(path), key, reason) from e

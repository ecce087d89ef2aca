"""A config tree checked against the schema: overlays merged key by key, values coerced to the
annotated types, a complete tree built into frozen sections. Every error names its source."""

from __future__ import annotations

import copy
import dataclasses
import types
from typing import Any, Union, get_args, get_origin, get_type_hints

from ..errors import ConfigError
from .schema import Config


def _fields(cls) -> dict:
    return get_type_hints(cls)


def merge(base: dict, overlay: dict, source: str, schema: type = Config, prefix: str = "") -> dict:
    """Deep-merge `overlay` into a copy of `base`; a key that `schema` lacks or a value of the
    wrong type is an error naming `source` and the key."""
    out = copy.deepcopy(base)
    fields = _fields(schema)
    for key, value in overlay.items():
        name = f"{prefix}{key}"
        if key not in fields:
            raise ConfigError(f"{source}: unknown config key '{name}'")
        kind = fields[key]
        if dataclasses.is_dataclass(kind):
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{source}: '{name}' is a section (keys {', '.join(_fields(kind))}), got "
                    f"{value!r}"
                )
            out[key] = merge(base[key], value, source, kind, prefix=f"{name}.")
        else:
            try:
                out[key] = _typed(kind, value, f"{source}: '{name}'")
            except ConfigError as exc:
                default = "" if base[key] is None else f" (the default: {base[key]!r})"
                raise ConfigError(f"{exc}{default}") from None
    return out


def _typed(kind: Any, value: Any, where: str) -> Any:
    """`value` as the annotation `kind` wants it, or a ConfigError. YAML 1.1 reads 1e-3 as a
    string, so numeric strings become floats where a float is expected; ints become floats there."""
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        options = get_args(kind)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is not type(None):
                try:
                    return _typed(option, value, where)
                except ConfigError:
                    pass
        raise ConfigError(f"{where} expects {_name(kind)}, got {value!r}")
    if origin is list:
        if isinstance(value, list):
            try:
                return [_typed(get_args(kind)[0], v, where) for v in value]
            except ConfigError:
                pass
        raise ConfigError(f"{where} expects {_name(kind)}, got {value!r}")
    if kind is float and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: number,
        str: isinstance(value, str),
    }[kind]
    if not ok:
        raise ConfigError(f"{where} expects {_name(kind)}, got {value!r}")
    return float(value) if kind is float else value


def _name(kind: Any) -> str:
    if get_origin(kind) in (Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _name(a) for a in get_args(kind))
    if get_origin(kind) is list:
        return f"a list of {get_args(kind)[0].__name__}"
    return f"an {kind.__name__}" if kind.__name__[0] in "aeiou" else f"a {kind.__name__}"


def build(tree: dict, where: str, schema: type = Config, prefix: str = ""):
    """The typed sections of a complete config tree; a missing or unknown key names `where`."""
    fields = _fields(schema)
    if not isinstance(tree, dict):
        raise ConfigError(
            f"{where}: '{prefix.rstrip('.')}' is a section (keys {', '.join(fields)}), got {tree!r}"
        )
    missing = [f"{prefix}{k}" for k in fields if k not in tree]
    unknown = [f"{prefix}{k}" for k in tree if k not in fields]
    if missing or unknown:
        raise ConfigError(
            f"{where}: "
            + "; ".join(
                ([f"lacks {', '.join(missing)}"] if missing else [])
                + ([f"unknown {', '.join(unknown)}"] if unknown else [])
            )
        )
    values = {}
    for key, kind in fields.items():
        if dataclasses.is_dataclass(kind):
            values[key] = build(tree[key], where, kind, f"{prefix}{key}.")
        else:
            values[key] = _typed(kind, tree[key], f"{where}: '{prefix}{key}'")
    return schema(**values)


def flat(tree: dict, prefix: str = "") -> dict:
    """A nested config tree as {"section.key": value}."""
    out = {}
    for k, v in tree.items():
        out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out

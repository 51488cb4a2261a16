"""Settings problems said in the administrator's words: the environment variable, its value and the rule.

pydantic reports a bad ``AUTODIALER_AMI_PORT=abc`` as a multi-line ValidationError about ``ami_port``; the admin
set an environment variable and wants one line naming it: ``AUTODIALER_AMI_PORT='abc': must be an integer in
1..65535``. :func:`explain` turns pydantic's errors into such lines (secrets are never echoed); :func:`unknown_names`
finds ``AUTODIALER_*`` variables that are no setting at all (a typo is otherwise ignored silently) and suggests the
nearest known name. ``AUTODIALER_TEST_*`` belongs to the test suite and is not reported.
"""

from __future__ import annotations

import difflib
import json
import re
import typing
from collections.abc import Iterable, Mapping
from typing import Any

import annotated_types
from pydantic import BaseModel, ValidationError

PREFIX = "AUTODIALER_"
TEST_PREFIX = "AUTODIALER_TEST_"
_SECRET = re.compile(r"secret|password|database_url")


class SettingsError(ValueError):
    """Settings that cannot be used; ``problems`` holds one line per setting, each naming it and the rule."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def env_name(field: str) -> str:
    return f"{PREFIX}{field.upper()}"


def describe(model: type[BaseModel], field: str) -> str:
    """What a valid value of ``field`` looks like, from its type and constraints."""
    info = model.model_fields[field]
    annotation = info.annotation
    bounds: dict[str, object] = {}
    for m in info.metadata:
        for name in ("ge", "gt", "le", "lt"):
            if isinstance(m, annotated_types.BaseMetadata) and hasattr(m, name):
                bounds[name.capitalize()] = getattr(m, name)
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(repr(v) for v in typing.get_args(annotation))
    if annotation is bool:
        return "true or false"
    if annotation in (int, float):
        kind = "an integer" if annotation is int else "a number"
        if "Ge" in bounds and "Le" in bounds:
            return f"{kind} in {bounds['Ge']}..{bounds['Le']}"
        limits = [
            f"{symbol} {bounds[name]}" for name, symbol in (("Ge", "≥"), ("Gt", ">"), ("Le", "≤")) if name in bounds
        ]
        return f"{kind} {' and '.join(limits)}".strip()
    origin = typing.get_origin(annotation)
    if origin in (list, dict):
        shape = "list" if origin is list else "object"
        example = info.default or (info.examples or [None])[0]
        placeholder = '["…"]' if origin is list else '{"…": …}'
        return f"a JSON {shape}, e.g. {json.dumps(example, ensure_ascii=False) if example else placeholder}"
    return "text"


def _shown(field: str, value: object) -> str:
    if _SECRET.search(field):
        return ""
    return f"={value!r}" if isinstance(value, str) else ""


def explain(error: ValidationError, model: type[BaseModel], overrides: Mapping[str, object]) -> list[str]:
    """One line per bad setting. A field set by keyword (a CLI flag, a test) is named as the field, else as its
    environment variable; whole-model rules (production checks) name the field their message starts with."""
    lines: list[str] = []
    for item in error.errors(include_url=False):
        loc = [str(part) for part in item["loc"]]
        message = str(item["msg"]).removeprefix("Value error, ")
        if not (loc and loc[0] in model.model_fields):  # a whole-model rule: "field: rule; field: rule"
            for part in message.split("; "):
                named, sep, rule = part.partition(": ")
                known = sep and named in model.model_fields
                lines.append(f"{named if named in overrides else env_name(named)}: {rule}" if known else part)
            continue
        field = loc[0]
        name = field if field in overrides else env_name(field)
        if message.startswith(f"{field}: "):  # a field validator that names its field already
            message = message[len(field) + 2 :]
        elif item["type"] != "value_error":
            message = f"must be {describe(model, field)}"
        lines.append(f"{name}{_shown(field, item.get('input'))}: {message}")
    return lines


def explain_parse_failure(error: Exception, model: type[BaseModel]) -> list[str]:
    """pydantic-settings' "error parsing value for field X" (a list or dict setting that is not JSON)."""
    found = re.search(r'field "(\w+)"', str(error))
    if found is None or found.group(1) not in model.model_fields:
        return [str(error)]
    field = found.group(1)
    return [f"{env_name(field)}: must be {describe(model, field)}"]


def unknown_names(environ: Iterable[str], model: type[BaseModel]) -> list[str]:
    """A warning for every ``AUTODIALER_*`` variable that is not a setting, with the nearest known name."""
    known = [env_name(field) for field in model.model_fields]
    warnings = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(PREFIX) or upper.startswith(TEST_PREFIX) or upper in known:
            continue
        nearest = difflib.get_close_matches(upper, known, n=1, cutoff=0.6)
        hint = f"; did you mean {nearest[0]}?" if nearest else "; see `autodialer settings` for the known names"
        warnings.append(f"{name} is not an autodialer setting and is ignored{hint}")
    return warnings


def describe_all(model: type[BaseModel]) -> list[tuple[str, str, Any]]:
    """(environment variable, rule, default) for every setting, in declaration order."""
    return [(env_name(field), describe(model, field), info.default) for field, info in model.model_fields.items()]

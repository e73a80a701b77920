"""The Bot API specification (bot-api.json): decoding and validating values against it."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).with_name("bot-api.json")

_ARRAY = "Array of "
_DISCRIMINATOR = re.compile(r"(?:must be|always)\s+[\"“]?([a-z0-9_]+)[\"”]?\s*$")
_ATTACH = re.compile(r"attach://([\w.-]+)")
_SCALARS = frozenset({"Integer", "Float", "Boolean", "True", "String", "InputFile"})


class SpecError(ValueError):
    """A value does not conform to the specification; `path` locates it inside the request."""

    def __init__(self, path: str, message: str, *, mismatch: bool = False) -> None:
        """Remember where the problem is and whether it is a plain type mismatch."""
        super().__init__(message)
        self.path = path
        self.message = message
        self.mismatch = mismatch

    @property
    def depth(self) -> int:
        """How deep inside the parameter the problem sits."""
        return self.path.count(".") + self.path.count("[")


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart/form-data request."""

    field: str
    filename: str | None
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Field:
    """A parameter of a method or a field of an object type."""

    name: str
    types: tuple[str, ...]
    required: bool


def _fields(entry: Mapping[str, Any]) -> dict[str, Field]:
    """The fields of a method or type entry, keyed by name."""
    return {
        f["name"]: Field(f["name"], tuple(f["types"]), bool(f["required"]))
        for f in entry.get("fields", ())
    }


def _discriminator(entry: Mapping[str, Any]) -> tuple[str, str] | None:
    """The (field, value) that identifies a subtype, e.g. ("type", "chat")."""
    for f in entry.get("fields", ()):
        match = _DISCRIMINATOR.search(f.get("description", ""))
        if f["name"] in ("type", "source", "status") and match:
            return f["name"], match.group(1)
    return None


def json_type(value: object) -> str:
    """The spec-style name of a decoded JSON value's type."""
    names = {bool: "Boolean", int: "Integer", float: "Float", str: "String", list: "Array"}
    if isinstance(value, UploadedFile):
        return "InputFile"
    if isinstance(value, dict):
        return "Object"
    return names.get(type(value), "null" if value is None else type(value).__name__)


class ApiSpec:
    """Methods and types of one Bot API version."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        """Index the raw JSON specification."""
        self.version: str = raw.get("version", "")
        self.methods = {name: _fields(entry) for name, entry in raw["methods"].items()}
        self.returns = {name: tuple(entry["returns"]) for name, entry in raw["methods"].items()}
        self.types = {name: _fields(entry) for name, entry in raw["types"].items()}
        self.subtypes = {
            name: tuple(entry["subtypes"])
            for name, entry in raw["types"].items()
            if "subtypes" in entry
        }
        self.discriminators = {
            name: found for name, entry in raw["types"].items() if (found := _discriminator(entry))
        }
        self._by_lower = {name.lower(): name for name in self.methods}

    @classmethod
    def load(cls, path: Path = SPEC_PATH) -> ApiSpec:
        """Read a specification file."""
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def canonical_method(self, name: str) -> str | None:
        """The method's spelling in the spec (names are case-insensitive), or None."""
        return self._by_lower.get(name.lower())

    def parse_params(self, method: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Decode transport-level values by their spec types and validate the whole call."""
        fields = self.methods[method]
        attached = _attached_names(raw.values())
        params: dict[str, Any] = {}
        for name, value in raw.items():
            field = fields.get(name)
            if field is None:
                if name in attached and isinstance(value, UploadedFile):
                    continue
                raise SpecError(name, f"unknown parameter {name}")
            params[name] = self._decode_param(field, value, raw)
        for field in fields.values():
            if field.required and field.name not in params:
                raise SpecError(field.name, f"parameter {field.name} is required")
        return params

    def _decode_param(self, field: Field, value: Any, raw: Mapping[str, Any]) -> Any:
        """Decode one parameter (JSON-in-a-string, attach:// references) and check it."""
        if isinstance(value, str) and "InputFile" in field.types and value.startswith("attach://"):
            target = raw.get(value.removeprefix("attach://"))
            if not isinstance(target, UploadedFile):
                raise SpecError(field.name, f"file {value} of parameter {field.name} not found")
            value = target
        elif isinstance(value, str) and field.types != ("String",):
            value = _decode_string(field, value, self)
        self.check(value, field.types, field.name)
        return value

    def check(self, value: Any, types: Sequence[str], path: str) -> None:
        """Raise SpecError unless `value` matches one of `types`."""
        errors: list[SpecError] = []
        for type_name in types:
            try:
                self._check_one(value, type_name, path)
            except SpecError as error:
                errors.append(error)
            else:
                return
        raise _best_error(errors, types, value, path)

    def _check_one(self, value: Any, type_name: str, path: str) -> None:
        """Raise SpecError unless `value` matches `type_name`."""
        if type_name.startswith(_ARRAY):
            self._check_array(value, type_name.removeprefix(_ARRAY), path)
        elif type_name in _SCALARS:
            if not _scalar_matches(value, type_name):
                message = f"field {path} must be of type {type_name}, not {json_type(value)}"
                raise SpecError(path, message, mismatch=True)
        elif type_name in self.subtypes:
            self._check_abstract(value, type_name, path)
        elif type_name in self.types:
            self._check_object(value, type_name, path)
        else:
            raise SpecError(path, f"type {type_name} of {path} is not in the specification")

    def _check_array(self, value: Any, item_type: str, path: str) -> None:
        """Check a JSON array element-wise."""
        if not isinstance(value, list):
            raise SpecError(path, f"field {path} must be of type Array", mismatch=True)
        for index, item in enumerate(value):
            self.check(item, (item_type,), f"{path}[{index}]")

    def _check_object(self, value: Any, type_name: str, path: str) -> None:
        """Check a JSON object against a concrete type: no unknown, no missing fields."""
        if not isinstance(value, dict):
            raise SpecError(path, f"field {path} must be of type {type_name}", mismatch=True)
        fields = self.types[type_name]
        for key in value:
            if key not in fields:
                raise SpecError(path, f"unknown field {key} in {path} ({type_name})")
        for field in fields.values():
            if field.name in value:
                self.check(value[field.name], field.types, f"{path}.{field.name}")
            elif field.required:
                raise SpecError(path, f"field {path}.{field.name} is required ({type_name})")

    def _check_abstract(self, value: Any, type_name: str, path: str) -> None:
        """Check an abstract type: the discriminator selects the subtypes to try."""
        candidates = [sub for sub in self.subtypes[type_name] if self._selects(sub, value)]
        if not candidates and isinstance(value, dict):
            raise SpecError(path, f"field {path} has an unsupported {type_name} type")
        if not candidates:
            message = f"field {path} must be of type {type_name}, not {json_type(value)}"
            raise SpecError(path, message, mismatch=True)
        self.check(value, candidates, path)

    def _selects(self, subtype: str, value: Any) -> bool:
        """Whether a value's discriminator field admits `subtype` (objects only)."""
        found = self.discriminators.get(subtype)
        if found is None:
            return True
        return isinstance(value, dict) and value.get(found[0]) == found[1]


def _scalar_matches(value: Any, type_name: str) -> bool:
    """Whether a decoded value is of a scalar spec type."""
    if type_name == "Integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "Float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_name == "Boolean":
        return isinstance(value, bool)
    if type_name == "True":
        return value is True
    if type_name == "String":
        return isinstance(value, str)
    return isinstance(value, UploadedFile)


def _decode_string(field: Field, value: str, spec: ApiSpec) -> Any:
    """Parse a form value as JSON when the field is not a plain string."""
    try:
        decoded = json.loads(value)
    except ValueError:
        if "String" in field.types:
            return value
        if "InputFile" in field.types:
            message = f"field {field.name} must be of type InputFile, not String"
            raise SpecError(field.name, message, mismatch=True) from None
        raise SpecError(field.name, f"can't parse parameter {field.name} as JSON") from None
    if "String" in field.types:
        try:
            spec.check(decoded, [t for t in field.types if t != "String"], field.name)
        except SpecError:
            return value
    return decoded


def _attached_names(values: Any) -> set[str]:
    """Names referenced as attach://<name> anywhere in the string values."""
    names: set[str] = set()
    for value in values:
        if isinstance(value, str):
            names.update(_ATTACH.findall(value))
    return names


def _best_error(errors: list[SpecError], types: Sequence[str], value: Any, path: str) -> SpecError:
    """The most informative of the errors raised for the alternatives of a union."""
    if len(errors) == 1:
        return errors[0]
    if all(error.mismatch and error.path == path for error in errors):
        expected = " or ".join(types)
        got = json_type(value)
        return SpecError(path, f"field {path} must be of type {expected}, not {got}", mismatch=True)
    return max(errors, key=lambda error: (error.depth, not error.mismatch))


@cache
def default_spec() -> ApiSpec:
    """The bundled specification, loaded once."""
    return ApiSpec.load()

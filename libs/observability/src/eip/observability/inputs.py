"""The constrained input types every service uses at its HTTP edge (path, query and JSON).

``Text`` is the one string type of a request: a string PostgreSQL cannot store (a NUL
character, or a lone UTF-16 surrogate, which JSON's ``\\ud800`` escapes can carry and UTF-8
cannot encode) is refused with 422 where it enters, instead of failing as a 500 deep in a
query. Every route's string inputs use it; a test walks every service's routes and fails on a
plain ``str``. Combine it with other constraints as usual:
``Annotated[Text, Query(max_length=40)]``, ``name: Annotated[Text, Field(min_length=1)]``.

``Instant`` is the one date-time type of a request: ISO 8601 with a UTC offset. pydantic alone
takes ``5908`` as seconds since 1970 and a time without an offset as local time; here both are
refused.
"""

from __future__ import annotations

import re
from datetime import datetime
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator

from eip.observability.http import served_routes

# A date, "T" or a space, a time: what ISO 8601 date-times look like (the rest is pydantic's).
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_SURROGATES = re.compile("[\ud800-\udfff]")


def storable(value: str) -> str:
    """``value`` if PostgreSQL can store it as text; ValueError (422) otherwise."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if _SURROGATES.search(value):
        raise ValueError("must be valid Unicode (no unpaired surrogates)")
    return value


def _iso_only(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATETIME.match(value):
        raise ValueError("must be an ISO 8601 date-time with an offset, e.g. 2024-01-31T12:00:00Z")
    return value


Text = Annotated[str, AfterValidator(storable)]
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_only)]

__all__ = ["Instant", "Text", "storable", "unchecked_inputs"]


def unchecked_inputs(app: FastAPI) -> list[str]:
    """``"METHODS path: where"`` of every string a route takes (path, query, header, cookie or
    JSON, nested included) that is a plain ``str`` rather than ``Text``."""
    found: list[str] = []
    for methods, path, dependant in served_routes(app):
        if dependant is None:
            continue
        fields = []
        for d in [dependant, *_sub_dependants(dependant)]:
            fields += [
                *d.path_params,
                *d.query_params,
                *d.header_params,
                *d.cookie_params,
                *d.body_params,
            ]
        for field in fields:
            info = field.field_info
            for where in _plain_strings(info.annotation, list(info.metadata), field.alias, set()):
                found.append(f"{methods} {path}: {where}")
    return sorted(set(found))


def _sub_dependants(dependant: Dependant) -> list[Dependant]:
    out = []
    for sub in dependant.dependencies:
        out.append(sub)
        out.extend(_sub_dependants(sub))
    return out


def _plain_strings(annotation: Any, metadata: list[Any], where: str, seen: set[type]) -> list[str]:
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *more = get_args(annotation)
        return _plain_strings(base, [*metadata, *more], where, seen)
    if annotation is str:
        checked = any(getattr(m, "func", None) is storable for m in metadata)
        return [] if checked else [where]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return []
        seen.add(annotation)
        out: list[str] = []
        for name, info in annotation.model_fields.items():
            out += _plain_strings(info.annotation, list(info.metadata), f"{where}.{name}", seen)
        return out
    if origin is Literal:
        return []
    # unions carry the field's constraints to each member; containers do not
    inherited = metadata if origin in (Union, UnionType) else []
    out = []
    for arg in get_args(annotation):
        out += _plain_strings(arg, inherited, where, seen)
    return out

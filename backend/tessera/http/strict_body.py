"""A JSON body decoded strictly into the type its route declares.

Litestar converts a route's arguments leniently, as it must for text from the query string
and headers: ``"true"`` would become a boolean, ``"7"`` a number and ``2026`` a time. A JSON body
has types of its own, so it is decoded here into the route's ``data`` type with no coercion
and no unknown fields (every request struct forbids them); the route receives the value as
decoded (Litestar passes an instance of the declared type through unchanged).

One reading is wider than msgspec's: JSON has one number type, and JSON Schema counts ``4496.0``
as an integer, so a number with no fraction is taken where an integer is declared (the body is
read again with such numbers written as integers; only after the strict decoder refused one).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import msgspec
from litestar.exceptions import ValidationException
from litestar.handlers import HTTPRouteHandler

_LOCATION = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_INTEGRAL_FLOAT = ("Expected `int`, got `float`", "Expected `int | null`, got `float`")


@cache
def _decoder(annotation: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(annotation, strict=True)


def body_type(handler: HTTPRouteHandler) -> Any:
    """The type the route's body is declared as, or ``Any`` for a route without one."""
    data = handler.parsed_fn_signature.parameters.get("data")
    return Any if data is None else data.annotation


def decode_strictly(body: bytes, annotation: Any) -> Any:
    """``body`` as ``annotation``; a ``ValidationException`` naming the field otherwise."""
    try:
        return _decoder(annotation).decode(body)
    except msgspec.ValidationError as error:
        if str(error).startswith(_INTEGRAL_FLOAT):
            rewritten = msgspec.json.encode(_integral_floats_as_ints(msgspec.json.decode(body)))
            try:
                return _decoder(annotation).decode(rewritten)
            except msgspec.ValidationError as still:
                error = still
        raise ValidationException("Validation failed", extra=[_entry(str(error))]) from error
    except msgspec.DecodeError as error:
        raise ValidationException("The body is not valid JSON", extra=[_entry(str(error))]) from error


def _entry(message: str) -> dict[str, str]:
    """msgspec's message as a validation-error entry: ``Expected `int`, got `str` - at `$.a[0].b``` names
    field ``a[0].b``; an error of the whole body names no field."""
    found = _LOCATION.search(message)
    key = found["path"].lstrip(".") if found else ""
    text = message[: found.start()] if found else message
    return {"message": text, "key": key, "source": "body"}


def _integral_floats_as_ints(value: Any) -> Any:
    """``value`` with every float that has no fraction (``4496.0``) as an int; a fraction, an
    infinity or a NaN stays a float, which the strict decoder then refuses for an integer."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, list):
        return [_integral_floats_as_ints(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral_floats_as_ints(item) for key, item in value.items()}
    return value

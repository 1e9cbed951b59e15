"""Query parameters a route does not declare are refused, one value is one value, and times
are never numbers.

Litestar ignores query parameters a route does not take: ``?status=running`` on a route
without that filter would answer as if unfiltered, and a caller would not learn of the typo.
It also reads a time leniently (``until=2026`` as Unix seconds), and a parameter that takes one
value given twice (``?endpoint=a&endpoint=b``) as one of them. The one check here runs before
every route, against the parameters the route and its dependencies declare, which the app
records on each route when it is built (:func:`record_query_parameters`). Routes outside the
document (the PWAs' files, which links reach with tracking parameters) are not checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Any, get_args, get_origin

import msgspec
from litestar import Litestar, Request
from litestar.exceptions import ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

_DECLARED = "query_parameters"  # the key of a route's ``opt``: its names, and the time-typed ones
_TIMES = (datetime, date, time)
_TIME_EXPECTED = "Expected an RFC 3339 time such as 2026-06-01T00:00:00Z"


class DeclaredQuery(msgspec.Struct, frozen=True):
    names: frozenset[str]
    single: frozenset[str]  # those that take one value (not a list)
    times: dict[str, Any]
    open: bool  # the route reads the whole query itself


def record_query_parameters(app: Litestar) -> None:
    """Note on every route the query parameters it declares, once, when the app is built."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler, kwargs_model in route.route_handler_map.values():
            expected = {
                parameter.field_alias: parameter.field_name
                for parameter in kwargs_model.expected_query_params
            }
            annotations = _annotations(handler)
            times = {
                alias: annotations[name]
                for alias, name in expected.items()
                if name in annotations and _is_time(annotations[name])
            }
            single = frozenset(
                alias
                for alias, name in expected.items()
                if name in annotations and not _takes_many(annotations[name])
            )
            handler.opt[_DECLARED] = DeclaredQuery(
                frozenset(expected), single, times, "query" in kwargs_model.expected_reserved_kwargs
            )


async def refuse_undeclared_query(request: Request[Any, Any, Any]) -> None:
    """Refuse, with 400 naming them, query parameters the route does not declare, one-value
    parameters given more than once, and times given as anything but RFC 3339 text."""
    if not request.scope["query_string"]:
        return
    declared: DeclaredQuery | None = request.route_handler.opt.get(_DECLARED)
    if declared is None or declared.open:
        return
    errors = [
        {"message": "Unknown query parameter", "key": name, "source": "query"}
        for name in request.query_params
        if name not in declared.names
    ]
    errors.extend(
        {"message": "Given more than once; this parameter takes one value", "key": name, "source": "query"}
        for name in declared.single
        if len(request.query_params.getall(name, [])) > 1
    )
    for name, annotation in declared.times.items():
        for value in request.query_params.getall(name, []):
            try:
                msgspec.convert(value, annotation, strict=True)
            except msgspec.ValidationError:
                errors.append({"message": _TIME_EXPECTED, "key": name, "source": "query"})
    if errors:
        raise ValidationException("The query is not valid", extra=errors)


def _annotations(handler: HTTPRouteHandler) -> dict[str, Any]:
    """The declared types of the route's parameters and of its dependencies' parameters."""
    found: dict[str, Any] = {}
    dependencies = handler.resolve_dependencies()
    for model in (handler.signature_model, *(provide.signature_model for provide in dependencies.values())):
        found.update(model.__annotations__ if hasattr(model, "__annotations__") else {})
    return found


def _is_time(annotation: Any) -> bool:
    return annotation in _TIMES or any(_is_time(argument) for argument in get_args(annotation))


def _takes_many(annotation: Any) -> bool:
    """Whether a parameter of this type takes several values (a list of them, or optional)."""
    origin = get_origin(annotation)
    if isinstance(origin, type) and issubclass(origin, Sequence) and origin is not str:
        return True
    return any(_takes_many(argument) for argument in get_args(annotation) if argument is not type(None))

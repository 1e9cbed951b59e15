"""The OpenAPI document says exactly what the server does.

Litestar builds the document from the routes; a few things it cannot know are completed here,
each from the code that decides it, so the document cannot drift from the server:

- security: from each route's guards (a role guard is the ``bearer`` scheme naming its roles,
  the Apple pass web service's pass token is the ``ApplePass`` scheme, no guard is public);
- request bodies: ``additionalProperties: false`` for every struct that forbids unknown fields;
  no text holding U+0000 (``tessera.http.helpers`` refuses it: PostgreSQL cannot store it), as a
  pattern on every string and key that has none; the constraints Litestar drops (those of list
  items: ``tags: list[Tag]`` lost ``Tag``'s bounds; a bound of 0), from msgspec's JSON Schema;
- integer bounds as integers (Litestar stores them as floats: 2**63 - 1 became 9.2e18);
- ``int | float`` as one ``number`` option of a ``oneOf`` (a whole number matched both);
- query parameters: refused when undeclared (``tessera.http.query_parameters``), which is said;
- descriptions and examples (``tessera.http.openapi_examples``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import Components, OpenAPI, Operation, Reference, Schema, SecurityScheme
from litestar.params import HeaderParameter
from litestar.routes import HTTPRoute

from tessera.core.schemas import MAX_BIGINT, MAX_INT
from tessera.http.guards import RoleGuard
from tessera.http.openapi_examples import describe_examples

BEARER = "bearer"
APPLE_PASS = "ApplePass"  # noqa: S105 (a scheme's name)
SECURITY_SCHEMES = {
    BEARER: SecurityScheme(
        type="http",
        scheme="bearer",
        description=(
            "A marketer API key, a staff token (POST /api/auth/staff/login) or a customer token "
            "(POST /api/customers, POST /api/auth/customer/login). An operation's requirement "
            "names the roles it accepts."
        ),
    ),
    APPLE_PASS: SecurityScheme(
        type="apiKey",
        name="Authorization",
        security_scheme_in="header",
        description=(
            "Apple Wallet's pass web service: `Authorization: ApplePass <authenticationToken>`, "
            "the token written into the pass."
        ),
    ),
}
# Bounds too large for a float to hold exactly; a float bound is mapped back to its integer.
_EXACT_BOUNDS = {float(bound): bound for bound in (MAX_BIGINT, -MAX_BIGINT - 1, MAX_INT)}
# Text a JSON body may hold: anything but U+0000 (an escape, so that every regex dialect reads it).
NO_NUL = r"^[^\u0000]*$"
_QUERY_RULE = " Query parameters other than the ones listed here are refused with 400."
_BODY_RULE = (
    " The JSON body is read strictly: no field the schema does not list, no text for a number "
    "or a boolean, no number for a time; it may nest at most 32 levels."
)


class ContractDocument(OpenAPIPlugin):
    """Litestar's document, completed by :func:`complete` each time it is built."""

    __slots__ = ()

    def _build_openapi(self) -> OpenAPI:
        return complete(self.app, super()._build_openapi())

    def provide_openapi_schema(self) -> dict[str, Any]:
        if not self._openapi_schema:
            document = self.provide_openapi().to_schema()
            describe_examples(document)
            self._openapi_schema = document
        return self._openapi_schema


def install(app: Litestar) -> None:
    """Make ``app``'s document the completed one (it is built lazily, on its first request)."""
    app.plugins.get(OpenAPIPlugin).__class__ = ContractDocument


def complete(app: Litestar, document: OpenAPI) -> OpenAPI:
    components = document.components if isinstance(document.components, Components) else Components()
    components.security_schemes = {**(components.security_schemes or {}), **SECURITY_SCHEMES}
    document.components = components
    document.security = None  # every operation states its own
    schemas = components.schemas or {}
    closed = _closed_struct_names(app)
    constraints = _msgspec_constraints(app)
    for handler, operation in _operations(app, document):
        operation.security = security_of(handler)
        operation.description = _description(handler, operation)
        for parameter in operation.parameters or []:
            if not isinstance(parameter, Reference) and parameter.param_in == "query":
                parameter.description = _query_description(parameter.description, parameter.schema)
        body = operation.request_body
        if body is not None and not isinstance(body, Reference):
            for media in body.content.values():
                _close(media.schema, schemas, closed, set())
                _complete_constraints(media.schema, schemas, constraints, set())
                _no_nul(media.schema, schemas, set())
    for schema in _every_schema(document):
        _integer_bounds(schema)
        _one_number_type(schema)
    return document


def security_of(handler: HTTPRouteHandler) -> list[dict[str, list[str]]]:
    """The OpenAPI security requirement the route's guards amount to."""
    guards = [guard for guard in handler.resolve_guards() if isinstance(guard, RoleGuard)]
    roles: list[str] = sorted({role for guard in guards for role in guard.permitted})
    if roles:
        return [{BEARER: roles}]
    if _reads_authorization(handler):
        return [{APPLE_PASS: []}]
    return []


def _reads_authorization(handler: HTTPRouteHandler) -> bool:
    """Whether the route checks the ``Authorization`` header itself: the routes of Apple's pass
    web service, whose token belongs to the pass named in the path, not to a role."""
    return any(
        isinstance(parameter.kwarg_definition, HeaderParameter)
        and (parameter.kwarg_definition.name or "").lower() == "authorization"
        for parameter in handler.parsed_fn_signature.parameters.values()
    )


def _description(handler: HTTPRouteHandler, operation: Operation) -> str:
    own = (operation.description or "").strip()
    requirement = security_of(handler)
    if not requirement:
        who = "Public: no credential is needed."
    elif APPLE_PASS in requirement[0]:
        who = "Called by Apple Wallet with the pass's token (`Authorization: ApplePass <token>`)."
    else:
        who = f"Bearer token of: {', '.join(requirement[0][BEARER])}."
    rules = ""
    if any(not isinstance(p, Reference) and p.param_in == "query" for p in operation.parameters or []):
        rules += _QUERY_RULE
    else:
        rules += " It takes no query parameters (any is refused with 400)."
    if operation.request_body is not None:
        rules += _BODY_RULE
    return "\n\n".join(part for part in (own, who + rules) if part)


def _query_description(description: str | None, schema: Schema | Reference | None) -> str:
    text = (description or "").rstrip(".")
    if isinstance(schema, Schema) and _is_integer(schema):
        note = "Decimal digits (query text is read as an integer; nothing else is coerced)"
        return f"{text}. {note}" if text else note
    return text


def _is_integer(schema: Schema) -> bool:
    kinds = [schema.type] if not isinstance(schema.type, list | tuple) else list(schema.type)
    kinds += [option.type for option in schema.one_of or [] if isinstance(option, Schema)]
    return any(str(kind) in ("integer", "OpenAPIType.INTEGER") for kind in kinds if kind is not None)


def _closed_struct_names(app: Litestar) -> set[str]:
    """Names of the structs that request bodies decode into and that forbid unknown fields."""
    names: set[str] = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler, _ in route.route_handler_map.values():
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is not None:
                names |= _forbidding(msgspec.inspect.type_info(data.annotation))
    return names


def _forbidding(info: msgspec.inspect.Type, seen: set[int] | None = None) -> set[str]:
    seen = set() if seen is None else seen
    if id(info) in seen:
        return set()
    seen.add(id(info))
    found: set[str] = set()
    if isinstance(info, msgspec.inspect.StructType):
        if info.forbid_unknown_fields:
            found.add(info.cls.__name__)
        for field in info.fields:
            found |= _forbidding(field.type, seen)
    for name in ("type", "item_type", "key_type", "value_type"):
        if isinstance(inner := getattr(info, name, None), msgspec.inspect.Type):
            found |= _forbidding(inner, seen)
    for inner in getattr(info, "types", ()) or getattr(info, "item_types", ()):
        found |= _forbidding(inner, seen)
    return found


def _close(
    schema: Schema | Reference | None, schemas: dict[str, Schema], closed: set[str], seen: set[str]
) -> None:
    """Say ``additionalProperties: false`` on the objects of a body that refuse unknown fields."""
    if isinstance(schema, Reference):
        name = schema.ref.rsplit("/", 1)[-1]
        if name in seen or name not in schemas:
            return
        seen.add(name)
        if name.rsplit("_", 1)[-1] in closed and schemas[name].properties is not None:
            schemas[name].additional_properties = False
        _close(schemas[name], schemas, closed, seen)
        return
    if schema is None:
        return
    for inner in _children(schema):
        _close(inner, schemas, closed, seen)


def _body_structs(app: Litestar) -> list[type[msgspec.Struct]]:
    structs: list[type[msgspec.Struct]] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler, _ in route.route_handler_map.values():
            data = handler.parsed_fn_signature.parameters.get("data")
            if (
                data is not None
                and isinstance(data.annotation, type)
                and issubclass(data.annotation, msgspec.Struct)
            ):
                structs.append(data.annotation)
    return structs


def _msgspec_constraints(app: Litestar) -> dict[str, dict[str, dict[str, Any]]]:
    """By struct name, by field: the constraints msgspec's JSON Schema gives the field (under
    ``""``) and the items of a list field (under ``"items"``), when they are no reference."""
    _, components = msgspec.json.schema_components(_body_structs(app))
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for name, component in components.items():
        for field, schema in (component.get("properties") or {}).items():
            for option in [schema, *schema.get("anyOf", ())]:
                if option.get("type") == "null" or "$ref" in option:
                    continue
                own = {key: value for key, value in option.items() if key in _KEYWORDS or key == _KEYS}
                if own:
                    found.setdefault(f"{name}.{field}", {})[""] = own
                item = option.get("items") if option.get("type") == "array" else None
                if isinstance(item, dict) and "$ref" not in item:
                    inner = {key: value for key, value in item.items() if key in _KEYWORDS}
                    if inner:
                        found.setdefault(f"{name}.{field}", {})["items"] = inner
    return found


def _complete_constraints(
    schema: Schema | Reference | None,
    schemas: dict[str, Schema],
    constraints: dict[str, dict[str, dict[str, Any]]],
    seen: set[str],
) -> None:
    """Give the body's fields, and the items of its list fields, the constraints of the struct's
    own types that Litestar left out (bounds inside lists, a bound of 0)."""
    if isinstance(schema, Reference):
        name = schema.ref.rsplit("/", 1)[-1]
        if name in seen or name not in schemas:
            return
        seen.add(name)
        component = schemas[name]
        struct = name.rsplit("_", 1)[-1]
        for field, prop in (component.properties or {}).items():
            found = constraints.get(f"{struct}.{field}", {})
            if isinstance(prop, Schema) and found:
                _constrain(prop, found.get("", {}))
                for option in [prop, *(prop.one_of or ())]:
                    if isinstance(option, Schema) and isinstance(option.items, Schema):
                        _constrain(option.items, found.get("items", {}))
        _complete_constraints(component, schemas, constraints, seen)
        return
    if schema is None:
        return
    for inner in _children(schema):
        _complete_constraints(inner, schemas, constraints, seen)


_KEYWORDS = {
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusiveMinimum": "exclusive_minimum",
    "exclusiveMaximum": "exclusive_maximum",
    "minItems": "min_items",
    "maxItems": "max_items",
}


_KEYS = "propertyNames"  # a dict's key type (``dict[Language, Texts]``)


def _constrain(schema: Schema, constraints: dict[str, Any]) -> None:
    for keyword, value in constraints.items():
        if keyword == _KEYS:
            if schema.property_names is None and isinstance(value, dict):
                keys = Schema()
                _constrain(keys, {key: inner for key, inner in value.items() if key in _KEYWORDS})
                schema.property_names = keys
        elif getattr(schema, _KEYWORDS[keyword]) is None:
            setattr(schema, _KEYWORDS[keyword], value)


def _no_nul(schema: Schema | Reference | None, schemas: dict[str, Schema], seen: set[str]) -> None:
    """Say that no text of a body holds U+0000: a pattern on every string and every open
    object's keys that have none (the patterns there exclude it already, or must)."""
    if isinstance(schema, Reference):
        name = schema.ref.rsplit("/", 1)[-1]
        if name not in seen and name in schemas:
            seen.add(name)
            _no_nul(schemas[name], schemas, seen)
        return
    if schema is None:
        return
    if _is_free_text(schema):
        schema.pattern = NO_NUL
    is_open = schema.additional_properties is not False
    if (
        is_open
        and schema.property_names is None
        and (schema.properties is not None or schema.additional_properties)
    ):
        schema.property_names = Schema(pattern=NO_NUL)
    for inner in _children(schema):
        _no_nul(inner, schemas, seen)


def _is_free_text(schema: Schema) -> bool:
    """A string schema with no pattern, enumeration or format of its own."""
    kinds = list(schema.type) if isinstance(schema.type, list | tuple) else [schema.type]
    kinds += [option.type for option in schema.one_of or () if isinstance(option, Schema)]
    is_text = any(str(kind) in ("string", "OpenAPIType.STRING") for kind in kinds)
    return (
        is_text and schema.pattern is None and not schema.enum and schema.const is None and not schema.format
    )


def _children(schema: Schema) -> Iterator[Schema | Reference]:
    yield from (schema.properties or {}).values()
    yield from schema.one_of or ()
    yield from schema.any_of or ()
    yield from schema.all_of or ()
    yield from schema.prefix_items or ()
    if schema.items is not None:
        yield schema.items
    if isinstance(schema.additional_properties, Schema | Reference):
        yield schema.additional_properties


def _every_schema(document: OpenAPI) -> Iterator[Schema]:
    pending: list[Any] = list(((document.components.schemas if document.components else None) or {}).values())
    for path in (document.paths or {}).values():
        for operation in _path_operations(path):
            for parameter in operation.parameters or []:
                if not isinstance(parameter, Reference):
                    pending.append(parameter.schema)
            if operation.request_body is not None and not isinstance(operation.request_body, Reference):
                pending += [media.schema for media in operation.request_body.content.values()]
            for response in (operation.responses or {}).values():
                if not isinstance(response, Reference):
                    pending += [media.schema for media in (response.content or {}).values()]
    while pending:
        schema = pending.pop()
        if isinstance(schema, Schema):
            yield schema
            pending.extend(_children(schema))


def _integer_bounds(schema: Schema) -> None:
    for name in ("maximum", "minimum", "exclusive_maximum", "exclusive_minimum"):
        value = getattr(schema, name)
        if isinstance(value, float) and value.is_integer():
            setattr(schema, name, _EXACT_BOUNDS.get(value, int(value)))


def _one_number_type(schema: Schema) -> None:
    """``int | float`` became ``oneOf: [integer, number]``, which no whole number satisfies (it
    is both): keep ``number``, which holds every integer."""
    options = schema.one_of or []
    kinds = {str(option.type) for option in options if isinstance(option, Schema)}
    if kinds & {"integer", "OpenAPIType.INTEGER"} and kinds & {"number", "OpenAPIType.NUMBER"}:
        schema.one_of = [
            option
            for option in options
            if not (isinstance(option, Schema) and str(option.type) in ("integer", "OpenAPIType.INTEGER"))
        ]


def _path_operations(path: Any) -> Iterator[Operation]:
    for method in ("get", "put", "post", "delete", "options", "head", "patch", "trace"):
        if isinstance(operation := getattr(path, method, None), Operation):
            yield operation


def _operations(app: Litestar, document: OpenAPI) -> Iterator[tuple[HTTPRouteHandler, Operation]]:
    for route in app.routes:
        if (
            not isinstance(route, HTTPRoute)
            or (path := (document.paths or {}).get(route.path_format)) is None
        ):
            continue
        for method, (handler, _) in route.route_handler_map.items():
            if isinstance(operation := getattr(path, method.lower(), None), Operation):
                yield handler, operation

"""A route served without FastAPI's per-request dependency solving, for hot read routes.

FastAPI resolves a route's parameters on every request: each query parameter is looked up,
introspected (is it a sequence? a model? JSON?) and validated on its own, and each dependency is
solved the same way. For ``GET /events`` (15 query parameters and the key check) that was about a
third of the API's own time per search (docs/deploy.md, "Serving the API"). :class:`LeanRoute`
keeps the endpoint's signature as FastAPI reads it (so the OpenAPI document, its security scheme
and the parameter docs do not change) and serves it with a handler planned once:

- the key check of :func:`api.deps.require` (401, 403, 429 as before), first, as FastAPI does;
- all query parameters validated at once by one pydantic model built from the same annotations and
  constraints; errors answer 422 with the same bodies (``loc`` ``["query", name, ...]``);
- the endpoint awaited on the loop; it answers a :class:`~starlette.responses.Response` itself.

An app with ``dependency_overrides`` set is served by FastAPI's own handler.

It serves an ``async`` endpoint whose parameters are the :class:`~starlette.requests.Request`,
one key check and query parameters; any other route is refused (TypeError) when its handler is
built: when it is declared, and for a router included with more dependencies, on the app's first use.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Request, Response
from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo
from starlette.datastructures import QueryParams

from api.deps import API_KEY_HEADER, ROLE_OF_CHECK, authenticate
from api.keys import Role

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


@dataclass(frozen=True, slots=True)
class QueryParam:
    """One query parameter: its name in the endpoint, in the URL, and whether it repeats (a list)."""

    name: str
    alias: str
    repeated: bool


@dataclass(frozen=True, slots=True)
class QueryModel:
    """The route's query parameters as one pydantic model, validated once per request."""

    params: tuple[QueryParam, ...]
    model: type[BaseModel]

    def parse(self, query: QueryParams) -> dict[str, Any]:
        """Endpoint keyword arguments from ``query`` (absent = the default, as FastAPI); a bad value
        raises :class:`RequestValidationError` naming every bad parameter, as FastAPI's does."""
        raw: dict[str, Any] = {}
        for p in self.params:
            if p.repeated:
                values = query.getlist(p.alias)
                if values:
                    raw[p.alias] = values
            else:
                value = query.get(p.alias)  # the last of repeated values, as FastAPI
                if value is not None:
                    raw[p.alias] = value
        try:
            parsed = self.model.model_validate(raw)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in errors]) from None
        values_of = parsed.__dict__
        return {p.name: values_of[p.alias] for p in self.params}


def query_model(name: str, dependant: Dependant) -> QueryModel:
    """One model of ``dependant``'s query parameters, with their annotations and constraints."""
    params: list[QueryParam] = []
    fields: dict[str, Any] = {}
    for field in dependant.query_params:
        info = field.field_info
        if not field.alias.isidentifier() or field.alias.startswith("_"):
            raise TypeError(f"{name}: query parameter alias {field.alias!r} is not a model field name")
        # As FastAPI's per-parameter TypeAdapter: the annotation, its metadata (constraints) and
        # the other attributes; the default applies when the parameter is absent.
        attributes = {
            k: v
            for k, v in _attributes(info).items()
            if k not in ("alias", "validation_alias", "default", "default_factory")
        }
        annotated = Annotated[(info.annotation, *info.metadata, Field(**attributes))]  # type: ignore[valid-type]
        fields[field.alias] = (annotated, info.default if not info.is_required() else ...)
        params.append(QueryParam(field.name, field.alias, _repeated(info)))
    model = create_model(  # type: ignore[call-overload]
        f"{name}_query",
        # Unknown parameters are ignored, as FastAPI does (clients add cache busters and the like).
        __config__=ConfigDict(extra="ignore"),
        **fields,
    )
    return QueryModel(tuple(params), model)


def _attributes(info: FieldInfo) -> dict[str, Any]:
    """The FieldInfo's set attributes other than annotation and metadata (as fastapi._compat.v2.asdict)."""
    from fastapi._compat.v2 import asdict

    attributes: dict[str, Any] = asdict(info)["attributes"]
    return attributes


def _repeated(info: FieldInfo) -> bool:
    from fastapi._compat import field_annotation_is_sequence

    return bool(field_annotation_is_sequence(info.annotation))


def key_check(name: str, dependant: Dependant) -> tuple[str, Role]:
    """The endpoint's parameter that takes the key, and the role it asks (TypeError when the route
    has other dependencies than one key check)."""
    deps = dependant.dependencies
    if len(deps) != 1 or deps[0].call not in ROLE_OF_CHECK or deps[0].name is None:
        raise TypeError(f"{name}: a lean route takes exactly one key check (api.deps.reader or admin)")
    return deps[0].name, ROLE_OF_CHECK[deps[0].call]


def _effective_dependant(route: APIRoute) -> Dependant:
    """The route's dependant as included (with an including router's dependencies), as FastAPI's own
    ``get_route_handler`` reads it: a router included with ``dependencies=`` is then refused."""
    context_var = getattr(fastapi_routing, "_effective_route_context_var", None)
    context = context_var.get() if context_var is not None else None
    if context is not None and context.original_route is route:
        included: Dependant = context.dependant
        return included
    return route.dependant


class LeanRoute(APIRoute):
    """An :class:`APIRoute` whose handler is planned once (see the module docstring)."""

    def get_route_handler(self) -> Handler:
        """The lean handler; the route's shape is checked here, when the route is declared."""
        name = self.name
        dependant = _effective_dependant(self)
        if not inspect.iscoroutinefunction(self.endpoint):
            raise TypeError(f"{name}: a lean route's endpoint is async")
        unsupported = [
            kind
            for kind in ("path_params", "header_params", "cookie_params", "body_params")
            if getattr(dependant, kind)
        ]
        other = [
            attr
            for attr in ("websocket_param_name", "http_connection_param_name", "response_param_name")
            if getattr(dependant, attr)
        ]
        if unsupported or other or dependant.background_tasks_param_name or dependant.request_param_name is None:
            raise TypeError(
                f"{name}: a lean route takes the Request, one key check and query parameters, not {unsupported + other}"
            )
        key_param, role = key_check(name, dependant)
        request_param = dependant.request_param_name
        query = query_model(name, dependant)
        endpoint = self.endpoint
        # FastAPI's own handler, for an app whose dependency_overrides are set (tests that replace
        # the key check keep working); the lean one never reads them.
        fastapi_handler = super().get_route_handler()
        overrides = self.dependency_overrides_provider

        async def handler(request: Request) -> Response:
            if overrides is not None and getattr(overrides, "dependency_overrides", None):
                return await fastapi_handler(request)
            key = await authenticate(request, request.headers.get(API_KEY_HEADER), role)
            kwargs = query.parse(request.query_params)
            kwargs[request_param] = request
            kwargs[key_param] = key
            response = await endpoint(**kwargs)
            if not isinstance(response, Response):
                raise TypeError(f"{name}: a lean route's endpoint answers a Response, got {type(response).__name__}")
            return response

        return handler

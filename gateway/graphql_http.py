"""The GraphQL-over-HTTP rules that do not depend on the GraphQL engine.

Which media type a client accepts, how a request's parameters are read from a GET query string or
a POST body, which answers are malformed requests (and with which status), and what status a
GraphQL result gets. Kept free of Strawberry and Starlette so that a pure-ASGI layer in front of
the GraphQL view (the response cache) can read a request exactly the way the view does.

Spec: https://graphql.github.io/graphql-over-http/draft/ (the `graphql-http` audit suite checks it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from models.error_codes import GraphQLErrorCode

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"
# The one request body type the spec requires; GET carries the parameters in the query string.
_REQUEST_MEDIA_TYPE = "application/json"
# File uploads (the GraphQL multipart request spec, https://github.com/jaydenseric/graphql-multipart-request-spec):
# mutations only, from signed-in staff (gateway/graphql_view.py checks both).
MULTIPART_FORM_DATA = "multipart/form-data"
_ACCEPT_POST = f"{_REQUEST_MEDIA_TYPE}, {MULTIPART_FORM_DATA}"
# JSON's escape of a UTF-16 surrogate (U+D800-U+DFFF): paired, it is one character; alone, it
# decodes to a string no UTF-8 text can hold (the database driver raises on it). Only a request
# that has such an escape is searched for a lone one.
_SURROGATE_ESCAPE = r"\\u[dD][89a-fA-F]"
_SURROGATE_ESCAPE_IN_BYTES = re.compile(_SURROGATE_ESCAPE.encode())
_SURROGATE_ESCAPE_IN_TEXT = re.compile(_SURROGATE_ESCAPE)


class RequestError(Exception):
    """A request the gateway answers without executing anything.

    `status` is the status under `application/graphql-response+json`; `legacy_status` the one
    under `application/json`, where the spec wants 200 for a well-formed request whose GraphQL
    request failed (clients of that era look at the body, not the status) but still 4xx for a
    request that is not well-formed GraphQL-over-HTTP at all.
    """

    def __init__(
        self,
        status: int,
        message: str,
        code: GraphQLErrorCode = GraphQLErrorCode.BAD_REQUEST,
        *,
        legacy_status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.legacy_status = status if legacy_status is None else legacy_status
        self.message = message
        self.code = code
        self.headers = dict(headers or {})

    def status_for(self, media_type: str) -> int:
        return self.status if media_type == GRAPHQL_RESPONSE_JSON else self.legacy_status

    def body(self) -> dict[str, Any]:
        return {"errors": [{"message": self.message, "extensions": {"code": self.code}}]}


@dataclass(frozen=True)
class GraphQLParams:
    """The four parameters of a GraphQL-over-HTTP request, type-checked."""

    query: str | None
    operation_name: str | None = None
    variables: dict[str, Any] | None = None
    extensions: dict[str, Any] | None = None


# --- Accept ---------------------------------------------------------------------------------


def negotiate(accept: str | None) -> str | None:
    """The response media type for an `Accept` header, or None when we can offer none (406).

    No header means `application/json` (spec: clients of before the watershed send none).
    `application/graphql-response+json` is chosen only when named explicitly with at least the
    quality of `application/json`; wildcards stand for `application/json`, which every client
    understands (`*/*` must give `application/json`, audit 47DE).
    """
    if accept is None or not accept.strip():
        return APPLICATION_JSON
    graphql_q = json_q = 0.0
    for media_range, quality in _media_ranges(accept):
        if media_range == GRAPHQL_RESPONSE_JSON:
            graphql_q = max(graphql_q, quality)
        elif media_range in (APPLICATION_JSON, "application/*", "*/*"):
            json_q = max(json_q, quality)
    if graphql_q > 0 and graphql_q >= json_q:
        return GRAPHQL_RESPONSE_JSON
    if json_q > 0:
        return APPLICATION_JSON
    return None


def accepts_html(accept: str | None) -> bool:
    """A browser asking for a page (GraphiQL), as opposed to a client asking for JSON."""
    return accept is not None and any(r == "text/html" and q > 0 for r, q in _media_ranges(accept))


def _media_ranges(accept: str) -> Iterable[tuple[str, float]]:
    for part in accept.split(","):
        media_range, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        usable = bool(media_range)
        for param in params:
            name, _, value = param.partition("=")
            name, value = name.strip().lower(), value.strip().strip('"')
            if name == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
            elif name == "charset" and value.lower() not in ("utf-8", "utf8"):
                usable = False  # we only ever answer in UTF-8
        if usable:
            yield media_range.lower(), quality


# --- Request parameters ---------------------------------------------------------------------


def params_from_query_string(params: Mapping[str, str]) -> GraphQLParams:
    """GET: `query` and `operationName` as text, `variables` and `extensions` as JSON text.

    An empty value counts as absent (an HTML form sends every field, filled or not).
    """
    return _checked(
        query=params.get("query") or None,
        operation_name=params.get("operationName") or None,
        variables=_json_param(params, "variables"),
        extensions=_json_param(params, "extensions"),
    )


def params_from_body(content_type: str | None, body: bytes) -> GraphQLParams:
    """POST: a JSON object body with `query`, `operationName`, `variables` and `extensions`."""
    media_type, charset = _content_type(content_type)
    if media_type is None:
        raise RequestError(
            415,
            "A POST request needs a `Content-Type: application/json` header.",
            headers={"Accept-Post": _ACCEPT_POST},
        )
    if media_type != _REQUEST_MEDIA_TYPE:
        raise RequestError(
            415,
            f"Unsupported request content type {media_type!r}: send application/json "
            "(or multipart/form-data for a mutation that uploads files).",
            headers={"Accept-Post": _ACCEPT_POST},
        )
    if charset not in (None, "utf-8", "utf8"):
        raise RequestError(
            415, f"Unsupported request charset {charset!r}: send UTF-8.", headers={"Accept-Post": _ACCEPT_POST}
        )
    if not body.strip():
        raise RequestError(400, "The request body is empty: send a JSON object with a `query`.")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError too
        raise RequestError(400, "The request body is not valid JSON.") from None
    if _SURROGATE_ESCAPE_IN_BYTES.search(body) and _holds_lone_surrogate(data):
        raise RequestError(400, "The request body is not valid Unicode: it escapes a lone UTF-16 surrogate.")
    if isinstance(data, list):
        raise RequestError(400, "Batched requests are not supported: send one operation per request.")
    if not isinstance(data, dict):
        raise RequestError(400, "The request body must be a JSON object with a `query`.")
    return _checked(
        query=data.get("query"),
        operation_name=data.get("operationName"),
        variables=data.get("variables"),
        extensions=data.get("extensions"),
    )


def is_multipart(content_type: str | None) -> bool:
    """Whether a POST body is a multipart form: the multipart request spec's file uploads."""
    return _content_type(content_type)[0] == MULTIPART_FORM_DATA


def params_from_multipart(operations: Any, files_map: Any, files: Mapping[str, Any]) -> GraphQLParams:
    """A multipart upload: the `operations` field (the JSON request, each file a `null` in its
    variables), the `map` field (`{"0": ["variables.file"]}`: which part goes where) and the file
    parts by name, put together into one request whose variables hold the files.

    Only the variables take files (a path outside `variables.` could plant an object anywhere in
    the request), each path must name a `null` there, and every mapped part must be a file.
    """
    if not isinstance(operations, str) or not isinstance(files_map, str):
        raise RequestError(400, "A multipart request needs the `operations` and `map` fields, in that order, first.")
    request = _json_field(operations, "operations")
    if isinstance(request, list):
        raise RequestError(400, "Batched requests are not supported: send one operation per request.")
    if not isinstance(request, dict):
        raise RequestError(400, "The `operations` field must be a JSON object with a `query`.")
    mapping = _json_field(files_map, "map")
    if not isinstance(mapping, dict):
        raise RequestError(400, "The `map` field must be a JSON object of file field names to lists of paths.")
    variables = request.get("variables")
    if not isinstance(variables, dict):
        raise RequestError(400, "The `operations` field's `variables` must be an object holding a null per file.")
    for name, paths in mapping.items():
        if name not in files:
            raise RequestError(400, f"The `map` names the file field {name!r}, which the request does not carry.")
        if not isinstance(paths, list) or not paths or not all(isinstance(path, str) for path in paths):
            raise RequestError(
                400, f"The `map` entry {name!r} must be a non-empty list of paths such as variables.file."
            )
        for path in paths:
            _place(variables, path, files[name])
    return _checked(
        query=request.get("query"),
        operation_name=request.get("operationName"),
        variables=variables,
        extensions=request.get("extensions"),
    )


def _json_field(text: str, name: str, what: str = "field") -> Any:
    """JSON text from a form field (or a query string parameter: `what`), as valid Unicode."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise RequestError(400, f"The `{name}` {what} is not valid JSON.") from None
    if _SURROGATE_ESCAPE_IN_TEXT.search(text) and _holds_lone_surrogate(value):
        raise RequestError(400, f"The `{name}` {what} is not valid Unicode: it escapes a lone UTF-16 surrogate.")
    return value


def _place(variables: dict[str, Any], path: str, file: Any) -> None:
    """Put `file` where `path` (`variables.files.0`) says, in place of the null the client left there."""
    first, *keys = path.split(".")
    if first != "variables" or not keys:
        raise RequestError(400, f"The `map` path {path!r} must start with `variables.` and name a variable.")
    target: Any = variables
    for position, key in enumerate(keys):
        last = position == len(keys) - 1
        if isinstance(target, list):
            if not key.isdigit() or int(key) >= len(target):
                break
            index: int | str = int(key)
        elif isinstance(target, dict) and key in target:
            index = key
        else:
            break
        if last:
            if target[index] is not None:
                break
            target[index] = file
            return
        target = target[index]
    raise RequestError(400, f"The `map` path {path!r} does not name a null in the operation's variables.")


def _content_type(header: str | None) -> tuple[str | None, str | None]:
    if not header or not header.strip():
        return None, None
    media_type, *params = (piece.strip() for piece in header.split(";"))
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media_type.lower(), charset


def _json_param(params: Mapping[str, str], name: str) -> Any:
    text = params.get(name)
    return _json_field(text, name, "parameter") if text else None


def _holds_lone_surrogate(data: Any) -> bool:
    """Whether any string in decoded JSON (keys included) cannot be encoded as UTF-8.

    A loop, not recursion: the JSON may be nested as deep as the decoder allows.
    """
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode()
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending += item.keys()
            pending += item.values()
        elif isinstance(item, list):
            pending += item
    return False


def _checked(query: Any, operation_name: Any, variables: Any, extensions: Any) -> GraphQLParams:
    if query is not None and not isinstance(query, str):
        raise RequestError(400, "The `query` parameter must be a string.")
    if operation_name is not None and not isinstance(operation_name, str):
        raise RequestError(400, "The `operationName` parameter must be a string or null.")
    if variables is not None and not isinstance(variables, dict):
        raise RequestError(400, "The `variables` parameter must be an object or null.")
    if extensions is not None and not isinstance(extensions, dict):
        raise RequestError(400, "The `extensions` parameter must be an object or null.")
    return GraphQLParams(query, operation_name, variables, extensions)


# --- Results --------------------------------------------------------------------------------


def not_executed(data: Any, errors: Sequence[Mapping[str, Any]] | None) -> bool:
    """True for a result of a request error: parsing, validation, variable coercion or a limit
    stopped the operation before execution (no data, and no error belongs to a field).

    Such a result has no `data` entry at all (GraphQL spec, "Response"), and under
    `application/graphql-response+json` gets a 4xx status. A field error that nulled the whole
    result has a path and keeps `"data": null` with a 2xx status.
    """
    if data is not None or not errors:
        return False
    return all(error.get("path") is None for error in errors)


def result_status(media_type: str, executed: bool, error_codes: Iterable[str | None]) -> int:
    """The status of a response carrying a GraphQL result."""
    if media_type != GRAPHQL_RESPONSE_JSON or executed:
        return 200
    return 500 if GraphQLErrorCode.INTERNAL_SERVER_ERROR in error_codes else 400

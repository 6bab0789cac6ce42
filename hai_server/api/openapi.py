"""The OpenAPI document, told the truth about errors.

Litestar documents every handler with one ``400`` of its own shape (``status_code``,
``detail``); the API answers every error as ``{"error": code, "message": text}``
(``errors.py``) with one precise status. ``document_errors`` rewrites the generated document
once, when the app is built: the shared ``Error`` schema and, per operation, the statuses it
can really answer (401 without a valid token, 403 for admin routes, 404 where a path names
something, 409 for changes that can conflict, 413/422 for bodies, 400 for parameters).
"""

from __future__ import annotations

from litestar.openapi.spec import (
    Link,
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    Reference,
    Schema,
)
from litestar.openapi.spec.enums import OpenAPIType

from hai_cli import validate as check
from hai_cli.scheduler.model import PRIORITY_NAMES
from hai_server.services.admin import ROLES, USER_NAME_RE
from hai_server.services.tasks import ENV_KEY_RE

ERROR = "Error"
_WHY = {
    "400": "A query or path parameter out of range, or a body that is not JSON",
    "401": "No token, or a malformed, revoked or disabled user's token",
    "403": "Only admins may do this",
    "404": "No such task, user, token, node or quota (or not yours)",
    "409": "The change conflicts with the current state",
    "413": "The request body is too large",
    "422": "The body (or a filter) breaks a rule; the message names the field",
    "503": "This replica cannot serve (database or reconciler failing)",
}
_PUBLIC = {"/healthz"}


def _codes(path: str, method: str, op: object) -> set[str]:
    if path in _PUBLIC:
        return {"503"}
    codes = {"400", "401"}
    if path.startswith("/api/v1/admin") or (path == "/api/v1/tasks" and method == "get"):
        codes.add("403")  # admin routes; every user's task list (all=true)
    if "{" in path or path.startswith("/api/v1/admin"):
        codes.add("404")  # a path or a filter (?user=, ?principal=) naming what does not exist
    if method in ("post", "put", "delete"):
        codes.add("409")
    if getattr(op, "request_body", None) is not None:
        codes |= {"413", "422"}
    if getattr(op, "parameters", None):
        codes.add("422")  # e.g. an unknown state filter, a rank beyond the task's nodes
    return codes


_CONSTRAINTS = ("max_length", "min_length", "pattern", "maximum", "minimum")


def _into_branches(prop: Schema) -> None:
    """Litestar writes an optional field's bounds next to its ``oneOf`` [T, null], where they
    bind nothing: move them into the T branch."""
    if not prop.one_of:
        return
    for key in _CONSTRAINTS:
        value = getattr(prop, key)
        if value is None:
            continue
        for branch in prop.one_of:
            if isinstance(branch, Schema) and branch.type not in (None, OpenAPIType.NULL):
                setattr(branch, key, value)
        setattr(prop, key, None)


def _bodies(schemas: dict[str, Schema | Reference]) -> None:
    """What Litestar leaves out of the request bodies' schemas: they refuse unknown fields
    (``forbid_unknown_fields``), and the bounds of nested values (env names and values,
    each argument; argv[0], the program, is not empty)."""
    for name, schema in schemas.items():
        if isinstance(schema, Schema) and name.endswith(("Body", "Request")):
            schema.additional_properties = False
            for prop in (schema.properties or {}).values():
                if isinstance(prop, Schema):
                    _into_branches(prop)
    user = schemas.get("UserBody")
    if isinstance(user, Schema) and user.properties:
        name, role = user.properties.get("name"), user.properties.get("role")
        if isinstance(name, Schema):
            name.pattern, name.max_length = USER_NAME_RE, 64
        if isinstance(role, Schema):
            role.enum = list(ROLES)
    submit = schemas.get("SubmitRequest")
    if not isinstance(submit, Schema) or not submit.properties:
        return
    props = submit.properties
    env, argv = props.get("env"), props.get("argv")
    after, priority = props.get("suspend_after"), props.get("priority")
    if isinstance(after, Schema):  # ge=0 is lost on the way (a falsy bound)
        for branch in after.one_of or []:
            if isinstance(branch, Schema) and branch.type == OpenAPIType.NUMBER:
                branch.minimum = 0
    if isinstance(priority, Schema):  # the names and numbers of the levels (any case works)
        priority.one_of = [
            Schema(type=OpenAPIType.STRING, enum=sorted(PRIORITY_NAMES.values())),
            Schema(type=OpenAPIType.INTEGER, enum=sorted(PRIORITY_NAMES)),
        ]
    if isinstance(env, Schema):
        env.property_names = Schema(pattern=ENV_KEY_RE)
        env.additional_properties = Schema(
            type=OpenAPIType.STRING, max_length=check.MAX_ENV_VALUE_BYTES
        )
        env.max_properties = check.MAX_ENV
    if isinstance(argv, Schema):
        argv.items = Schema(type=OpenAPIType.STRING, max_length=check.MAX_ARG_BYTES)
        argv.prefix_items = [Schema(type=OpenAPIType.STRING, min_length=1)]
        argv.description = "the command; no NUL anywhere, at most 512 KiB in all"


def document_errors(doc: OpenAPI) -> OpenAPI:
    """Add the Error schema, each operation's real error statuses and what the request
    bodies' schemas miss (in place)."""
    assert doc.components is not None
    schemas = doc.components.schemas if isinstance(doc.components.schemas, dict) else {}
    _bodies(schemas)
    schemas[ERROR] = Schema(
        type=OpenAPIType.OBJECT,
        required=["error", "message"],
        properties={
            "error": Schema(type=OpenAPIType.STRING, description="a stable code, e.g. invalid"),
            "message": Schema(type=OpenAPIType.STRING, description="one sentence for people"),
        },
        description="Every error the API answers",
    )
    doc.components.schemas = schemas
    ref = Reference(ref=f"#/components/schemas/{ERROR}")
    for path, item in (doc.paths or {}).items():
        for method in ("get", "post", "put", "delete"):
            op = getattr(item, method, None)
            if op is None:
                continue
            responses = dict(op.responses or {})
            responses.pop("400", None)  # Litestar's own shape: replaced below
            for code in sorted(_codes(path, method, op)):
                responses[code] = OpenAPIResponse(
                    description=_WHY[code],
                    content={"application/json": OpenAPIMediaType(schema=ref)},
                )
            op.responses = responses
    _links(doc)
    return doc


# what a creation answers -> the operations that take it: (path of the creating POST, the
# prefix of the paths it feeds, path parameter, where its value is in the created body)
_PRODUCERS = (
    ("/api/v1/tasks", "/api/v1/tasks/{task_id}", "task_id", "$response.body#/id"),
    ("/api/v1/admin/users", "/api/v1/admin/users/{name}", "name", "$response.body#/name"),
    ("/api/v1/admin/users/{name}/tokens", "/api/v1/admin/tokens/{token_id}", "token_id",
     "$response.body#/id"),
    ("/api/v1/admin/nodes", "/api/v1/admin/nodes/{name}", "name", "$response.body#/name"),
)  # fmt: skip


def _links(doc: OpenAPI) -> None:
    """OpenAPI links from each creation to the operations on what it created (clients and
    stateful testers follow them: tests/hai_server/api/test_schemathesis.py)."""
    paths = doc.paths or {}
    for producer, prefix, param, value in _PRODUCERS:
        item = paths.get(producer)
        post = getattr(item, "post", None)
        if post is None:
            continue
        links: dict[str, Link | Reference] = {}
        for path, target in sorted(paths.items()):
            if path != prefix and not path.startswith(prefix + "/"):
                continue
            for method in ("get", "post", "put", "delete"):
                op = getattr(target, method, None)
                if op is not None and op.operation_id:
                    links[op.operation_id] = Link(
                        operation_id=op.operation_id, parameters={param: value}
                    )
        responses = dict(post.responses or {})
        for code, resp in responses.items():
            if code.startswith("2") and isinstance(resp, OpenAPIResponse) and links:
                resp.links = links
        post.responses = responses

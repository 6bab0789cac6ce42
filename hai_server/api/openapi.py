"""The OpenAPI document, told the truth about errors.

Litestar documents every handler with one ``400`` of its own shape (``status_code``,
``detail``); the API answers every error as ``{"error": code, "message": text}``
(``errors.py``) with one precise status. ``document_errors`` rewrites the generated document
once, when the app is built: the shared ``Error`` schema and, per operation, the statuses it
can really answer (401 without a valid token, 403 for admin routes, 404 where a path names
something, 409 for changes that can conflict, 413/422 for bodies, 400 for parameters).
"""

from __future__ import annotations

from litestar.openapi.spec import OpenAPI, OpenAPIMediaType, OpenAPIResponse, Reference, Schema
from litestar.openapi.spec.enums import OpenAPIType

from hai_cli import validate as check
from hai_cli.scheduler.model import PRIORITY_NAMES
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
    return doc

"""POST /ingest/{firm}: signed batches of canonical activities from other sources (phones, SMS).

Verification comes first and covers the raw bytes, so nothing from an unsigned or badly signed
request is parsed, stored or queued. Records are validated one by one: a bad record is reported
with its index and field and the good ones are captured, in the background, through the firm's
capture engine (the same path as polling, so a record seen twice gives one entry).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from core.capture import engine_for
from core.errors import InvalidSignature
from core.models import Activity
from core.runtime import FirmRuntime
from core.server.body import BodyRejected, parse_json, read_body, require_json
from core.server.context import ServerContext
from core.server.signing import verify

DEDUPE_NAMESPACE = "ingest"  # the connector column of the delivery table; no connector has this name


async def receive(ctx: ServerContext, firm: str, request: Request) -> JSONResponse:
    """Verify, validate and queue one signed batch; the answer lists any rejected records."""
    runtime = ctx.firms.get(firm)
    key = ctx.ingest_keys.get(firm)
    outcome = "error"
    try:
        try:
            body = await read_body(request, timeout=ctx.body_timeout_seconds)
        except BodyRejected as exc:
            outcome = "too_large" if exc.status == 413 else "bad_request"
            return _error(exc.status, str(exc), exc.headers)
        headers = {k.lower(): v for k, v in request.headers.items()}
        if runtime is None or key is None:
            # No endpoint here: answered as a batch signed with another key is, so a stranger cannot
            # tell the firm ids served here from others. A key of its own, made now, verifies nothing.
            outcome = "not_found"
            try:
                verify(secrets.token_bytes(32), headers, body, ctx.clock())
            except InvalidSignature as exc:
                return _error(401, str(exc))
            return _error(401, "no valid webhook-signature")  # only a forged 256-bit HMAC gets here
        try:
            msg_id = verify(key, headers, body, ctx.clock())
        except InvalidSignature as exc:
            outcome = "rejected"
            ctx.log.warning("ingest rejected", firm=firm, reason=str(exc))
            return _error(401, str(exc))
        try:
            require_json(request)
            activities, problems = parse_batch(parse_json(body))
        except BodyRejected as exc:
            outcome = "bad_request"
            return _error(exc.status, str(exc))
        if problems and not activities:
            outcome = "invalid"
            return JSONResponse({"error": "no valid activities in the batch", "rejected": problems}, 422)
        try:
            first = await run_in_threadpool(_first_delivery, runtime, msg_id)
        except Exception as exc:  # the sender retries a 503 with the same id, so nothing is lost
            ctx.log.error("ingest not recorded", firm=firm, error=type(exc).__name__)
            return _error(503, "the batch could not be recorded; retry later")
        if not first:
            outcome = "duplicate"
            return JSONResponse({"status": "duplicate", "webhook_id": msg_id}, 200)
        if activities:
            ctx.worker.submit(firm, "capture", lambda: _capture(ctx, runtime, activities))
        outcome = "accepted" if not problems else "partial"
        answer = {"status": "accepted", "webhook_id": msg_id, "accepted": len(activities), "rejected": problems}
        return JSONResponse(answer, 202)
    finally:
        ctx.metrics.ingest.labels(outcome=outcome).inc()


def parse_batch(payload: Any) -> tuple[list[Activity], list[dict[str, Any]]]:
    """The valid activities of `{"activities": [...]}` and a problem per invalid one (index, field, error)."""
    if not isinstance(payload, dict) or set(payload) != {"activities"}:
        raise BodyRejected(422, 'body must be a JSON object {"activities": [...]}')
    records = payload["activities"]
    if not isinstance(records, list):
        raise BodyRejected(422, "activities must be a JSON array")
    activities: list[Activity] = []
    problems: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            problems.append({"index": index, "field": "", "error": "record is not a JSON object"})
            continue
        try:
            activities.append(Activity.model_validate(record))
        except ValidationError as exc:
            # Field and message only: the input value may be privileged text.
            problems.extend(
                {"index": index, "field": _field(error["loc"]), "error": error["msg"]} for error in exc.errors()
            )
    return activities, problems


def _field(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def _first_delivery(runtime: FirmRuntime, msg_id: str) -> bool:
    try:
        return runtime.runner.state.first_delivery(runtime.firm_id, DEDUPE_NAMESPACE, msg_id)
    except IntegrityError:
        return False  # the same id arrived twice at once; the other request recorded it


def _capture(ctx: ServerContext, runtime: FirmRuntime, activities: list[Activity]) -> None:
    ok = False
    try:
        result = engine_for(runtime.firm_id, runtime.settings, runtime.store).capture(activities)
        ctx.metrics.count_statuses(result.statuses)
        ok = True
    finally:
        ctx.metrics.job_done("capture", ok)


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)

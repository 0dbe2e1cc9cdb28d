"""Admin routes every vendor sandbox shares: fault injection and the request log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, FastAPI
from starlette.responses import JSONResponse, Response

from billsync_sandboxes.kit.faults import FaultInjector, FaultRule
from billsync_sandboxes.kit.requestlog import RequestLog

JsonBody = Annotated[dict[str, Any], Body()]
OptionalJsonBody = Annotated[dict[str, Any] | None, Body()]


def add_control_routes(app: FastAPI, *, faults: FaultInjector, request_log: RequestLog) -> None:
    """GET/POST/DELETE /faults and GET/DELETE /requests on a sandbox's admin app."""

    @app.get("/faults")
    def get_faults() -> Response:
        return JSONResponse({"rules": [rule.to_dict() for rule in faults.rules]})

    @app.post("/faults")
    def set_faults(payload: JsonBody) -> Response:
        raw_rules = payload.get("rules", [payload])
        if not isinstance(raw_rules, list):
            raise ValueError("rules must be a list")
        rules = [FaultRule.from_dict(raw) for raw in raw_rules]
        seed = payload.get("seed")
        faults.set_rules(rules, seed=int(seed) if seed is not None else None)
        return JSONResponse({"rules": [rule.to_dict() for rule in rules]})

    @app.delete("/faults")
    def clear_faults() -> Response:
        faults.clear()
        return Response(status_code=204)

    @app.get("/requests")
    def get_requests() -> Response:
        return JSONResponse([entry.to_dict() for entry in request_log.entries()])

    @app.delete("/requests")
    def clear_requests() -> Response:
        request_log.clear()
        return Response(status_code=204)

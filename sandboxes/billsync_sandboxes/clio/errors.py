"""Errors the Clio sandbox answers with, in Clio's two documented body shapes."""

from __future__ import annotations

from typing import Any

# Doorkeeper-style OAuth descriptions; the invalid_token text is quoted by docs/vendors/clio.md §1 [SUP-401].
INVALID_BEARER_DESCRIPTION = (
    "The access token provided is expired, revoked, malformed or invalid for other reasons."
)


class ClioError(Exception):
    """An API error; the body follows the spec's Error schema (docs/vendors/clio.md §2)."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message

    def body(self) -> dict[str, Any]:
        """Return {"error": {"type", "message"}}."""
        return {"error": {"type": self.error_type, "message": self.message}}


class OAuthError(Exception):
    """An OAuth-layer error; the body is {"error", "error_description"} (docs/vendors/clio.md §2)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        """Return {"error", "error_description"}."""
        return {"error": self.error, "error_description": self.description}


def bad_request(message: str) -> ClioError:
    """400: a bad parameter or field name."""
    return ClioError(400, "BadRequest", message)


def not_found(message: str = "The requested resource was not found") -> ClioError:
    """404: no such record or route."""
    return ClioError(404, "NotFound", message)


def unprocessable(message: str) -> ClioError:
    """422: the request was understood but fails validation."""
    return ClioError(422, "UnprocessableEntity", message)


def precondition_failed() -> ClioError:
    """412: If-Match did not match the current etag."""
    return ClioError(412, "PreconditionFailed", "The record was changed since the given etag")


def not_simulated(method: str, path: str) -> ClioError:
    """501: Clio has this operation but the sandbox does not simulate it."""
    return ClioError(501, "NotImplemented", f"The sandbox does not simulate {method} {path}")


def invalid_token() -> OAuthError:
    """401 for a missing, unknown, expired or revoked bearer token."""
    return OAuthError(401, "invalid_token", INVALID_BEARER_DESCRIPTION)

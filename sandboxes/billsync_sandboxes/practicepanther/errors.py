"""The errors the PracticePanther sandbox answers with: the API's and the token endpoint's
(docs/vendors/practicepanther.md §6)."""

from __future__ import annotations

from typing import Any


class PracticePantherError(Exception):
    """An API error in ASP.NET Web API's shape: {"message", "modelState"?} (docs/vendors/practicepanther.md §6)."""

    def __init__(self, status: int, message: str, model_state: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.model_state = model_state

    def body(self) -> dict[str, Any]:
        """Return the JSON body."""
        body: dict[str, Any] = {"message": self.message}
        if self.model_state:
            body["modelState"] = self.model_state
        return body


class OAuthError(Exception):
    """A token-endpoint error: {"error": ...} (docs/vendors/practicepanther.md §6)."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error

    def body(self) -> dict[str, str]:
        """Return the JSON body."""
        return {"error": self.error}

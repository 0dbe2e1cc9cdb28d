"""The errors the NetDocuments sandbox answers with (docs/vendors/netdocuments.md §9)."""

from __future__ import annotations


class NetDocumentsError(Exception):
    """An API error: a JSON object describing the problem (docs/vendors/netdocuments.md §9; the exact schema is
    UNCONFIRMED)."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message

    def body(self) -> dict[str, str]:
        """The JSON body."""
        return {"error": self.error, "message": self.message}

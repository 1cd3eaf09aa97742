"""A limit on the size of request bodies (the uploaded file), for any ASGI app."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse


class BodySizeLimit:
    """Refuse a request body over ``max_bytes`` with 413: at once when its declared length is over,
    else as soon as the bytes received pass it (a body sent in chunks declares no length).

    Starlette spools uploads to disk, so without this a client could fill the disk.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    @property
    def message(self) -> str:
        return f"the upload is larger than the server's limit of {self.max_bytes / 1e6:g} MB"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await JSONResponse({"error": self.message}, status_code=413)(scope, receive, send)
        received = 0

        async def counted_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, self.message)  # answered by the app's HTTPException handler
            return message

        await self.app(scope, counted_receive, send)

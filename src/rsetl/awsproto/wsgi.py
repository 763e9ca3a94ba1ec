"""Hands one request to an in-process WSGI application (moto's S3 and SQS backends)."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

from rsetl.awsproto.messages import AwsRequest

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def call_wsgi(app: WsgiApp, request: AwsRequest, account_id: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of `app`'s answer to `request`.

    Content-Length is dropped (the server sizes the body it sends) except on a HEAD answer, which
    has no body and carries the size of the object.
    """
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        # PEP 3333: PATH_INFO carries the decoded bytes as latin-1 text.
        "PATH_INFO": unquote_to_bytes(request.raw_path).decode("latin-1"),
        "QUERY_STRING": request.raw_query,
        # moto reads an S3 key from the path as sent and decodes it once; PATH_INFO is decoded already.
        "RAW_URI": request.raw_path + (f"?{request.raw_query}" if request.raw_query else ""),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_LENGTH": str(len(request.body)),
        "CONTENT_TYPE": request.header("Content-Type"),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(request.body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "HTTP_X_MOTO_ACCOUNT_ID": account_id,
    }
    for name, value in request.headers.items():
        key = "HTTP_" + name.upper().replace("-", "_")
        # The server has decoded any chunked framing: the body is CONTENT_LENGTH bytes.
        if key not in (
            "HTTP_CONTENT_TYPE",
            "HTTP_CONTENT_LENGTH",
            "HTTP_TRANSFER_ENCODING",
            "HTTP_X_MOTO_ACCOUNT_ID",
        ):
            environ[key] = str(value)
    captured: dict[str, Any] = {}
    written = io.BytesIO()

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"] = int(status.split(" ", 1)[0])
        captured["headers"] = headers
        return written.write

    chunks = app(environ, start_response)
    body = written.getvalue() + b"".join(chunks)
    headers = {
        name: value
        for name, value in captured["headers"]
        if name.lower() != "content-length" or request.method == "HEAD"
    }
    return captured["status"], headers, body

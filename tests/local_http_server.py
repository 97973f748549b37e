"""A real HTTP server on 127.0.0.1 for download tests: serves files from memory, honours Range, counts requests,
and can cut a response short (the connection closes before the announced Content-Length is sent)."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LocalFileServer:
    """Serve ``files[path] = bytes`` at ``http://127.0.0.1:<port>/<path>`` in a background thread."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header) of every request
        self.cut_after: dict[str, list[int]] = {}  # path -> bytes to send in the next responses, one per request
        self.support_ranges = True
        self.redirects: dict[str, str] = {}  # path -> path it moved to (answered with 302)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/{path}"

    def requests_for(self, path: str) -> list[str | None]:
        return [range_header for requested, range_header in self.requests if requested == path]

    def __enter__(self) -> "LocalFileServer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                path = self.path.lstrip("/")
                range_header = self.headers.get("Range")
                server.requests.append((path, range_header))
                if path in server.redirects:
                    self.send_response(302)
                    self.send_header("Location", server.url(server.redirects[path]))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if path not in server.files:
                    self.send_error(404, "Not Found")
                    return
                body = server.files[path]
                start = 0
                match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
                if match and server.support_ranges:
                    start = int(match.group(1))
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.send_header("Accept-Ranges", "bytes" if server.support_ranges else "none")
                self.end_headers()
                cuts = server.cut_after.get(path)
                payload = body[start:]
                if cuts:
                    payload = payload[:cuts.pop(0)]
                    self.close_connection = True
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        return Handler

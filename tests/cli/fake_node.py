"""A tiny in-process JSON-RPC server standing in for a CometBFT node in tests.

Handlers map a method name to a function of the params returning either a
``result`` object or ``RpcFailure`` (sent as a JSON-RPC error with HTTP 500, as
CometBFT does). Every request is recorded for assertions.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True, slots=True)
class RpcFailure:
    code: int
    message: str
    data: str


Handler = Callable[[dict[str, Any]], Any]


@dataclass
class FakeNode:
    handlers: dict[str, Handler]
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)

    def params_of(self, method: str) -> list[dict[str, Any]]:
        return [r["params"] for r in self.requests if r["method"] == method]


@contextmanager
def fake_node(handlers: dict[str, Handler]) -> Iterator[FakeNode]:
    node = FakeNode(handlers)

    class RequestHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            node.requests.append(body)
            answer = node.handlers[body["method"]](body.get("params", {}))
            if isinstance(answer, RpcFailure):
                status = 500
                payload = {"jsonrpc": "2.0", "id": body["id"], "error": {
                    "code": answer.code, "message": answer.message, "data": answer.data}}
            else:
                status = 200
                payload = {"jsonrpc": "2.0", "id": body["id"], "result": answer}
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
    node.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield node
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def status_result(network: str = "optio-test", height: int = 7, app_hash: str = "AB" * 32) -> dict[str, Any]:
    return {
        "node_info": {"id": "f" * 40, "moniker": "node0", "network": network},
        "sync_info": {"latest_block_height": str(height), "latest_block_hash": "CD" * 32,
                      "latest_app_hash": app_hash, "catching_up": False},
    }

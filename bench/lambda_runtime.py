"""A tiny local implementation of the AWS Lambda runtime API, for the Lambda benchmarks (item 3 and 4).

Used in-process by bench/run.py:

    api = RuntimeApi()                      # serves on 127.0.0.1:<api.port> in a thread
    api.push({"Records": [...]})            # queue an invocation event
    env["AWS_LAMBDA_RUNTIME_API"] = api.address
    ... start the function binary ...
    api.wait_first_request(timeout)         # monotonic time of the binary's first request
    api.wait_result(timeout)                # (request id, "response"|"error", JSON body)

Routes (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):
GET /2018-06-01/runtime/invocation/next (blocks until an event is queued), POST .../invocation/{id}/response,
POST .../invocation/{id}/error, POST /2018-06-01/runtime/init/error.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:port-aws-sync-bench"


class RuntimeApi:
    def __init__(self, deadline_seconds: float = 900.0):
        self.deadline_seconds = deadline_seconds
        self.events: queue.Queue = queue.Queue()
        self.results: queue.Queue = queue.Queue()
        self.first_request: float | None = None
        self.first_request_event = threading.Event()
        self.next_calls = 0
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.handle_error = lambda request, address: None  # a stopped function resets its connection
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    # -- driving ---------------------------------------------------------------------------------
    def arm(self):
        """Forget the previous start (call before starting a new process)."""
        with self._lock:
            self.first_request = None
            self.first_request_event.clear()
            self.next_calls = 0

    def push(self, event) -> None:
        self.events.put(event)

    def wait_first_request(self, timeout: float) -> float | None:
        return self.first_request if self.first_request_event.wait(timeout) else None

    def wait_result(self, timeout: float):
        try:
            return self.results.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # -- HTTP ------------------------------------------------------------------------------------
    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def _mark(self):
                now = time.monotonic()
                with api._lock:
                    if api.first_request is None:
                        api.first_request = now
                        api.first_request_event.set()

            def _reply(self, status: int, body: bytes = b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._mark()
                if self.path != f"{PREFIX}/invocation/next":
                    self._reply(404)
                    return
                with api._lock:
                    api.next_calls += 1
                event = api.events.get()  # blocks like the real API until there is work
                request_id = str(uuid.uuid4())
                deadline_ms = int((time.time() + api.deadline_seconds) * 1000)
                self._reply(200, json.dumps(event).encode(), [
                    ("Content-Type", "application/json"),
                    ("Lambda-Runtime-Aws-Request-Id", request_id),
                    ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
                    ("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN),
                    ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
                ])

            def do_POST(self):
                self._mark()
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                parts = self.path[len(PREFIX):].strip("/").split("/")
                if parts[:2] == ["init", "error"]:
                    api.results.put((None, "init_error", body))
                elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    api.results.put((parts[1], parts[2], body))
                else:
                    self._reply(404)
                    return
                self._reply(202, b'{"status":"OK"}', [("Content-Type", "application/json")])

        return Handler


def lambda_env(api: RuntimeApi, name: str, memory_mb: int = 128) -> dict:
    """The variables Lambda sets for a function's runtime."""
    return {
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/23/[$LATEST]bench",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "_HANDLER": "bootstrap",
    }

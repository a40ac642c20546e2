#!/usr/bin/env python3
"""A small HTTP proxy in front of moto that counts AWS calls and can throttle one account's calls.

    python bench/aws_proxy.py --upstream http://127.0.0.1:MOTO --port 0 \
        [--throttle-account 123456789012 --throttle-service ec2 --rate 1 --burst 2]

Prints `LISTENING <port>` on stdout when ready. Point AWS_ENDPOINT_URL at it.

Counting: every request is attributed to (account, service, operation). The service and access key come from
the SigV4 `Credential=` scope; the operation from `Action=` (query protocols: EC2, STS, IAM), `X-Amz-Target`
(JSON protocols: ECS, Organizations, SQS, Secrets Manager) or S3's `x-id=` query parameter / REST shape. The
account behind an assumed-role access key is learnt from the AssumeRole responses that pass through (moto
treats unknown keys, such as the static test key, as 123456789012).

Throttling: calls of `--throttle-service` signed for `--throttle-account` draw from a token bucket (`--burst`
tokens, refilled at `--rate` per second); a call finding it empty gets what EC2 answers when throttled:
HTTP 503 with the `RequestLimitExceeded` error code, which the AWS SDKs retry with backoff.

With `--fake-sqs`, SQS `SendMessage`/`SendMessageBatch` are answered by the proxy itself (every entry accepted,
with the right MD5 of the body) and the messages counted instead of being stored: moto's SQS gets slower with
every message a queue holds (each send scans the queue: 40 ms per batch on an empty queue, 580 ms at 2,000
messages), which would make a 50,000-message fan-out measure moto rather than us. Real SQS does not do that.

Control (not forwarded): GET /_proxy/stats -> counts; POST /_proxy/reset -> zero the counts.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import re
import sys
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote_plus, urlsplit

DEFAULT_ACCOUNT = "123456789012"  # moto's account for keys it does not know
CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/aws4_request")
ACCESS_KEY_RE = re.compile(rb"<AccessKeyId>([^<]+)</AccessKeyId>")
ROLE_ACCOUNT_RE = re.compile(r"arn:[^:]+:iam::(\d+):")
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
               "proxy-authorization", "proxy-authenticate", "content-length"}
S3_SUBRESOURCES = {"tagging": "GetBucketTagging", "encryption": "GetBucketEncryption",
                   "publicAccessBlock": "GetPublicAccessBlock", "ownershipControls": "GetBucketOwnershipControls",
                   "location": "GetBucketLocation", "policy": "GetBucketPolicy", "versioning": "GetBucketVersioning"}
THROTTLED_BODY = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>RequestLimitExceeded'
                  b'</Code><Message>Request limit exceeded.</Message></Error></Errors>'
                  b'<RequestID>00000000-0000-0000-0000-000000000000</RequestID></Response>')


class TokenBucket:
    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.key_account: dict[str, str] = {}
        self.bucket = TokenBucket(args.rate, args.burst) if args.throttle_account else None
        self.reset()

    def reset(self):
        with self.lock:
            self.calls: Counter = Counter()          # "service:Operation" -> n
            self.by_account: Counter = Counter()     # account -> n
            self.throttled: Counter = Counter()      # account -> n
            self.sqs_messages = 0                    # messages accepted by --fake-sqs
            self.started = time.time()

    def stats(self) -> dict:
        with self.lock:
            return {"total": sum(self.calls.values()), "calls": dict(sorted(self.calls.items())),
                    "accounts": len(self.by_account), "by_account": dict(self.by_account),
                    "throttled": sum(self.throttled.values()), "throttled_by_account": dict(self.throttled),
                    "sqs_messages": self.sqs_messages}


def operation(service: str, method: str, path: str, query: str, headers, body: bytes) -> str:
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    params = parse_qs(query, keep_blank_values=True)
    if "Action" in params:
        return params["Action"][0]
    if body and b"Action=" in body[:4096]:
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        if "Action" in form:
            return form["Action"][0]
    if "x-id" in params:
        return params["x-id"][0]
    if service == "s3":
        if path in ("", "/"):
            return "ListBuckets"
        for key, name in S3_SUBRESOURCES.items():
            if key in params:
                return name if method == "GET" else f"{method}:{key}"
        return f"{method}:{'bucket' if path.strip('/').count('/') == 0 else 'object'}"
    return f"{method}:{path}"


def make_handler(state: State, upstream: str):
    up = urlsplit(upstream)
    local = threading.local()

    def connection() -> http.client.HTTPConnection:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(up.hostname, up.port, timeout=300)
        return conn

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def _reply(self, status: int, body: bytes, headers=()):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _handle(self):
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if parts.path.startswith("/_proxy/"):
                if parts.path == "/_proxy/reset":
                    state.reset()
                self._reply(200, json.dumps(state.stats()).encode(), [("Content-Type", "application/json")])
                return
            match = CREDENTIAL_RE.search(self.headers.get("Authorization") or "")
            key, _region, service = match.groups() if match else ("", "", "unsigned")
            op = operation(service, self.command, parts.path, parts.query, self.headers, body)
            with state.lock:
                account = state.key_account.get(key, DEFAULT_ACCOUNT)
                state.calls[f"{service}:{op}"] += 1
                state.by_account[account] += 1
            args = state.args
            if (state.bucket and account == args.throttle_account and service == args.throttle_service
                    and not state.bucket.take()):
                with state.lock:
                    state.throttled[account] += 1
                self._reply(503, THROTTLED_BODY, [("Content-Type", "text/xml")])
                return
            if args.fake_sqs and service == "sqs" and op in ("SendMessageBatch", "SendMessage"):
                self._fake_sqs(op, body)
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            for attempt in (1, 2):
                conn = connection()
                try:
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    response = conn.getresponse()
                    payload = response.read()
                    break
                except (http.client.HTTPException, OSError):
                    conn.close()
                    local.conn = None
                    if attempt == 2:
                        self._reply(502, b"proxy: upstream failed")
                        return
            if service == "sts" and op == "AssumeRole" and response.status == 200:
                form = parse_qs(body.decode("utf-8", "replace"))
                role = unquote_plus((form.get("RoleArn") or [""])[0])
                found_account = ROLE_ACCOUNT_RE.search(role)
                found_key = ACCESS_KEY_RE.search(payload)
                if found_account and found_key:
                    with state.lock:
                        state.key_account[found_key.group(1).decode()] = found_account.group(1)
            out_headers = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_HEADERS]
            self.send_response(response.status)
            for k, v in out_headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _fake_sqs(self, op: str, body: bytes):
            request = json.loads(body or b"{}")
            md5 = lambda text: hashlib.md5(text.encode()).hexdigest()  # noqa: E731
            if op == "SendMessage":
                answer = {"MessageId": str(uuid.uuid4()), "MD5OfMessageBody": md5(request["MessageBody"])}
                accepted = 1
            else:
                answer = {"Successful": [{"Id": e["Id"], "MessageId": str(uuid.uuid4()),
                                          "MD5OfMessageBody": md5(e["MessageBody"])} for e in request["Entries"]],
                          "Failed": []}
                accepted = len(request["Entries"])
            with state.lock:
                state.sqs_messages += accepted
            self._reply(200, json.dumps(answer).encode(), [("Content-Type", "application/x-amz-json-1.0")])

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

    return Handler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--throttle-account")
    parser.add_argument("--throttle-service", default="ec2")
    parser.add_argument("--rate", type=float, default=1.0, help="tokens per second")
    parser.add_argument("--burst", type=float, default=2.0)
    parser.add_argument("--fake-sqs", action="store_true", help="answer SQS sends here instead of in moto")
    args = parser.parse_args()
    state = State(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(state, args.upstream.rstrip("/")))
    server.daemon_threads = True
    print(f"LISTENING {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

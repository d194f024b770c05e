"""An independent SigV4 verifier and a reverse proxy that plays API Gateway's IAM authorizer.

The verifier recomputes every signature from the raw request it received, with its own copy of the
secret keys and its own hashlib/hmac implementation of SigV4, and rejects the request unless the
signature, the credential scope, the session token and the clock all check out. It never uses botocore,
so a bug shared by the plugin and botocore's canonicalization would still be caught. Only verified
requests are forwarded to the upstream server (MLflow).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote_to_bytes

REGION = "eu-west-1"
SERVICE = "execute-api"
MAX_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Identity:
    access_key: str
    secret_key: str
    token: str | None


ROLE = Identity("ASIASIGV4TESTROLE", "role/secret+key=with/odd+chars", "session-token-for-the-role")
USER = Identity("AKIASIGV4TESTUSER", "user-secret-key", None)
KNOWN = {identity.access_key: identity for identity in (ROLE, USER)}


# ---------------------------------------------------------------------------------------------------
# Independent SigV4 verifier (hashlib and hmac only)
# ---------------------------------------------------------------------------------------------------

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
_UNRESERVED = "-_.~"


def _uri_encode(raw: bytes | str) -> str:
    return quote(raw, safe=_UNRESERVED)


def _canonical_uri(raw_path: str) -> str:
    """RFC 3986 normalization (dot segments, repeated slashes), then each segment encoded twice."""
    segments: list[str] = []
    for segment in raw_path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(_uri_encode(_uri_encode(unquote_to_bytes(segment))))
    uri = "/" + "/".join(segments)
    if raw_path.endswith("/") and segments:
        uri += "/"
    return uri


def _canonical_query(raw_query: str) -> str:
    pairs = []
    for pair in raw_query.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        decoded_key = unquote_to_bytes(key.replace("+", " "))
        decoded_value = unquote_to_bytes(value.replace("+", " "))
        pairs.append((_uri_encode(decoded_key), _uri_encode(decoded_value)))
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


@dataclass
class Verifier:
    """Checks a raw HTTP request the way API Gateway's IAM authorization does."""

    identities: dict[str, Identity]
    region: str
    service: str
    now: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))

    def verify(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> str | None:
        """None when the request is authentic, otherwise why it is rejected."""
        by_name: dict[str, list[str]] = {}
        for name, value in headers:
            by_name.setdefault(name.lower(), []).append(value)
        authorization = by_name.get("authorization", [])
        if len(authorization) != 1:
            return "missing Authorization header"
        match = _AUTHORIZATION.match(authorization[0].strip())
        if not match:
            return "malformed Authorization header"
        credential = match["credential"].split("/")
        if len(credential) != 5:
            return "malformed credential"
        access_key, date, region, service, terminator = credential
        identity = self.identities.get(access_key)
        if identity is None:
            return "unknown access key"

        amz_date = by_name.get("x-amz-date", [""])[0]
        try:
            signed_at = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            return "missing or malformed X-Amz-Date"
        if abs(self.now() - signed_at) > MAX_SKEW:
            return "signature expired"
        if (date, region, service, terminator) != (amz_date[:8], self.region, self.service, "aws4_request"):
            return "wrong credential scope"

        if identity.token is not None and by_name.get("x-amz-security-token") != [identity.token]:
            return "invalid security token"

        signed = match["signed"].split(";")
        if signed != sorted(set(signed)) or not {"host", "x-amz-date"} <= set(signed):
            return "host and x-amz-date must be signed"
        if any(name not in by_name for name in signed):
            return "a signed header is missing"

        path, _, query = target.partition("?")
        canonical_headers = "".join(
            f"{name}:{','.join(' '.join(value.split()) for value in by_name[name])}\n" for name in signed
        )
        canonical_request = "\n".join(
            [
                method.upper(),
                _canonical_uri(path),
                _canonical_query(query),
                canonical_headers,
                match["signed"],
                hashlib.sha256(body).hexdigest(),
            ]
        )
        scope = f"{date}/{region}/{service}/aws4_request"
        string_to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256",
                amz_date,
                scope,
                hashlib.sha256(canonical_request.encode()).hexdigest(),
            ]
        )
        key = _hmac(f"AWS4{identity.secret_key}".encode(), date)
        for part in (region, service, "aws4_request"):
            key = _hmac(key, part)
        expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, match["signature"]):
            return "signature mismatch"
        return None


# ---------------------------------------------------------------------------------------------------
# Reverse proxy in front of MLflow
# ---------------------------------------------------------------------------------------------------

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
}


@dataclass(frozen=True)
class Outcome:
    method: str
    target: str
    status: int
    reason: str | None
    access_key: str | None


class SigV4Proxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, verifier: Verifier, upstream_port: int) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.verifier = verifier
        self.upstream_port = upstream_port
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def record(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)

    def take(self) -> list[Outcome]:
        with self._lock:
            taken, self.outcomes = self.outcomes, []
        return taken


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SigV4Proxy

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        body = self._read_body()
        headers = list(self.headers.items())
        reason = self.server.verifier.verify(self.command, self.path, headers, body)
        credential = re.search(r"Credential=([^/\s]+)/", self.headers.get("Authorization", ""))
        access_key = credential.group(1) if credential else None
        if reason is not None:
            self.server.record(Outcome(self.command, self.path, 403, reason, access_key))
            payload = json.dumps({"message": f"Forbidden: {reason}"}).encode()
            self._reply(403, payload, [("Content-Type", "application/json")])
            return
        if self.path.startswith("/_echo"):
            # What the proxy received, for tests of how bodies, paths and queries go over the wire.
            echo = {
                "method": self.command,
                "target": self.path,
                "body_sha256": hashlib.sha256(body).hexdigest(),
                "body_length": len(body),
                "chunked": "chunked" in self.headers.get("Transfer-Encoding", ""),
                "content_type": self.headers.get("Content-Type"),
            }
            self.server.record(Outcome(self.command, self.path, 200, None, access_key))
            self._reply(200, json.dumps(echo).encode(), [("Content-Type", "application/json")])
            return

        forwarded = [(name, value) for name, value in headers if name.lower() not in _HOP_BY_HOP]
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=120)
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            # MLflow's host-header check accepts loopback addresses.
            upstream.putheader("Host", f"127.0.0.1:{self.server.upstream_port}")
            for name, value in forwarded:
                upstream.putheader(name, value)
            upstream.putheader("Content-Length", str(len(body)))
            upstream.endheaders(body)
            response = upstream.getresponse()
            content = response.read()
            status = response.status
            response_headers = [
                (name, value) for name, value in response.getheaders() if name.lower() not in _HOP_BY_HOP
            ]
        finally:
            upstream.close()
        self.server.record(Outcome(self.command, self.path, status, None, access_key))
        self._reply(status, content, response_headers)

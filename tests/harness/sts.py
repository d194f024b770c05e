"""STS and IAM emulated by ``moto_server`` with real SigV4 signature checks, and IAM tokens made with botocore.

``INITIAL_NO_AUTH_ACTION_COUNT`` lets the first requests through unsigned; every later request must carry a
valid signature of a key moto issued: a changed signed header or a wrong secret gives
``SignatureDoesNotMatch``. The first three requests create a bootstrap admin (user, policy, access key);
everything after that is signed with real emulator keys, as on AWS.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import secrets
import socket
from typing import Any

from mlflow_sagemaker_constructs.tracking_server.server.iam_tokens import (
    AUDIENCE_HEADER,
    SignedRequest,
    encode_token,
)
from tests.harness.services import MotoServer

ACCOUNT = "123456789012"
REGION = "us-east-1"
_BOOTSTRAP_ACTIONS = 3
_ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


@dataclasses.dataclass(frozen=True)
class Keys:
    """AWS credentials (a session token for assumed roles)."""

    access_key: str
    secret_key: str
    token: str | None = None

    def env(self) -> dict[str, str]:
        env = {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}
        if self.token:
            env["AWS_SESSION_TOKEN"] = self.token
        return env


class StsServer(MotoServer):
    """STS and IAM, verifying SigV4 after the bootstrap requests."""

    extra_env = {"INITIAL_NO_AUTH_ACTION_COUNT": str(_BOOTSTRAP_ACTIONS)}

    admin: Keys

    @classmethod
    def start(cls) -> StsServer:
        server = cls()._start_or_clean_up()
        try:
            server._bootstrap()
        except BaseException:
            server.stop()
            raise
        return server

    def _client(self, service: str, keys: Keys | None = None) -> Any:
        import boto3

        keys = keys or self.admin
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=keys.access_key,
            aws_secret_access_key=keys.secret_key,
            aws_session_token=keys.token,
        )

    def _bootstrap(self) -> None:
        unsigned = Keys("AKIABOOTSTRAP0000000", "bootstrap")
        iam = self._client("iam", unsigned)
        iam.create_user(UserName="bootstrap-admin")
        iam.put_user_policy(UserName="bootstrap-admin", PolicyName="all", PolicyDocument=_ALLOW_ALL)
        key = iam.create_access_key(UserName="bootstrap-admin")["AccessKey"]
        self.admin = Keys(key["AccessKeyId"], key["SecretAccessKey"])

    def create_user(self, name: str) -> tuple[str, Keys]:
        """An IAM user with an access key that may assume roles; (ARN, keys)."""
        iam = self._client("iam")
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        iam.put_user_policy(UserName=name, PolicyName="all", PolicyDocument=_ALLOW_ALL)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return arn, Keys(key["AccessKeyId"], key["SecretAccessKey"])

    def create_role(self, name: str) -> str:
        """A role any emulated principal may assume; its ARN."""
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
        }
        arn: str = self._client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
            "Arn"
        ]
        return arn

    def assume_role(self, role_arn: str, session_name: str, keys: Keys | None = None) -> Keys:
        credentials = self._client("sts", keys).assume_role(RoleArn=role_arn, RoleSessionName=session_name)[
            "Credentials"
        ]
        return Keys(credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"])

    def caller_arn(self, keys: Keys) -> str:
        arn: str = self._client("sts", keys).get_caller_identity()["Arn"]
        return arn

    def requests_seen(self) -> int:
        """Requests moto logged so far (each STS verification is one)."""
        if not self.log_file.exists():
            return 0
        return len(re.findall(r'"POST / HTTP/1\.1" \d{3}', self.log_file.read_text(errors="replace")))


def mint_token(keys: Keys, *, sts_endpoint: str, audience: str, region: str = REGION, date: str | None = None) -> str:
    """An IAM token as the client plugin makes it: a SigV4-signed GetCallerIdentity with the audience signed."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method="POST",
        url=sts_endpoint.rstrip("/") + "/",
        data="Action=GetCallerIdentity&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", AUDIENCE_HEADER: audience},
    )
    signer = SigV4Auth(Credentials(keys.access_key, keys.secret_key, keys.token), "sts", region)
    if date is None:
        signer.add_auth(request)
    else:
        # botocore takes the signing time from its clock; pin it for the expiry and future-date attacks.
        import datetime
        from unittest import mock

        fixed = datetime.datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
        with mock.patch("botocore.auth.get_current_datetime", return_value=fixed):
            signer.add_auth(request)
    assert request.url is not None
    signed = SignedRequest(
        method="POST",
        url=request.url,
        headers={k: v for k, v in request.headers.items()},
        body=request.body.decode() if isinstance(request.body, bytes) else str(request.body),
    )
    return encode_token(signed)


def random_session() -> str:
    return f"session-{secrets.token_hex(3)}"


class StsRelay:
    """The STS endpoint a server under test is configured with: relays to the emulator, or misbehaves.

    ``mode`` is ``"relay"`` (forward, keeping the signed ``Host``), ``"hang"`` (accept and never answer,
    a slow STS), ``"drop"`` (close the connection unanswered) or ``"error"`` (HTTP 500). Counts what it saw.
    """

    def __init__(self, upstream: StsServer) -> None:
        import http.server
        import threading

        relay = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                relay.requests += 1
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if relay.mode == "hang":
                    relay.release.wait(120)
                    self.close_connection = True
                    return
                if relay.mode == "drop":
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if relay.mode == "error":
                    self._answer(500, b"internal error", "text/plain")
                    return
                status, content, content_type = relay.forward(dict(self.headers.items()), body)
                self._answer(status, content, content_type)

            def _answer(self, status: int, content: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.upstream = upstream
        self.mode = "relay"
        self.requests = 0
        self.release = threading.Event()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="sts-relay", daemon=True)
        self._thread.start()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def forward(self, headers: dict[str, str], body: bytes) -> tuple[int, bytes, str]:
        import http.client

        connection = http.client.HTTPConnection("127.0.0.1", self.upstream.port, timeout=30)
        try:
            # skip_host: the Host header is the relay's, as signed, and moto checks the signature with it.
            connection.putrequest("POST", "/", skip_host=True, skip_accept_encoding=True)
            for name, value in headers.items():
                if name.lower() not in ("connection", "content-length"):
                    connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            return response.status, response.read(), response.getheader("Content-Type") or "text/xml"
        finally:
            connection.close()

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

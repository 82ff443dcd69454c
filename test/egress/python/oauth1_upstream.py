"""An OAuth 1.0a protected API for the egress tests, judged by oauthlib (Debian python3-oauthlib).

The independent verifier: the gateway signs, this server (not the gateway's code) decides whether
the signature is valid, using oauthlib's ResourceEndpoint (token requests) or SignatureOnlyEndpoint
(two-legged). It serves HTTPS with a certificate from the test CA.

argv[1]: JSON file {"cert", "key", "clients": {key: {"secret", "rsa_public_key"}}, "tokens": {token: secret}}.
Prints "PORT <n>" once listening. Every request is answered 200 (valid) or 401 (invalid) with JSON:
{"valid", "replay", "endpoint", "method", "path", "headers": [[name, value], ...], "body",
 "body_hash": "ok" | "mismatch" | null}. GET /__stats answers {"requests": n} (unsigned requests
counted too; /__stats itself is not); a path containing /slow sleeps 3 s first.
"""

import base64
import hashlib
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from oauthlib.oauth1 import RequestValidator, ResourceEndpoint, SignatureOnlyEndpoint
from oauthlib.oauth1.rfc5849 import utils

with open(sys.argv[1], encoding="utf-8") as f:
    CONFIG = json.load(f)

LOCK = threading.Lock()
SEEN_NONCES = set()
STATS = {"requests": 0}


class Validator(RequestValidator):
    """Credentials from CONFIG; nonces remembered forever (so a replay is always caught).

    oauthlib's defaults are kept where they matter for interop: keys, tokens and nonces must be
    20-30 alphanumeric characters, exactly what a stock oauthlib server accepts.
    """

    @property
    def enforce_ssl(self):
        return True

    @property
    def allowed_signature_methods(self):
        return ("HMAC-SHA1", "HMAC-SHA256", "HMAC-SHA512", "RSA-SHA1", "RSA-SHA256", "PLAINTEXT")

    @property
    def dummy_client(self):
        return "dummyClientKey000000000"

    @property
    def dummy_access_token(self):
        return "dummyAccessToken0000000"

    def validate_client_key(self, client_key, request):
        return client_key in CONFIG["clients"]

    def get_client_secret(self, client_key, request):
        return CONFIG["clients"].get(client_key, {}).get("secret") or "dummy-secret"

    def get_rsa_key(self, client_key, request):
        return CONFIG["clients"].get(client_key, {}).get("rsa_public_key")

    def validate_access_token(self, client_key, token, request):
        return token in CONFIG["tokens"]

    def get_access_token_secret(self, client_key, token, request):
        return CONFIG["tokens"].get(token, "dummy-token-secret")

    def validate_timestamp_and_nonce(
        self, client_key, timestamp, nonce, request, request_token=None, access_token=None
    ):
        key = (client_key, timestamp, nonce, access_token)
        with LOCK:
            if key in SEEN_NONCES:
                request.replay = True
                return False
            SEEN_NONCES.add(key)
        return True

    def validate_realms(self, client_key, token, request, uri=None, realms=None):
        return True


VALIDATOR = Validator()
RESOURCE = ResourceEndpoint(VALIDATOR)
SIGNATURE_ONLY = SignatureOnlyEndpoint(VALIDATOR)


def oauth_params(uri, headers, body):
    """The oauth_* parameters wherever they were sent (header, query or form body)."""
    params = {}
    headers = {name.lower(): value for name, value in headers.items()}
    auth = headers.get("authorization")
    if auth and auth.startswith("OAuth "):
        # parse_authorization_header leaves values percent-encoded (RFC 5849 §3.5.1).
        params.update({k: utils.unescape(v) for k, v in utils.parse_authorization_header(auth)})
    params.update({k: v for k, v in parse_qsl(urlsplit(uri).query, keep_blank_values=True) if k.startswith("oauth_")})
    if "application/x-www-form-urlencoded" in headers.get("content-type", ""):
        params.update({k: v for k, v in parse_qsl(body, keep_blank_values=True) if k.startswith("oauth_")})
    return params


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # quiet
        pass

    def _answer(self, status, payload):
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        if self.path == "/__stats":
            self._answer(200, dict(STATS))
            return
        with LOCK:
            STATS["requests"] += 1
        if "/slow" in self.path:
            time.sleep(3)
        body = raw_body.decode("utf-8")
        # The URI the client addressed, from what it sent: the Host header and the raw target.
        uri = "https://" + self.headers.get("Host", "") + self.path
        headers = {name: value for name, value in self.headers.items()}
        params = oauth_params(uri, headers, body)
        endpoint = RESOURCE if "oauth_token" in params else SIGNATURE_ONLY
        try:
            if endpoint is RESOURCE:
                valid, request = RESOURCE.validate_protected_resource_request(
                    uri, http_method=self.command, body=body or None, headers=headers
                )
            else:
                valid, request = SIGNATURE_ONLY.validate_request(
                    uri, http_method=self.command, body=body or None, headers=headers
                )
            replay = bool(getattr(request, "replay", False))
            error = None
        except Exception as exc:  # oauthlib raises on malformed requests
            valid, replay, error = False, False, repr(exc)
        body_hash = None
        if "oauth_body_hash" in params:
            expected = base64.b64encode(hashlib.sha1(raw_body).digest()).decode("ascii")
            body_hash = "ok" if params["oauth_body_hash"] == expected else "mismatch"
        self._answer(
            200 if valid else 401,
            {
                "valid": valid,
                "replay": replay,
                "error": error,
                "endpoint": "resource" if endpoint is RESOURCE else "signature_only",
                "method": self.command,
                "path": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": body,
                "body_hash": body_hash,
                "params": params,
            },
        )

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(CONFIG["cert"], CONFIG["key"])
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

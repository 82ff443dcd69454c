"""Authlib's own resource protection on Flask: the in-app reference of `npm run bench`.

Not a proxy: the app answers the same small JSON body the benchmark upstream does, after
Authlib has checked the request, so a row measures "framework + Authlib" as users would deploy it
in the service itself (context for the gateway numbers, not a race).

  GET /bench/items?id=42          OAuth 2.0 bearer (RFC 6750) via flask_oauth2.ResourceProtector,
                                  a BearerTokenValidator over one in-memory token
  GET /oauth1/bench/items?id=42   OAuth 1.0a (RFC 5849) via flask_oauth1.ResourceProtector,
                                  in-memory client/token and an in-memory nonce set

Credentials come from the environment (BENCH_BEARER, BENCH_CLIENT_ID, ...), the same values the
gateway scenarios use. Run under gunicorn: `gunicorn -w 1 -k gthread authlib_app:app`.
"""

import json
import os
import threading
import time

from authlib.integrations.flask_oauth1 import ResourceProtector as OAuth1ResourceProtector
from authlib.integrations.flask_oauth2 import ResourceProtector as OAuth2ResourceProtector
from authlib.oauth2.rfc6749 import TokenMixin
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import Flask, Response

BODY = json.dumps({"ok": True, "id": 42, "name": "benchmark", "tags": ["a", "b"]}, separators=(",", ":"))
TIMESTAMP_WINDOW = 300

app = Flask(__name__)


class MemoryToken(TokenMixin):
    def __init__(self, scope, expires_at):
        self.scope = scope
        self.expires_at = expires_at

    def get_scope(self):
        return self.scope

    def is_expired(self):
        return self.expires_at <= time.time()

    def is_revoked(self):
        return False


BEARER_TOKENS = {os.environ["BENCH_BEARER"]: MemoryToken("bench:read bench:write", time.time() + 86400)}


class MemoryBearerValidator(BearerTokenValidator):
    def authenticate_token(self, token_string):
        return BEARER_TOKENS.get(token_string)


require_oauth2 = OAuth2ResourceProtector()
require_oauth2.register_token_validator(MemoryBearerValidator())


class Client:
    def __init__(self, client_id, secret):
        self.client_id = client_id
        self.secret = secret

    def get_client_secret(self):
        return self.secret

    def get_rsa_public_key(self):
        return None


class TokenCredential:
    def __init__(self, token, secret):
        self.token = token
        self.secret = secret

    def get_oauth_token(self):
        return self.token

    def get_oauth_token_secret(self):
        return self.secret


CLIENTS = {os.environ["BENCH_CLIENT_ID"]: Client(os.environ["BENCH_CLIENT_ID"], os.environ["BENCH_CLIENT_SECRET"])}
TOKENS = {
    (os.environ["BENCH_CLIENT_ID"], os.environ["BENCH_TOKEN"]): TokenCredential(
        os.environ["BENCH_TOKEN"], os.environ["BENCH_TOKEN_SECRET"]
    )
}

# Nonces seen within the timestamp window (RFC 5849 §3.3), per client/token/timestamp.
_nonces = {}
_nonces_lock = threading.Lock()


def exists_nonce(nonce, timestamp, client_id, token):
    key = (nonce, timestamp, client_id, token)
    now = time.time()
    with _nonces_lock:
        if key in _nonces:
            return True
        _nonces[key] = now
        if len(_nonces) > 500_000:
            for stale in [k for k, seen in _nonces.items() if now - seen > TIMESTAMP_WINDOW]:
                del _nonces[stale]
    return False


require_oauth1 = OAuth1ResourceProtector(
    app,
    query_client=lambda client_id: CLIENTS.get(client_id),
    query_token=lambda client_id, token: TOKENS.get((client_id, token)),
    exists_nonce=exists_nonce,
)
require_oauth1.EXPIRY_TIME = TIMESTAMP_WINDOW


def answer():
    return Response(BODY, mimetype="application/json")


@app.route("/bench/items")
@require_oauth2("bench:read")
def oauth2_items():
    return answer()


@app.route("/oauth1/bench/items")
@require_oauth1()
def oauth1_items():
    return answer()

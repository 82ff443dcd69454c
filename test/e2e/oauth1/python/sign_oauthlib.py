"""Signs requests with oauthlib (Debian python3-oauthlib) for the gateway interop tests.

Reads a JSON list of request specs on stdin and prints a JSON list of signed requests
({"method", "url", "headers", "body"}) on stdout. It only signs: the Node test sends each request
to the gateway, so what is judged is exactly what oauthlib produced.

Spec fields: client_key, client_secret, resource_owner_key, resource_owner_secret,
signature_method (e.g. "HMAC-SHA1"), signature_type ("AUTH_HEADER" | "QUERY" | "BODY"),
rsa_key (PEM), realm, method, url, body (form-encoded string), headers.
"""

import json
import sys

import oauthlib
from oauthlib import oauth1

SIGNATURE_TYPES = {
    "AUTH_HEADER": oauth1.SIGNATURE_TYPE_AUTH_HEADER,
    "QUERY": oauth1.SIGNATURE_TYPE_QUERY,
    "BODY": oauth1.SIGNATURE_TYPE_BODY,
}


def sign(spec):
    client = oauth1.Client(
        spec["client_key"],
        client_secret=spec.get("client_secret"),
        resource_owner_key=spec.get("resource_owner_key"),
        resource_owner_secret=spec.get("resource_owner_secret"),
        signature_method=spec.get("signature_method", oauth1.SIGNATURE_HMAC_SHA1),
        signature_type=SIGNATURE_TYPES[spec.get("signature_type", "AUTH_HEADER")],
        rsa_key=spec.get("rsa_key"),
        realm=spec.get("realm"),
    )
    url, headers, body = client.sign(
        spec["url"],
        http_method=spec.get("method", "GET"),
        body=spec.get("body"),
        headers=spec.get("headers"),
    )
    return {
        "method": spec.get("method", "GET"),
        "url": url,
        "headers": dict(headers),
        "body": body,
    }


def main():
    specs = json.load(sys.stdin)
    json.dump({"oauthlib": oauthlib.__version__, "signed": [sign(spec) for spec in specs]}, sys.stdout)


if __name__ == "__main__":
    main()

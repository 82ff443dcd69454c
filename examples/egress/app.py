"""A Python app calling an OAuth 1.0a API through the oauth-gateway egress sidecar.

There is no OAuth code here and no secret: the app sends plain HTTP to the sidecar, which signs
each request (fresh nonce and timestamp, the exact URL and form parameters) and forwards it over
TLS. Run it next to `oauth-gateway -c examples/egress/gateway.yaml`.
"""

import json
import os

import requests

EGRESS = os.environ.get("EGRESS_URL", "http://127.0.0.1:9292")
API = f"{EGRESS}/photos-api"

# A read: query parameters (unicode and reserved characters are fine).
photos = requests.get(f"{API}/photos", params={"file": "vacation.jpg", "caption": "café & co"})

# A write: a form POST; the gateway signs the form parameters too (RFC 5849 §3.4.1.3.1).
status = requests.post(
    f"{API}/statuses/update.json",
    data={"status": "Hello Ladies + Gentlemen, a signed OAuth request!"},
)

for response in (photos, status):
    print(json.dumps({"status": response.status_code, "body": response.json()}))

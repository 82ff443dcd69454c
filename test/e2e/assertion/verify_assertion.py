"""Verify oauth-gateway identity assertions with two independent libraries: Authlib's
authlib.jose and PyJWT, each against the JWKS fetched from the gateway's admin port.

stdin: {"jwks_url": str, "issuer": str, "cases": [{"token": str, "audience": str, "now": int|null}]}
stdout: [{"authlib": {"claims": {...}, "header": {...}} | {"error": "ClassName"},
          "pyjwt":   {"claims": {...}, "header": {...}} | {"error": "ClassName"}}, ...]

`now` (unix seconds) checks expiry at another time: authlib takes it directly; PyJWT only reads
the clock, so a leeway of (real now - now) shifts its `exp` check by the same amount.
"""
import json
import sys
import time
import urllib.request

import jwt  # PyJWT (python3-jwt)
from authlib.jose import JsonWebKey, JsonWebToken  # python3-authlib
from authlib.jose.errors import JoseError

TYP = "oauth-gateway-assertion+jwt"
ALGORITHMS = ["EdDSA", "ES256", "RS256"]


def with_authlib(key_set, token, issuer, audience, now):
    try:
        claims = JsonWebToken(ALGORITHMS).decode(
            token,
            key_set,
            claims_options={
                "iss": {"essential": True, "value": issuer},
                "aud": {"essential": True, "value": audience},
                "exp": {"essential": True},
            },
        )
        claims.validate(now=now)
        if claims.header.get("typ") != TYP:
            return {"error": "WrongTyp"}
        return {"claims": dict(claims), "header": dict(claims.header)}
    except JoseError as error:
        return {"error": type(error).__name__}


def with_pyjwt(client, token, issuer, audience, now):
    try:
        key = client.get_signing_key_from_jwt(token).key
        header = jwt.get_unverified_header(token)
        if header.get("typ") != TYP:
            return {"error": "WrongTyp"}
        options = {"require": ["exp", "iat", "iss", "aud"]}
        leeway = 0
        if now is not None:
            # PyJWT reads the clock itself: a leeway of (real now - now) moves its `exp` check to
            # `now`. It would move the `iat` check the other way, so that one is off here.
            leeway = int(time.time()) - now
            options["verify_iat"] = False
        claims = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options=options,
        )
        return {"claims": claims, "header": header}
    except jwt.PyJWTError as error:
        return {"error": type(error).__name__}


def main():
    spec = json.load(sys.stdin)
    with urllib.request.urlopen(spec["jwks_url"]) as response:
        key_set = JsonWebKey.import_key_set(json.load(response))
    client = jwt.PyJWKClient(spec["jwks_url"], cache_keys=True)
    out = []
    for case in spec["cases"]:
        args = (case["token"], spec["issuer"], case["audience"], case.get("now"))
        out.append({"authlib": with_authlib(key_set, *args), "pyjwt": with_pyjwt(client, *args)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()

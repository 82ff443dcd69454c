"""django-oauth-toolkit and Authlib-on-Django tables, created by `migrate` and filled through the
ORM, for the SQL store tests.

Apps: django.contrib.auth, oauth2_provider (django-oauth-toolkit, Debian
python3-django-oauth-toolkit, with its own migrations) and `oauth1` (Authlib's Django OAuth 1.0
models, next to this file, tables made by Django's schema editor). USE_TZ with TIME_ZONE UTC, as
`django-admin startproject` writes it.

Usage:
  django_fixture.py DATABASE_URL setup            migrate, create rows, print them as JSON
  django_fixture.py DATABASE_URL revoke TOKEN     AccessToken.revoke() (deletes the row)
  django_fixture.py DATABASE_URL delete TOKEN     delete an Authlib TokenCredential
DATABASE_URL: postgres://user@host:port/name or mysql://user@host:port/name.
"""

import datetime
import json
import os
import sys
from urllib.parse import urlparse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import django  # noqa: E402
from django.conf import settings  # noqa: E402

url = urlparse(sys.argv[1])
engine = "django.db.backends.postgresql" if url.scheme.startswith("postgres") else "django.db.backends.mysql"
settings.configure(
    DATABASES={
        "default": {
            "ENGINE": engine,
            "NAME": url.path.lstrip("/"),
            "USER": url.username or "",
            "PASSWORD": url.password or "",
            "HOST": url.hostname,
            "PORT": str(url.port or ""),
        }
    },
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "oauth2_provider", "oauth1"],
    USE_TZ=True,
    TIME_ZONE="UTC",
    SECRET_KEY="sql-store-tests",
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
)
django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from oauth1.models import Client, TokenCredential  # noqa: E402
from oauth2_provider.models import AccessToken, Application  # noqa: E402


def setup():
    call_command("migrate", verbosity=0)
    # The oauth1 app has no migrations; syncdb would run before auth's, so its tables are made by
    # Django's schema editor (the DDL `migrate --run-syncdb` would have issued) once auth exists.
    with connection.schema_editor() as editor:
        editor.create_model(Client)
        editor.create_model(TokenCredential)
    bob = User.objects.create_user(username="bob", password="not-used")
    app = Application.objects.create(
        name="dot-app",
        user=bob,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    now = timezone.now()
    tokens = {
        "valid": AccessToken.objects.create(
            user=bob, application=app, token="dot-access-valid", scope="read write",
            expires=now + datetime.timedelta(hours=1),
        ),
        "expired": AccessToken.objects.create(
            user=bob, application=app, token="dot-access-expired", scope="read",
            expires=now - datetime.timedelta(minutes=1),
        ),
        "to_revoke": AccessToken.objects.create(
            user=bob, application=app, token="dot-access-to-revoke", scope="read",
            expires=now + datetime.timedelta(hours=1),
        ),
        "machine": AccessToken.objects.create(
            user=None, application=app, token="dot-access-machine", scope="read",
            expires=now + datetime.timedelta(hours=1),
        ),
    }
    consumer = Client.objects.create(user=bob, client_id="django-consumer", client_secret="django-consumer-secret")
    credential = TokenCredential.objects.create(
        user=bob, client_id=consumer.client_id, oauth_token="django-token", oauth_token_secret="django-token-secret"
    )
    print(json.dumps({
        "userId": str(bob.id),
        "username": bob.username,
        "clientId": app.client_id,
        "bearer": {name: token.token for name, token in tokens.items()},
        "client": {"clientId": consumer.client_id, "clientSecret": consumer.client_secret},
        "token": {"token": credential.oauth_token, "tokenSecret": credential.oauth_token_secret},
    }))


if __name__ == "__main__":
    action = sys.argv[2]
    if action == "setup":
        setup()
    elif action == "revoke":
        AccessToken.objects.get(token=sys.argv[3]).revoke()
    elif action == "delete":
        TokenCredential.objects.get(oauth_token=sys.argv[3]).delete()
    else:
        raise SystemExit(f"unknown action {action}")

"""The OAuth 1.0 server models of Authlib's Django docs (docs/django/1/authorization-server),
unchanged. In an app labelled `oauth1`, Django names the tables oauth1_client and
oauth1_tokencredential: the authlib-django preset's defaults."""

from authlib.oauth1 import ClientMixin, TokenCredentialMixin
from django.contrib.auth.models import User
from django.db import models


class Client(models.Model, ClientMixin):
    user = models.ForeignKey(User, on_delete=models.CASCADE)
    client_id = models.CharField(max_length=48, unique=True, db_index=True)
    client_secret = models.CharField(max_length=48, blank=True)
    default_redirect_uri = models.TextField(blank=False, default="")

    def get_default_redirect_uri(self):
        return self.default_redirect_uri

    def get_client_secret(self):
        return self.client_secret

    def get_rsa_public_key(self):
        return None


class TokenCredential(models.Model, TokenCredentialMixin):
    user = models.ForeignKey(User, on_delete=models.CASCADE)
    client_id = models.CharField(max_length=48, db_index=True)
    oauth_token = models.CharField(max_length=84, unique=True, db_index=True)
    oauth_token_secret = models.CharField(max_length=84)

    def get_oauth_token(self):
        return self.oauth_token

    def get_oauth_token_secret(self):
        return self.oauth_token_secret

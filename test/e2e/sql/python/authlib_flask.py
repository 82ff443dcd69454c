"""Authlib's Flask-SQLAlchemy models, created and filled through the ORM, for the SQL store tests.

The models are those of Authlib's docs unchanged: the Flask OAuth 1.0 server's `Client` and
`TokenCredential` (docs/flask/1/authorization-server) and an `OAuth2Token` built on
`authlib.integrations.sqla_oauth2.OAuth2TokenMixin` (docs/flask/2/authorization-server), with the
`User` they point to. Tables come from `db.create_all()`, rows from the ORM: the gateway must read
what the framework writes, not what a test author thinks it writes.

Usage (Debian python3-authlib, python3-flask-sqlalchemy, python3-psycopg2 / python3-mysqldb):
  authlib_flask.py DATABASE_URI setup           create tables and rows, print them as JSON
  authlib_flask.py DATABASE_URI revoke TOKEN    OAuth2Token.access_token_revoked_at = now
  authlib_flask.py DATABASE_URI delete OAUTH_TOKEN   delete a TokenCredential
"""

import json
import sys
import time

from authlib.integrations.sqla_oauth2 import OAuth2TokenMixin
from authlib.oauth1 import ClientMixin, TokenCredentialMixin
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = sys.argv[1]
db = SQLAlchemy(app)


class User(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String(40), unique=True)


class Client(ClientMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id", ondelete="CASCADE"))
    user = db.relationship("User")
    client_id = db.Column(db.String(48), index=True)
    client_secret = db.Column(db.String(120), nullable=False)
    default_redirect_uri = db.Column(db.Text, nullable=False, default="")

    def get_default_redirect_uri(self):
        return self.default_redirect_uri

    def get_client_secret(self):
        return self.client_secret

    def get_rsa_public_key(self):
        return None


class TokenCredential(TokenCredentialMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id", ondelete="CASCADE"))
    user = db.relationship("User")
    client_id = db.Column(db.String(48), index=True)
    oauth_token = db.Column(db.String(84), unique=True, index=True)
    oauth_token_secret = db.Column(db.String(84))

    def get_oauth_token(self):
        return self.oauth_token

    def get_oauth_token_secret(self):
        return self.oauth_token_secret


class OAuth2Token(db.Model, OAuth2TokenMixin):
    __tablename__ = "oauth2_token"
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id", ondelete="CASCADE"))
    user = db.relationship("User")


def setup():
    db.create_all()
    alice = User(username="alice")
    db.session.add(alice)
    db.session.flush()
    now = int(time.time())
    client = Client(user=alice, client_id="flask-consumer", client_secret="flask-consumer-secret")
    credential = TokenCredential(
        user=alice,
        client_id="flask-consumer",
        oauth_token="flask-token",
        oauth_token_secret="flask-token-secret",
    )
    doomed = TokenCredential(
        user=alice,
        client_id="flask-consumer",
        oauth_token="flask-token-to-delete",
        oauth_token_secret="doomed-secret",
    )
    tokens = {
        "valid": OAuth2Token(
            user=alice, client_id="flask-app", token_type="Bearer", access_token="flask-access-valid",
            scope="photos:read profile", issued_at=now, expires_in=3600,
        ),
        "expired": OAuth2Token(
            user=alice, client_id="flask-app", token_type="Bearer", access_token="flask-access-expired",
            scope="photos:read", issued_at=now - 7200, expires_in=3600,
        ),
        "revoked": OAuth2Token(
            user=alice, client_id="flask-app", token_type="Bearer", access_token="flask-access-revoked",
            scope="photos:read", issued_at=now, expires_in=3600, access_token_revoked_at=now,
        ),
        "to_revoke": OAuth2Token(
            user=alice, client_id="flask-app", token_type="Bearer", access_token="flask-access-to-revoke",
            scope="photos:read", issued_at=now, expires_in=3600,
        ),
    }
    db.session.add_all([client, credential, doomed, *tokens.values()])
    db.session.commit()
    print(json.dumps({
        "userId": str(alice.id),
        "username": alice.username,
        "client": {"clientId": client.client_id, "clientSecret": client.client_secret},
        "token": {"token": credential.oauth_token, "tokenSecret": credential.oauth_token_secret},
        "doomed": {"token": doomed.oauth_token, "tokenSecret": doomed.oauth_token_secret},
        "bearer": {name: token.access_token for name, token in tokens.items()},
    }))


def revoke(access_token):
    token = OAuth2Token.query.filter_by(access_token=access_token).one()
    token.access_token_revoked_at = int(time.time())
    db.session.commit()


def delete(oauth_token):
    db.session.delete(TokenCredential.query.filter_by(oauth_token=oauth_token).one())
    db.session.commit()


if __name__ == "__main__":
    with app.app_context():
        action = sys.argv[2]
        if action == "setup":
            setup()
        elif action == "revoke":
            revoke(sys.argv[3])
        elif action == "delete":
            delete(sys.argv[3])
        else:
            raise SystemExit(f"unknown action {action}")

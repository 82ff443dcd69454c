"""A real Authlib 1.x deployment for test/e2e/authlib/: run as the authorization server or as the
resource app, both on one SQLite database (the shape of Authlib's example-oauth2-server).

  authlib_app.py as         Flask + flask_sqlalchemy, OAuth2ClientMixin/OAuth2TokenMixin models,
                            Integer user ids (alice is 42), password and client_credentials grants,
                            RFC 7662 introspection and RFC 7009 revocation, at+jwt tokens for the
                            client `jwt-app`, /jwks, Redis records from the token hooks.
  authlib_app.py resource   the app being migrated: /api/photos with @require_oauth while
                            PROTECT_IN_APP=1, reading X-OAuth-User once the decorators are gone.

Everything the migration guide tells users to write is not written here: it is loaded from the
`# guide: <name>` code blocks of docs/migration-authlib.md and docs/redis.md and executed, so the
guides stay true. Listens on 127.0.0.1, port 0, and prints {"port": N} on stdout when ready.
"""

import datetime
import json
import os
import re
import sys
import time
import uuid

# Plain HTTP on loopback in tests; Authlib otherwise insists on https (InsecureTransportError).
os.environ.setdefault('AUTHLIB_INSECURE_TRANSPORT', '1')

from authlib.common.security import generate_token
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector, current_token
from authlib.integrations.sqla_oauth2 import (
    OAuth2ClientMixin,
    OAuth2TokenMixin,
    create_bearer_token_validator,
    create_query_client_func,
)
from authlib.jose import JsonWebKey
from authlib.oauth2.rfc6749 import grants
from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from werkzeug.serving import make_server

MODE = sys.argv[1]
DOCS = os.environ['DOCS_DIR']

app = Flask(__name__)
app.config.update(
    SQLALCHEMY_DATABASE_URI='sqlite:///' + os.environ['DB_PATH'],
    SQLALCHEMY_TRACK_MODIFICATIONS=False,
    OAUTH2_TOKEN_EXPIRES_IN={'password': 3600, 'client_credentials': 3600},
)
db = SQLAlchemy(app)


class User(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String(40), unique=True)
    password = db.Column(db.String(40))

    def get_user_id(self):
        return self.id

    def check_password(self, password):
        return password == self.password


class OAuth2Client(db.Model, OAuth2ClientMixin):
    __tablename__ = 'oauth2_client'
    id = db.Column(db.Integer, primary_key=True)


class OAuth2Token(db.Model, OAuth2TokenMixin):
    __tablename__ = 'oauth2_token'
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey('user.id', ondelete='CASCADE'))
    user = db.relationship('User')


def guide(doc, name):
    """Run the `# guide: name` python block of docs/<doc> in this module's namespace."""
    with open(os.path.join(DOCS, doc), encoding='utf-8') as handle:
        text = handle.read()
    match = re.search(r'```python\n# guide: %s\n(.*?)```' % re.escape(name), text, re.S)
    if match is None:
        sys.exit(f'authlib_app.py: no "# guide: {name}" python block in docs/{doc}')
    exec(compile(match.group(1), f'docs/{doc} ({name})', 'exec'), globals())


def seed():
    db.create_all()
    if User.query.count():
        return
    db.session.add_all([User(id=42, username='alice', password='wonderland'),
                        User(id=7, username='bob', password='builder')])
    clients = [
        ('photo-app', 'photoappsecret', ['password', 'client_credentials']),
        ('jwt-app', 'jwtappsecret', ['password', 'client_credentials']),
        ('gateway', os.environ['GATEWAY_SECRET'], []),
        # A secret RFC 6749 §2.3.1 form-encodes: Authlib 1.2 does not decode Basic credentials.
        ('gateway-plus', 'gw+se/cret=', []),
    ]
    for client_id, secret, grant_types in clients:
        client = OAuth2Client(client_id=client_id, client_secret=secret, client_id_issued_at=int(time.time()))
        client.set_client_metadata({
            'grant_types': grant_types,
            'response_types': [],
            'redirect_uris': [],
            'scope': 'profile photos:read photos:write admin',
            'token_endpoint_auth_method': 'client_secret_basic',
        })
        db.session.add(client)
    db.session.commit()


if MODE == 'as':
    guide('redis.md', 'redis-hooks')
    guide('redis.md', 'redis-wiring')
    guide('migration-authlib.md', 'at-jwt')

    # One server issues both kinds: at+jwt only for `jwt-app`, opaque tokens for everyone else.
    def access_token_generator(client, grant_type, user, scope):
        if client.client_id == 'jwt-app':
            return generate_at_jwt(client, grant_type, user, scope)
        return generate_token(42)

    app.config['OAUTH2_ACCESS_TOKEN_GENERATOR'] = access_token_generator
    authorization = AuthorizationServer(
        app, query_client=create_query_client_func(db.session, OAuth2Client), save_token=save_token)

    class PasswordGrant(grants.ResourceOwnerPasswordCredentialsGrant):
        def authenticate_user(self, username, password):
            user = User.query.filter_by(username=username).first()
            return user if user is not None and user.check_password(password) else None

    authorization.register_grant(PasswordGrant)
    authorization.register_grant(grants.ClientCredentialsGrant)
    authorization.register_endpoint(RevocationEndpoint)
    guide('migration-authlib.md', 'introspection-endpoint')

    class DateExpIntrospectionEndpoint(GatewayIntrospectionEndpoint):
        """A handler mistake the gateway must refuse: `exp` as a datetime (Flask sends a date string)."""
        ENDPOINT_NAME = 'introspection-date-exp'

        def introspect_token(self, token):
            answer = super().introspect_token(token)
            answer['exp'] = datetime.datetime.utcfromtimestamp(answer['exp'])
            return answer

    authorization.register_endpoint(DateExpIntrospectionEndpoint)

    class PostIntrospectionEndpoint(GatewayIntrospectionEndpoint):
        """The guide's workaround for secrets with + / =: also accept client_secret_post."""
        ENDPOINT_NAME = 'introspection-post'
        CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post']

        def check_permission(self, token, client, request):
            return client.client_id == 'gateway-plus'

    authorization.register_endpoint(PostIntrospectionEndpoint)

    @app.route('/oauth/introspect-post', methods=['POST'])
    def introspect_post():
        return authorization.create_endpoint_response('introspection-post')

    @app.route('/oauth/token', methods=['POST'])
    def issue_token():
        return authorization.create_token_response()

    @app.route('/oauth/revoke', methods=['POST'])
    def revoke_token():
        return authorization.create_endpoint_response('revocation')

    @app.route('/oauth/introspect-date-exp', methods=['POST'])
    def introspect_date_exp():
        return authorization.create_endpoint_response('introspection-date-exp')

    @app.route('/test/rotate-key', methods=['POST'])
    def rotate_key():
        # Published and used at once: the harshest rotation (the guide says publish first).
        SIGNING_KEYS.insert(0, JsonWebKey.generate_key('RSA', 2048, is_private=True, options={'kid': uuid.uuid4().hex}))
        return jsonify(kid=SIGNING_KEYS[0].kid)

    @app.route('/test/oauth1-records', methods=['POST'])
    def oauth1_records():
        # The guide's OAuth1 record writers, given Authlib-model-shaped objects.
        class Record:
            def __init__(self, **fields):
                self.__dict__.update(fields)
        body = request.get_json()
        save_oauth1_client(Record(client_id=body['clientId'], client_secret=body['clientSecret'], rsa_public_key=None))
        save_oauth1_token(Record(oauth_token=body['token'], oauth_token_secret=body['tokenSecret'],
                                 client_id=body['clientId'], user_id=42, scope='photos:read'))
        return jsonify(ok=True)

    with app.app_context():
        seed()
elif MODE == 'resource':
    require_oauth = ResourceProtector()
    require_oauth.register_token_validator(create_bearer_token_validator(db.session, OAuth2Token)())
    protected = os.environ.get('PROTECT_IN_APP') == '1'
    guide('migration-authlib.md', 'app-before' if protected else 'app-after')

    @app.after_request
    def report_authorization(response):
        # Test instrumentation: did the gateway forward the Authorization header?
        response.headers['X-Saw-Authorization'] = 'yes' if 'Authorization' in request.headers else 'no'
        return response
else:
    sys.exit(f'usage: authlib_app.py as|resource (got {MODE!r})')

server = make_server('127.0.0.1', int(os.environ.get('PORT', '0')), app, threaded=True)
print(json.dumps({'port': server.port}), flush=True)
server.serve_forever()

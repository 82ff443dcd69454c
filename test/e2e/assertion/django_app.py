"""Runs docs/upstream-integration.md's Django middleware (written beside this run as
middleware.py by test/e2e/assertion-snippets.test.ts) in a minimal Django project on PORT.
The view answers with the identity the middleware put on the request."""
import os
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server

import django
from django.conf import settings
from django.http import JsonResponse
from django.urls import path

sys.path.insert(0, os.environ["SNIPPET_DIR"])

settings.configure(
    DEBUG=False,
    SECRET_KEY="snippet-test",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["middleware.GatewayAssertionMiddleware"],
)
django.setup()


def photo(request, photo_id):
    return JsonResponse({"id": photo_id, "owner": request.oauth_user, "client": request.oauth_client_id})


urlpatterns = [path("photos/<int:photo_id>", photo)]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


if __name__ == "__main__":
    from django.core.wsgi import get_wsgi_application

    server = make_server("127.0.0.1", int(os.environ["PORT"]), get_wsgi_application(), handler_class=QuietHandler)
    print("ready", flush=True)
    server.serve_forever()

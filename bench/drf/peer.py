"""The peer the portal is measured against: Django REST Framework's TokenAuthentication, as shipped.

A one-file Django project with the middleware `startproject` writes, JSON rendering only, on SQLite.
Serve with ``gunicorn peer:application`` (from this folder); seed with ``python peer.py seed N``,
which creates N users with a token each and prints the first one's token.
"""

import os
import sys
from pathlib import Path

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-only-" + "x" * 40,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3",
                           "NAME": os.environ.get("PEER_DATABASE", str(Path(__file__).with_name("peer.sqlite3")))}},
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework",
                    "rest_framework.authtoken"],
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ],
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    },
    USE_TZ=True,
)
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402


class TokenSelf(APIView):
    def get(self, request):
        return Response({"status": "success", "data": {"token": {"user": request.user.username}}})


urlpatterns = [path("api/2018-10-01/tokens/self", TokenSelf.as_view())]
application = get_wsgi_application()


def seed(count: int) -> str:
    """Create ``count`` users with a token each; return the first user's token."""
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    call_command("migrate", verbosity=0)
    for start in range(0, count, 10_000):
        users = User.objects.bulk_create([User(username=f"user{n}", password="!")  # noqa: S106 (unusable)
                                          for n in range(start, min(start + 10_000, count))])
        Token.objects.bulk_create([Token(user=user, key=Token.generate_key()) for user in users])
    return Token.objects.get(user__username="user0").key


if __name__ == "__main__" and sys.argv[1:2] == ["seed"]:
    print(seed(int(sys.argv[2])))

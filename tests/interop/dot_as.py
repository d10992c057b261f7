"""Authorization server for scripts/interop.sh: django-oauth-toolkit (PyPI), an independently
written OAuth 2.0 server for Django, deployed the usual way (its URLconf mounted at the site
root, Django's session login in front of its consent page) with the settings MCP deployments
use: PKCE required, open dynamic client registration (RFC 7591), RFC 8252 §7.3 loopback
redirects on any port, RFC 8707 resource binding (introspection reports `aud`), rotating
refresh tokens, revocation (RFC 7009) and introspection (RFC 7662) for the MCP server.

    python dot_as.py --port P --log FILE --db FILE [--db-template FILE] [--ttl SECS] [--no-rotate] [--iss]
        [--no-dcr --client ID --redirect-port N] [--introspect-client ID:SECRET]

Without --iss the RFC 9207 `iss` authorization-response parameter is neither sent nor
advertised (django-oauth-toolkit's default). Every request is appended to FILE as one JSON
line (method, path, status, grant_type, error), so the suite counts requests from the server's
side. The user is INTEROP_USER / INTEROP_PASSWORD.
"""

import argparse
import json
import os
import shutil
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--db", required=True)
parser.add_argument("--db-template", help="a migrated empty database to start from (made when missing)")
parser.add_argument("--ttl", type=int, default=3600)
parser.add_argument("--no-rotate", action="store_true")
parser.add_argument("--iss", action="store_true")
parser.add_argument("--no-dcr", action="store_true")
parser.add_argument("--client", help="a pre-registered public client_id")
parser.add_argument("--redirect-port", type=int, help="its one registered redirect URI's port")
parser.add_argument("--introspect-client", default="mcp-resource-server:rs-secret")
args = parser.parse_args()

ISSUER = f"http://127.0.0.1:{args.port}"
USER = os.environ.get("INTEROP_USER", "alice")
PASSWORD = os.environ.get("INTEROP_PASSWORD", "interop-password")
LOG = open(args.log, "a", buffering=1)

LOGIN_TEMPLATE = """<!DOCTYPE html><html><head><title>Sign in</title></head><body>
<h1>Sign in</h1>
<form method="post">{% csrf_token %}{{ form.as_p }}
<input type="hidden" name="next" value="{{ next }}"><button type="submit">Sign in</button></form>
</body></html>"""

from django.conf import settings  # noqa: E402

settings.configure(
    DEBUG=False,
    SECRET_KEY=os.urandom(32).hex(),
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "oauth2_provider",
    ],
    MIDDLEWARE=[
        __name__ + ".request_log",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": args.db}},
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "OPTIONS": {
                "loaders": [
                    ("django.template.loaders.locmem.Loader", {"registration/login.html": LOGIN_TEMPLATE}),
                    "django.template.loaders.app_directories.Loader",
                ],
                "context_processors": ["django.template.context_processors.request"],
            },
        }
    ],
    STATIC_URL="/static/",
    LOGIN_URL="/accounts/login/",
    USE_TZ=True,
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"],
    OAUTH2_PROVIDER={
        "SCOPES": {"mcp": "Use the MCP server", "introspection": "Introspect tokens"},
        "DEFAULT_SCOPES": ["mcp"],
        "ACCESS_TOKEN_EXPIRE_SECONDS": args.ttl,
        "ROTATE_REFRESH_TOKEN": not args.no_rotate,
        "PKCE_REQUIRED": True,
        "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
        "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": args.iss,
        "OIDC_ISS_ENDPOINT": ISSUER,
        "DCR_ENABLED": not args.no_dcr,
        "DCR_REGISTRATION_PERMISSION_CLASSES": ("oauth2_provider.dcr.AllowAllDCRPermission",),
    },
)

import django  # noqa: E402

django.setup()

from django.contrib.auth import views as auth_views  # noqa: E402
from django.urls import include, path  # noqa: E402


def request_log(get_response):
    """Django middleware: one JSON line per request, written after the response."""

    def middleware(request):
        grant_type = request.POST.get("grant_type") if request.method == "POST" and request.path.endswith("/token/") else None
        response = get_response(request)
        error = None
        if response.get("Content-Type", "").startswith("application/json") and response.status_code >= 400:
            try:
                error = json.loads(response.content).get("error")
            except (ValueError, AttributeError):
                pass
        body = {}
        if grant_type and response.status_code == 200:
            try:
                body = json.loads(response.content)
            except ValueError:
                pass
        LOG.write(
            json.dumps(
                {
                    "t": int(time.time() * 1000),
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "grant_type": grant_type,
                    "error": error,
                    "dpop": "HTTP_DPOP" in request.META,
                    "token_type": body.get("token_type"),
                    "refresh_token_issued": isinstance(body.get("refresh_token"), str),
                    "ua": request.META.get("HTTP_USER_AGENT", ""),
                },
                separators=(",", ":"),
            )
            + "\n"
        )
        return response

    return middleware


urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view()),
    path("", include("oauth2_provider.urls")),
]


def setup():
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from oauth2_provider.models import Application

    # Migrating an empty SQLite database takes seconds; a migrated copy is kept as a template.
    if args.db_template and os.path.exists(args.db_template):
        shutil.copyfile(args.db_template, args.db)
    call_command("migrate", verbosity=0, interactive=False)
    if args.db_template and not os.path.exists(args.db_template):
        shutil.copyfile(args.db, args.db_template + ".tmp")
        os.replace(args.db_template + ".tmp", args.db_template)
    User.objects.create_user(USER, password=PASSWORD)
    rs_id, rs_secret = args.introspect_client.split(":", 1)
    Application.objects.create(
        name="MCP resource server",
        client_id=rs_id,
        client_secret=rs_secret,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    if args.client:
        # A client registered by hand, with one exact loopback redirect URI.
        Application.objects.create(
            name="mcp-oauth (pre-registered)",
            client_id=args.client,
            client_type=Application.CLIENT_PUBLIC,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=f"http://127.0.0.1:{args.redirect_port}/callback",
            client_secret="",
        )


if __name__ == "__main__":
    setup()
    import uvicorn
    from django.core.asgi import get_asgi_application

    print(f"django-oauth-toolkit listening at {ISSUER}", file=sys.stderr, flush=True)
    uvicorn.run(get_asgi_application(), host="127.0.0.1", port=args.port, log_level="warning")

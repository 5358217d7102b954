"""Settings: code defaults, then the instance folder's config.py and FLASK_* variables (or the test dict).

Keys are generated per install unless configured; production refuses to start without explicit,
strong and distinct ones.
"""

import ipaddress
import json
import os
import re
import secrets

from flask import current_app, has_request_context, request
from sqlalchemy import make_url

DEFAULTS = {
    "SQLALCHEMY_DATABASE_URI": None,  # SQLite in the instance folder unless configured
    "TOKEN_PREFIX": "tok",
    "TOKENS_PER_MEMBER": 50,
    "API_LOGIN_TOKEN_DAYS": 30,
    "INVITATION_DAYS": 7,
    # Nothing the portal accepts comes near this; larger bodies get a 413.
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "HTTPS": False,
    # How many reverse proxies stand in front of the portal (their X-Forwarded-* headers are trusted).
    "PROXIES": 0,
    "PRODUCTION": False,
    # The portal's address as its users reach it (https://tokens.example.com): every link it gives out starts
    # with it, and the pages answer only to its host name and TRUSTED_HOSTS'. Unset: the address each request
    # came to, and any host name (unless TRUSTED_HOSTS names some).
    "PUBLIC_URL": None,
    "SQLITE_BUSY_TIMEOUT": 10,
    # Sign-in (web and API) and failed token authentication, per client address.
    "SIGN_IN_RATE_LIMIT": "10 per minute",
    "FAILED_AUTH_RATE_LIMIT": "30 per minute",
    # Leak reports (POST tokens/revoke, up to 100 values each), per client address.
    "LEAK_REPORT_RATE_LIMIT": "10 per minute;200 per day",
    # Where background work waits for the worker: sqlite:///path (default: queue.sqlite3 in the instance
    # folder) or, with several instances, redis://host:port/db.
    "QUEUE_URL": None,
    # Webhooks: how long a receiver has to answer (seconds); the waits between attempts (seconds: 7 attempts
    # over about 17 hours); how many deliveries in a row may fail every attempt before the endpoint is turned
    # off; how long the delivery log keeps what was settled (days); how many endpoints an account may have.
    "WEBHOOK_TIMEOUT": 10,
    "WEBHOOK_RETRY_DELAYS": [5, 300, 1800, 7200, 18000, 36000],
    "WEBHOOK_DISABLE_AFTER": 5,
    "WEBHOOK_LOG_DAYS": 30,
    "WEBHOOKS_PER_ACCOUNT": 10,
    # Networks webhooks may reach although they are loopback, private, link-local or the portal's own, such as
    # 10.0.0.0/8 for a chat server on the office network: none unless an operator names them.
    "WEBHOOK_ALLOWED_NETWORKS": [],
    # A PEM file of certificate authorities webhooks trust besides the system's (an office's own CA).
    "WEBHOOK_CA_BUNDLE": None,
    # Failed sign-ins per account (web and API together) from any number of addresses: OWASP ASVS asks for
    # at most 100 an hour. A browser that signed in to the account before counts its own failures instead
    # (a device cookie), so guessing from elsewhere cannot lock the member out of their own browser.
    "ACCOUNT_SIGN_IN_RATE_LIMIT": "100 per hour",
    "DEVICE_SIGN_IN_RATE_LIMIT": "10 per hour",
    "DEVICE_COOKIE_DAYS": 365,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    "RATELIMIT_ENABLED": True,
    # With the storage down, skip the limits (the API keeps working); sign-in refuses itself instead.
    "RATELIMIT_SWALLOW_ERRORS": True,
    # A signed-in session ends after this many minutes without a request, and this many hours after sign-in
    # whatever happens (NIST SP 800-63B asks 12 hours at most for reauthentication at AAL2). A CSRF token
    # lives no longer than a session.
    "SESSION_IDLE_MINUTES": 60,
    "SESSION_MAX_HOURS": 12,
    # GitHub's "sudo mode": making credentials (Generate), inviting and changing roles ask for the password
    # again when it was last typed (at sign-in, or to confirm) longer ago than this.
    "SUDO_MODE_MINUTES": 120,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    # argon2-cffi's own defaults (RFC 9106 low-memory profile), above OWASP's floors.
    "ARGON2_PARAMETERS": {},
    # Email, optional: off while MAIL_SERVER is unset. The worker sends it over SMTP (Flask-Mailman's settings),
    # never a web request. MAIL_PASSWORD is a secret: no page or log line shows it.
    "MAIL_SERVER": None,
    "MAIL_PORT": 25,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_USE_TLS": False,  # STARTTLS, usually on port 587
    "MAIL_USE_SSL": False,  # TLS from the start, usually on port 465
    "MAIL_DEFAULT_SENDER": None,  # unset: noreply@ the host of PUBLIC_URL (or localhost)
    "MAIL_TIMEOUT": 10,  # seconds a slow SMTP server may take before a send fails (and is tried again)
    # Flask-Mailman writes to memory when TESTING: the portal always means SMTP.
    "MAIL_BACKEND": "smtp",
    # "Forgot your password?" requests, per client address and per email address (known or not alike).
    "PASSWORD_RESET_RATE_LIMIT": "5 per minute;50 per day",
    "PASSWORD_RESET_EMAIL_RATE_LIMIT": "3 per hour",
}

# What FLASK_HTTPS=true adds to every answer of both apps: browsers are to come back by HTTPS only, for a
# year. Not includeSubDomains (nor preload): it would bind every host under the portal's name (a whole
# domain's, if served at its apex), hosts the portal neither runs nor knows to serve HTTPS.
HTTPS_HEADERS = {"Strict-Transport-Security": "max-age=31536000"}

# Where links point when neither PUBLIC_URL nor a request says: the address `bin/run` serves.
LOCAL_URL = "http://127.0.0.1:5000"
PUBLIC_URL_FORM = re.compile(r"(https?)://([a-z0-9-]+(?:\.[a-z0-9-]+)*)(:[0-9]{1,5})?/?", re.IGNORECASE)
# A name in TRUSTED_HOSTS: a host name or IPv4 address; a leading dot stands for every host under it.
HOST_NAME_FORM = re.compile(r"\.?[a-z0-9-]+(?:\.[a-z0-9-]+)*")

# Keys that must be secret and shared by every instance; never the same value twice.
SECRET_SETTINGS = ("SECRET_KEY", "TOKEN_DIGEST_KEY")
KNOWN_WEAK_SECRETS = {"", "dev", "secret", "changeme", "change-me", "development"}


def configure(app, test_config=None) -> None:
    """Load the settings into ``app.config``, from the defaults up; refuse an unsafe production start."""
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env()
        if os.environ.get("DATABASE_URL"):
            app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    else:
        app.config.from_mapping(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    _configure_secrets(app)
    _configure_database(app)
    _configure_public_address(app)
    _check_durations(app.config)
    _check_webhooks(app.config)
    app.config["SESSION_COOKIE_SECURE"] = app.config["REMEMBER_COOKIE_SECURE"] = bool(app.config["HTTPS"])
    if app.config["HTTPS"]:
        # Secure, Path=/ and no Domain, which browsers then enforce: a sibling subdomain cannot plant the cookie.
        app.config["SESSION_COOKIE_NAME"] = "__Host-session"
    app.config["WTF_CSRF_TIME_LIMIT"] = int(app.config["SESSION_MAX_HOURS"]) * 3600


def _configure_secrets(app) -> None:
    """Use configured keys; outside production, create per-install keys in the instance folder.

    Production refuses to start without explicit, strong and distinct keys, since several
    instances must share them and a default would let anyone forge sessions.
    """
    missing = [name for name in SECRET_SETTINGS if not app.config.get(name)]
    if missing and app.config["PRODUCTION"]:
        raise RuntimeError(f"Production needs {', '.join('FLASK_' + m for m in missing)} set.")
    if missing:
        path = os.path.join(app.instance_path, "keys.json")
        try:
            with open(path) as file:
                stored = json.load(file)
        except FileNotFoundError:
            stored = {}
        if any(name not in stored for name in missing):
            stored.update({name: secrets.token_urlsafe(32) for name in missing if name not in stored})
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as file:
                json.dump(stored, file)
        for name in missing:
            app.config[name] = stored[name]
    if app.config["PRODUCTION"]:
        for name in SECRET_SETTINGS:
            value = str(app.config[name])
            if value.lower() in KNOWN_WEAK_SECRETS or len(value) < 32:
                raise RuntimeError(f"FLASK_{name} is a default or too short (32 characters at least).")
    if str(app.config["SECRET_KEY"]) == str(app.config["TOKEN_DIGEST_KEY"]):
        raise RuntimeError("TOKEN_DIGEST_KEY must differ from SECRET_KEY.")


# Durations a session's rules count in: whole minutes or hours, at least one.
DURATIONS = ("SESSION_IDLE_MINUTES", "SESSION_MAX_HOURS", "SUDO_MODE_MINUTES")


def _check_durations(config) -> None:
    """Refuse to start with a duration that is not a positive whole number (every request would fail on it)."""
    for name in DURATIONS:
        value = config[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RuntimeError(f"FLASK_{name} must be a whole number of at least 1, not {value!r}.")


def _check_webhooks(config) -> None:
    """Read the webhook settings written as text (names separated by commas) and refuse ones that cannot work."""
    for name in ("WEBHOOK_ALLOWED_NETWORKS", "WEBHOOK_RETRY_DELAYS"):
        if isinstance(config[name], str):
            config[name] = [part.strip() for part in config[name].split(",") if part.strip()]
    try:
        for network in config["WEBHOOK_ALLOWED_NETWORKS"]:
            ipaddress.ip_network(network, strict=False)
    except ValueError as error:
        raise RuntimeError(f"FLASK_WEBHOOK_ALLOWED_NETWORKS: {error} (write networks as 10.0.0.0/8, ::1/128)."
                           ) from None
    try:
        config["WEBHOOK_RETRY_DELAYS"] = delays = [float(delay) for delay in config["WEBHOOK_RETRY_DELAYS"]]
        if any(delay < 0 for delay in delays):
            raise ValueError
    except (TypeError, ValueError):
        raise RuntimeError("FLASK_WEBHOOK_RETRY_DELAYS holds the seconds between attempts, such as 5,300,1800."
                           ) from None
    if config["WEBHOOK_CA_BUNDLE"] and not os.path.isfile(config["WEBHOOK_CA_BUNDLE"]):
        raise RuntimeError(f"FLASK_WEBHOOK_CA_BUNDLE names no file: {config['WEBHOOK_CA_BUNDLE']}.")
    for name in ("WEBHOOK_TIMEOUT", "WEBHOOK_DISABLE_AFTER", "WEBHOOK_LOG_DAYS", "WEBHOOKS_PER_ACCOUNT"):
        value = config[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise RuntimeError(f"FLASK_{name} must be a number above 0, not {value!r}.")


def _configure_database(app) -> None:
    """Default to SQLite in the instance folder, waiting on locks rather than failing at once."""
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        path = os.path.join(app.instance_path, "portal.sqlite3")
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        if make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database in (None, "", ":memory:"):
            # Each of the portal's two apps (pages, API) has its own engine: each would see its own empty database.
            raise RuntimeError("An in-memory SQLite database cannot serve the portal: give a file (sqlite:///path).")
        options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        options.setdefault("connect_args", {}).setdefault("timeout", app.config["SQLITE_BUSY_TIMEOUT"])


def _configure_public_address(app) -> None:
    """Check PUBLIC_URL (kept without a trailing slash) and TRUSTED_HOSTS; gather the host names the pages
    answer to in PAGE_HOSTS (None: any).

    Flask would check its own TRUSTED_HOSTS in both apps, since they share this configuration; the API must
    answer any Host (forward auth is asked by the protected service's name), so the setting moves to
    PAGE_HOSTS, which only the pages check (``browser.refuse_other_hosts``).
    """
    public = app.config["PUBLIC_URL"] = _public_url(app.config["PUBLIC_URL"])
    hosts = [PUBLIC_URL_FORM.fullmatch(public).group(2)] if public else []
    hosts += _trusted_hosts(app.config.get("TRUSTED_HOSTS"))
    app.config["TRUSTED_HOSTS"] = None
    app.config["PAGE_HOSTS"] = hosts or None


def _public_url(value) -> str | None:
    """Return PUBLIC_URL as ``scheme://host[:port]``, lowercase, or None when unset; refuse anything else."""
    if value is None or value == "":
        return None
    form = PUBLIC_URL_FORM.fullmatch(value) if isinstance(value, str) else None
    if form is None or (form.group(3) and not 0 < int(form.group(3)[1:]) < 65536):
        raise RuntimeError(
            "FLASK_PUBLIC_URL must be the portal's address as its users reach it: http:// or https://, a host "
            f"name and perhaps a port, nothing after it (such as https://tokens.example.com), not {value!r}.")
    return f"{form.group(1)}://{form.group(2)}{form.group(3) or ''}".lower()


def _trusted_hosts(value) -> list[str]:
    """Read TRUSTED_HOSTS: a list (FLASK_TRUSTED_HOSTS as JSON) or names separated by commas."""
    if value is None or value == "":
        return []
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list | tuple):
        names = [names]
    hosts = []
    for name in names:
        host = name.strip().lower() if isinstance(name, str) else name
        if host == "":  # "a, b," and the like
            continue
        if not isinstance(host, str) or not HOST_NAME_FORM.fullmatch(host):
            raise RuntimeError(
                "FLASK_TRUSTED_HOSTS holds host names, without scheme or port (such as portal.internal, or "
                f".example.com for every host under it), not {name!r}.")
        hosts.append(host)
    return hosts


def start_warnings(config) -> list[str]:
    """What an operator should hear when the portal starts serving: a risky setting it still starts with."""
    warnings = []
    if config["PRODUCTION"] and not config["PUBLIC_URL"]:
        pages = "" if config["PAGE_HOSTS"] else ", and the pages answer to any host name"
        warnings.append(f"FLASK_PUBLIC_URL is not set: invitation links take their address from the request's "
                        f"Host header{pages}. Set it to the portal's address, such as https://tokens.example.com.")
    if config["MAIL_SERVER"] and not config["PUBLIC_URL"]:
        warnings.append(f"FLASK_MAIL_SERVER is set but FLASK_PUBLIC_URL is not: emailed reset links and expiry "
                        f"warnings point to {LOCAL_URL}. Set it to the portal's address, such as "
                        "https://tokens.example.com.")
    return warnings


def public_url(path: str = "", local: str | None = None) -> str:
    """The portal's address as its users reach it, followed by ``path``: every link that leaves the portal
    (invitations, reset and first-run links) is made here.

    PUBLIC_URL when set; else, in a request, the address that request came to (``request.host_url``); else (a
    command, the start) ``local``, the address being served if known, or LOCAL_URL. Needs an app context.
    """
    if current_app.config["PUBLIC_URL"]:
        address = current_app.config["PUBLIC_URL"]
    elif has_request_context():
        address = request.host_url.rstrip("/")
    else:
        address = local or LOCAL_URL
    return address + path

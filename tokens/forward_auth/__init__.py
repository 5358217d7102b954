"""Forward auth: the portal answers a reverse proxy's question "may this request pass?" for the team's services.

nginx (``auth_request``), Caddy (``forward_auth``) and Traefik (``forwardAuth``) ask the API's ``verify``
endpoint about each request to a protected service. A 200 carries the caller's identity in the headers
below, which the proxy copies to the service; a 401 or 403 stops the request at the proxy. The proxies'
configurations are generated here, from the templates beside this module, for ``flask forward-auth``, the
README and the tests alike.
"""

import json
import re
from pathlib import Path
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined

# What a service behind the proxy learns about the caller, one header each, in identity_headers' order.
IDENTITY = ("X-Portal-Account-Id", "X-Portal-Member-Id", "X-Portal-Member-Email", "X-Portal-Member-Role",
            "X-Portal-Token-Id", "X-Portal-Token-Scope")
# The token itself: the service needs the identity, not the secret, so the proxy removes these.
CREDENTIALS = ("X-Auth-Token", "Authorization")

# Methods that only read. Anything else (a method the portal has never heard of included) writes.
READING = frozenset(("GET", "HEAD", "OPTIONS"))
# Where a proxy says which method the client used: nginx's subrequest always arrives as GET.
FORWARDED_METHODS = ("HTTP_X_ORIGINAL_METHOD", "HTTP_X_FORWARDED_METHOD")
# Printable ASCII but "%", which an email keeps as it is; everything else is percent-encoded UTF-8.
_EMAIL_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")

# What nginx answers in the portal's place when it cannot pass the portal's answer on (Caddy and Traefik do).
TOO_MANY = "Too many failed authentications from your address: try again after Retry-After seconds."
UNAVAILABLE = "Authentication is unavailable right now: try again shortly."

PROXIES = {"nginx": "nginx.conf", "caddy": "Caddyfile", "traefik": "traefik.yml"}
# Configuration files, not HTML: nothing to escape, and the two addresses are checked before they go in.
_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent), undefined=StrictUndefined,  # noqa: S701
                         keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
# What would end a value or a line in one of the three syntaxes.
_UNSAFE = re.compile(r"[\s\"'`;{}$\\#]")


def writes(environ: dict) -> bool:
    """Tell whether a request asks to write: the most demanding of its own method and the forwarded ones."""
    methods = (environ["REQUEST_METHOD"], *(environ.get(name) for name in FORWARDED_METHODS))
    return any(method not in READING for method in methods if method)


def identity_headers(caller) -> list[tuple[str, str]]:
    """Return the headers that tell a service who calls (an email outside printable ASCII percent-encoded)."""
    values = (caller.account_public_id, str(caller.member_id), quote(caller.member_email, safe=_EMAIL_SAFE),
              caller.role, caller.public_id, caller.scope)
    return list(zip(IDENTITY, values, strict=True))


def configuration(proxy: str, upstream: str, portal: str, listen: str | int = 8080) -> str:
    """Return the proxy's configuration protecting ``upstream`` with the portal at ``portal`` (both origins),
    served on ``listen`` (a port, or an address and a port: 127.0.0.1:8080)."""
    from ..api import API_PREFIX
    from ..api.authentication import READ_ONLY, UNAUTHENTICATED

    for name, url in (("upstream", upstream), ("portal", portal)):
        parts = urlsplit(url)
        if (parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/") or parts.query
                or _UNSAFE.search(url)):
            raise ValueError(f"The {name} must be an origin such as http://127.0.0.1:8000 (no path), not {url!r}.")
    host, _, port = str(listen).rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536 or _UNSAFE.search(host):
        raise ValueError(f"Listen on a port, or an address and a port such as 127.0.0.1:8080, not {listen!r}.")
    return _TEMPLATES.get_template(PROXIES[proxy]).render(
        upstream=upstream.rstrip("/"), portal=portal.rstrip("/"), host=host, port=port, verify=f"{API_PREFIX}/verify",
        identity=IDENTITY, credentials=CREDENTIALS, variable=_nginx_variable,
        answers={401: _fail(UNAUTHENTICATED), 403: _fail(READ_ONLY), 429: _fail(TOO_MANY), 503: _error(UNAVAILABLE)})


def _fail(message: str) -> str:
    """Write the API's JSend answer to a refusal, for a proxy to give in the portal's place."""
    return json.dumps({"status": "fail", "data": {"message": message}})


def _error(message: str) -> str:
    """Write the API's JSend answer to a failure, for a proxy to give in the portal's place."""
    return json.dumps({"status": "error", "message": message, "data": {"message": message}})


def _nginx_variable(header: str) -> str:
    """Name the nginx variable that holds an identity header (X-Portal-Account-Id: portal_account_id)."""
    return header.lower().removeprefix("x-").replace("-", "_")

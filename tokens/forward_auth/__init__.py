"""Forward auth: the portal answers a reverse proxy's question "may this request pass?" for the team's services.

nginx (``auth_request``), Caddy (``forward_auth``) and Traefik (``forwardAuth``) ask the API's ``verify``
endpoint about each request to a protected service. A 200 carries the caller's identity in the headers
below, which the proxy copies to the service; any other answer stops the request at the proxy. The proxies'
configurations are generated here, from the templates beside this module, for ``flask forward-auth``, the
README and the tests alike.
"""

import json
import re
from pathlib import Path
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ..labels import STATUS_MESSAGES

# What a service behind the proxy learns about the caller: verify's answer, field by field, and its header.
HEADERS = {"account": "X-Portal-Account-Id", "member": "X-Portal-Member-Id", "email": "X-Portal-Member-Email",
           "role": "X-Portal-Member-Role", "token": "X-Portal-Token-Id", "scope": "X-Portal-Token-Scope"}
IDENTITY = tuple(HEADERS.values())
# The token itself: the service needs the identity, not the secret, so the proxy removes these.
CREDENTIALS = ("X-Auth-Token", "Authorization")

# Methods that only read. Anything else (a method the portal has never heard of included) writes.
READING = frozenset(("GET", "HEAD", "OPTIONS"))
# Where a proxy says which method the client used: nginx's subrequest always arrives as GET.
FORWARDED_METHODS = ("HTTP_X_ORIGINAL_METHOD", "HTTP_X_FORWARDED_METHOD")
# Printable ASCII but "%", which an email keeps as it is; everything else is percent-encoded UTF-8.
_EMAIL_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")

# nginx cannot pass the portal's answers on (Caddy and Traefik do), so it gives these in the portal's words.
PORTAL_DOWN = STATUS_MESSAGES[503]

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


def identity(caller) -> dict:
    """Return who calls, as verify's answer says it (the fields of HEADERS)."""
    return {"account": caller.account_public_id, "member": caller.member_id, "email": caller.member_email,
            "role": caller.role, "token": caller.public_id, "scope": caller.scope}


def identity_headers(who: dict) -> list[tuple[str, str]]:
    """Return the headers that tell a service who calls (an email outside printable ASCII percent-encoded)."""
    return [(HEADERS[field], quote(value, safe=_EMAIL_SAFE) if field == "email" else str(value))
            for field, value in who.items()]


def configuration(proxy: str, upstream: str, portal: str, listen: str | int = 8080) -> str:
    """Return the proxy's configuration serving ``upstream`` on ``listen`` behind the portal at ``portal``."""
    from ..api import API_PREFIX  # here, not above: the API imports this module
    from ..api.authentication import READ_ONLY, UNAUTHENTICATED
    from ..api.jsend import error_body, fail_body

    for name, url in (("upstream", upstream), ("portal", portal)):
        parts = urlsplit(url)
        if (parts.scheme not in ("http", "https") or not parts.hostname or parts.username is not None
                or url.rstrip("/") != f"{parts.scheme}://{parts.netloc}" or _UNSAFE.search(url)):
            raise ValueError(f"The {name} must be an origin such as http://127.0.0.1:8000 (no path), not {url!r}.")
    host, _, port = str(listen).rpartition(":")
    if (not port.isdigit() or not 0 < int(port) < 65536 or _UNSAFE.search(host)
            or (":" in host and not (host.startswith("[") and host.endswith("]")))):
        raise ValueError(f"Listen on a port, or an address and a port such as 127.0.0.1:8080 or [::1]:8080, "
                         f"not {listen!r}.")
    answers = {401: fail_body(UNAUTHENTICATED), 403: fail_body(READ_ONLY), 429: fail_body(STATUS_MESSAGES[429]),
               503: error_body(PORTAL_DOWN)}
    return _TEMPLATES.get_template(PROXIES[proxy]).render(
        upstream=upstream.rstrip("/"), portal=portal.rstrip("/"), host=host, port=port, verify=f"{API_PREFIX}/verify",
        identity=IDENTITY, credentials=CREDENTIALS, nginx_name=_nginx_name,
        answers={status: json.dumps(body) for status, body in answers.items()})


def _nginx_name(header: str) -> str:
    """Name a header as nginx's variables do (X-Portal-Account-Id: x_portal_account_id)."""
    return header.lower().replace("-", "_")

"""Where a webhook may be sent: http(s) URLs whose every address is public (server-side request forgery).

Loopback, private, link-local (the cloud's metadata service), shared, multicast and reserved addresses are
refused, as are the portal's own host names, unless an operator names the network in
WEBHOOK_ALLOWED_NETWORKS (a chat server on the office network, say). A URL is checked when it is saved, and
its name resolved and checked again at every delivery, which then connects to the very address checked: a
name that changes its answer in between (DNS rebinding) reaches nothing it should not.
"""

import ipaddress
import socket
import threading

from flask import current_app
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from .errors import InvalidInput

URL_MAX = 2000
RESOLVE_SECONDS = 3  # how long saving a URL waits for its name to resolve


class Late(Exception):
    """A name that did not resolve in the time given."""


class Refused(Exception):
    """An address a webhook may not reach, with the reason in words."""


def check_url(url: str) -> str:
    """Return ``url`` written plainly (its name in ASCII, its path escaped), or refuse it saying why."""
    url = (url or "").strip()
    if not url:
        raise InvalidInput("Give the URL the events are sent to.")
    if len(url) > URL_MAX:
        raise InvalidInput(f"That URL is {len(url):,} characters long; at most {URL_MAX:,} are allowed.")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise InvalidInput("A URL has no spaces or control characters in it.")
    try:
        parts = parse_url(url)
    except (LocationParseError, ValueError, UnicodeError):
        raise InvalidInput("That is not a URL the portal can send to: check its host name and port.") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("A webhook's URL starts with https:// (or http://).")
    if not parts.host:
        raise InvalidInput("That URL has no host name.")
    if parts.auth:
        raise InvalidInput("Leave the user name and password out of the URL: verify the signature instead.")
    if parts.fragment:
        url = url.split("#", 1)[0]
        parts = parse_url(url)
    plain = parts.url
    if len(plain) > URL_MAX:
        raise InvalidInput(f"Written plainly, that URL is {len(plain):,} characters long; "
                           f"at most {URL_MAX:,} are allowed.")
    try:
        allowed_addresses(parts.host, parts.port or default_port(parts.scheme), wait=RESOLVE_SECONDS)
    except Refused as refusal:
        raise InvalidInput(str(refusal)) from None
    return plain


def default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def host_of(url: str) -> str:
    return parse_url(url).host or ""


def allowed_addresses(host: str, port: int, wait: float | None = None) -> list[str]:
    """Resolve ``host`` and return its addresses, or raise Refused if it resolves to none, or to any that a
    webhook may not reach (one refused address is enough: which one a client picks is not ours to say)."""
    name = host.strip("[]").rstrip(".").lower()
    own = f"{name} is this portal's own address: a webhook cannot be sent to it." if is_own_name(name) else None
    try:
        found = resolve(name, port, wait)
    except Late:
        raise Refused(own or f"{name} did not resolve within {wait:g} seconds.") from None
    except (OSError, UnicodeError):
        raise Refused(own or f"{name} does not resolve to any address.") from None
    addresses = list(dict.fromkeys(info[4][0] for info in found))
    networks = allowed_networks()
    if own and not all(_in(address, networks) for address in addresses):
        raise Refused(own)
    for address in addresses:
        if reason := refusal(address, networks):
            shown = name if name == address else f"{name} ({address})"
            raise Refused(f"{shown} is {reason}: webhooks are only sent to public addresses.")
    if not addresses:
        raise Refused(f"{name} does not resolve to any address.")
    return addresses


def resolve(name: str, port: int, wait: float | None) -> list:
    """getaddrinfo, given up on after ``wait`` seconds: in a thread of its own, so that a name whose servers never
    answer holds up no other lookup (the thread ends when the resolver gives up)."""
    if wait is None:
        return socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    answer = {}

    def look_up():
        try:
            answer["found"] = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            answer["error"] = error
    lookup = threading.Thread(target=look_up, name="resolve", daemon=True)
    lookup.start()
    lookup.join(wait)
    if lookup.is_alive():
        raise Late
    if "error" in answer:
        raise answer["error"]
    return answer["found"]


def _in(address: str, networks) -> bool:
    return any(_ip(address) in network for network in networks)


def _ip(address: str):
    """The address as ipaddress sees it: an IPv4 one written as IPv6 (::ffff:127.0.0.1) is the IPv4 one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.ipv4_mapped if ip.version == 6 and ip.ipv4_mapped is not None else ip


# Not public, whatever the Python at hand says (older ones count some as global): IETF protocol assignments,
# 6to4 relays and addresses (an IPv4 one inside), IPv6 site-local.
NOT_PUBLIC = [ipaddress.ip_network(name) for name in ("192.0.0.0/24", "192.88.99.0/24", "2002::/16", "fec0::/10")]


def refusal(address: str, networks) -> str | None:
    """Say why a webhook may not reach ``address``, or None when it may (``networks`` open some)."""
    if _in(address, networks):
        return None
    ip = _ip(address)
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private address"
    if (ip.is_multicast or ip.is_reserved or ip.is_unspecified or not ip.is_global
            or any(ip in network for network in NOT_PUBLIC)):
        return "not a public address"
    if is_local(ip):
        return "an address of this portal's own machine"
    return None


def is_local(ip) -> bool:
    """Tell whether ``ip`` is one of this machine's own addresses (a public one, say): only those can be bound."""
    with socket.socket(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((str(ip), 0))
        except OSError:
            return False
    return True


def allowed_networks() -> list:
    """Read WEBHOOK_ALLOWED_NETWORKS: a list of networks, or their names separated by commas."""
    configured = current_app.config["WEBHOOK_ALLOWED_NETWORKS"] or []
    if isinstance(configured, str):
        configured = [name for name in configured.split(",") if name.strip()]
    return [ipaddress.ip_network(name.strip(), strict=False) for name in configured]


def is_own_name(name: str) -> bool:
    """Tell whether ``name`` is one the portal answers to (PUBLIC_URL's, TRUSTED_HOSTS')."""
    own = list(current_app.config.get("PAGE_HOSTS") or ())
    if current_app.config.get("PUBLIC_URL"):
        own.append(host_of(current_app.config["PUBLIC_URL"]))
    own = [entry.lower().rstrip(".") for entry in own]
    return any(name == entry or (entry.startswith(".") and name.endswith(entry)) for entry in own)

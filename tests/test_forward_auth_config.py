"""`flask forward-auth` prints the configurations the proxy tests run, and the README shows exactly those."""

import re
from pathlib import Path

import pytest
import yaml

from tokens.forward_auth import IDENTITY, PROXIES, configuration

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
EXAMPLE = {"upstream": "http://127.0.0.1:9000", "portal": "http://127.0.0.1:8000", "listen": 8080}
FENCES = {"nginx": "nginx", "caddy": "caddy", "traefik": "yaml"}


@pytest.mark.parametrize("proxy", sorted(PROXIES))
def test_the_readme_shows_what_the_command_prints(proxy, runner):
    printed = runner.invoke(args=["forward-auth", proxy, "--upstream", EXAMPLE["upstream"],
                                  "--portal", EXAMPLE["portal"], "--listen", "8080"])
    assert printed.exit_code == 0 and printed.output == configuration(proxy, **EXAMPLE)
    assert f"```{FENCES[proxy]}\n{printed.output}```\n" in README


def test_traefik_resets_identity_asks_the_portal_then_drops_the_token():
    """Traefik is not run here: its configuration is held to what its reference says the keys do."""
    routes = yaml.safe_load(configuration("traefik", **EXAMPLE))["http"]
    assert routes["routers"]["protected"]["middlewares"] == [
        "portal-identity-reset", "portal-verify", "portal-credentials-reset"]
    middlewares = routes["middlewares"]
    assert middlewares["portal-identity-reset"]["headers"]["customRequestHeaders"] == {
        **dict.fromkeys(IDENTITY, ""), "X-Original-Method": ""}  # "" removes a header
    assert middlewares["portal-verify"]["forwardAuth"] == {
        "address": "http://127.0.0.1:8000/api/2018-10-01/verify", "authResponseHeaders": list(IDENTITY)}
    assert middlewares["portal-credentials-reset"]["headers"]["customRequestHeaders"] == {
        "X-Auth-Token": "", "Authorization": ""}
    assert routes["services"]["protected"]["loadBalancer"]["servers"] == [{"url": "http://127.0.0.1:9000"}]


@pytest.mark.parametrize("portal, checked", [("https://tokens.example.com", True), ("http://127.0.0.1:8000", False)])
def test_nginx_checks_an_https_portals_certificate(portal, checked):
    text = configuration("nginx", "http://127.0.0.1:9000", portal)
    assert ("proxy_ssl_verify on;" in text) is checked
    assert ("proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;" in text) is checked


def test_the_portal_is_required(runner):
    printed = runner.invoke(args=["forward-auth", "caddy", "--upstream", "http://10.0.0.5:3000"])
    assert printed.exit_code == 2 and "Missing option '--portal'" in printed.output


@pytest.mark.parametrize("arguments, message", [
    (["--upstream", "http://127.0.0.1:9000/app"], "The upstream must be an origin such as"),
    (["--upstream", "127.0.0.1:9000"], "The upstream must be an origin such as"),
    (["--upstream", "http://a;b"], "The upstream must be an origin such as"),
    (["--upstream", "http://a:1", "--portal", "http://x'y"], "The portal must be an origin such as"),
    (["--upstream", "http://a:1", "--portal", "ftp://x"], "The portal must be an origin such as"),
    (["--upstream", "http://a:1", "--portal", "https://tokens.example.com/portal"], "The portal must be an"),
    (["--upstream", "http://a:1", "--listen", "99999"], "Listen on a port, or an address and a port"),
    (["--upstream", "http://a:1", "--listen", "x;y:80"], "Listen on a port, or an address and a port"),
    (["--upstream", "http://a:1", "--listen", "::1:8080"], "Listen on a port, or an address and a port"),
    (["--upstream", "http://user:secret@a:1"], "The upstream must be an origin such as"),
    (["--upstream", "http://a:1?"], "The upstream must be an origin such as"),
    (["--upstream", "http://a:1#x"], "The upstream must be an origin such as"),
])
def test_an_address_that_would_break_the_configuration_is_refused(runner, arguments, message):
    printed = runner.invoke(args=["forward-auth", "nginx", "--portal", "http://127.0.0.1:8000", *arguments])
    assert printed.exit_code == 2 and message in printed.output
    assert "server {" not in printed.output


def test_an_unknown_proxy_is_refused(runner):
    printed = runner.invoke(args=["forward-auth", "apache", "--upstream", "http://a:1", "--portal", "http://b:2"])
    assert printed.exit_code == 2 and re.search(r"'apache' is not one of 'nginx', 'caddy', 'traefik'", printed.output)

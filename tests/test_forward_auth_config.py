"""`flask forward-auth` prints the configurations the proxy tests run, and the README shows exactly those."""

import re
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("proxy", sorted(PROXIES))
def test_every_configuration_copies_every_identity_header_and_drops_the_secret(proxy):
    text = configuration(proxy, **EXAMPLE)
    for header in (*IDENTITY, "X-Auth-Token", "Authorization"):
        assert header in text
    assert "/api/2018-10-01/verify" in text and "http://127.0.0.1:9000" in text


def test_the_portal_defaults_to_the_public_url(runner, app):
    app.config["PUBLIC_URL"] = "https://tokens.example.com"
    printed = runner.invoke(args=["forward-auth", "caddy", "--upstream", "http://10.0.0.5:3000"])
    assert "forward_auth https://tokens.example.com {" in printed.output
    assert "reverse_proxy http://10.0.0.5:3000" in printed.output


@pytest.mark.parametrize("arguments, message", [
    (["--upstream", "http://127.0.0.1:9000/app"], "The upstream must be an origin such as"),
    (["--upstream", "127.0.0.1:9000"], "The upstream must be an origin such as"),
    (["--upstream", "http://a;b"], "The upstream must be an origin such as"),
    (["--upstream", "http://a:1", "--portal", "http://x'y"], "The portal must be an origin such as"),
    (["--upstream", "http://a:1", "--portal", "ftp://x"], "The portal must be an origin such as"),
    (["--upstream", "http://a:1", "--listen", "99999"], "Listen on a port, or an address and a port"),
    (["--upstream", "http://a:1", "--listen", "x;y:80"], "Listen on a port, or an address and a port"),
])
def test_an_address_that_would_break_the_configuration_is_refused(runner, arguments, message):
    printed = runner.invoke(args=["forward-auth", "nginx", *arguments])
    assert printed.exit_code == 2 and message in printed.output
    assert "server {" not in printed.output


def test_an_unknown_proxy_is_refused(runner):
    printed = runner.invoke(args=["forward-auth", "apache", "--upstream", "http://a:1"])
    assert printed.exit_code == 2 and re.search(r"'apache' is not one of 'nginx', 'caddy', 'traefik'", printed.output)

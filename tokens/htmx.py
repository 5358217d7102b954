"""The few htmx helpers the browser blueprints need."""

from flask import request


def is_htmx() -> bool:
    """Tell whether htmx sent this request (it always sends ``HX-Request: true``)."""
    return request.headers.get("HX-Request") == "true"


def retarget(response, target: str, swap: str = "outerHTML"):
    """Send a response somewhere else than the element that asked (e.g. errors to their form)."""
    response.headers["HX-Retarget"] = target
    response.headers["HX-Reswap"] = swap
    return response


def client_redirect(response, location: str):
    """Make htmx navigate the whole page rather than swap a page into a fragment."""
    response.headers["HX-Redirect"] = location
    return response

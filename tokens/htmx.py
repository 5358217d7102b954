"""The few htmx helpers the browser blueprints need."""

import json

from flask import flash, make_response, redirect, render_template, request


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


def notice(message: str, kind: str = "info", status: int = 200, *, leave_target: bool = True, **context):
    """Answer with a message for the page's message region; by default nothing else is swapped."""
    response = make_response(render_template(
        "partials/notice.html", messages=[(kind, message)], **context), status)
    if leave_target:
        response.headers["HX-Reswap"] = "none"
    return response


def trigger_notice(response, message: str, kind: str = "info"):
    """Have app.js show ``message`` in the page's message region once htmx has swapped ``response``.

    An ``HX-Trigger`` event, aimed at the body: the element that asked is often gone by the time
    htmx fires it (its row was swapped or removed).
    """
    response.headers["HX-Trigger"] = json.dumps({"portal:notice": {"target": "body", "kind": kind,
                                                                   "message": message}})
    return response


def row_removed(message: str, kind: str, back_to: str):
    """Answer a removal: htmx swaps the row (its target) for an empty answer, and the message shows
    (``trigger_notice``); a plain form post gets it flashed and goes back to the page."""
    if is_htmx():
        return trigger_notice(make_response("", 200), message, kind)
    flash(message, kind)
    return redirect(back_to)

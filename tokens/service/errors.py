"""The refusals of the domain: each says, in words a person understands, why nothing was done.

Each carries the HTTP status a web caller answers with, so the browser and the API map them alike.
"""


class ServiceError(Exception):
    """A refusal with a message a person understands."""

    status = 400


class InvalidInput(ServiceError):
    """A value that breaks a rule (too long, unknown role, a date in the past...)."""

    status = 422


class WrongPassword(InvalidInput):
    """A password typed to prove who one is (the current one, before changing it) is not the member's."""


class InvalidCursor(ServiceError):
    """A page's cursor (``?before=``) the portal did not make: edited, cut short, or from elsewhere."""


class TokenLimitReached(ServiceError):
    """The member holds as many tokens in the account as allowed."""

    status = 409


class DuplicateRequest(ServiceError):
    """The same Generate form was submitted twice; the first submission made the token."""

    status = 409


class NotFound(ServiceError):
    """Nothing of that id that this caller may see."""

    status = 404


class Forbidden(ServiceError):
    """The caller's role does not allow it."""

    status = 403


class InvalidLink(ServiceError):
    """An invitation or reset link that cannot be used, with the reason."""

    status = 400

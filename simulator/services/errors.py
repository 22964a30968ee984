"""Errors a user can cause, each with a message written for that user."""


class ServiceError(Exception):
    """Base class: the message is shown to the user as it is."""


class PermissionDenied(ServiceError):
    """The signed-in user may not see or do this (checked on the server, whatever the page shows)."""


class NotFound(ServiceError):
    """Nothing by that id that this user may see: the same answer whether it does not exist or is someone else's."""


NO_SUCH_ATTEMPT = "No such attempt among the ones you may open."


class InvalidInput(ServiceError):
    """A value the user typed is not acceptable; ``field`` names the form field it belongs to."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field

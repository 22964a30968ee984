"""Errors a user can cause, each with a message written for that user."""


class ServiceError(Exception):
    """Base class: the message is shown to the user as it is."""


class PermissionDenied(ServiceError):
    """The signed-in user may not see or do this (checked on the server, whatever the page shows)."""


class NotFound(ServiceError):
    pass


class InvalidInput(ServiceError):
    """A value the user typed is not acceptable; ``field`` names the form field it belongs to."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field

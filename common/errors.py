"""Maps core errors and DRF's own to one JSON error shape and the right HTTP status.

Shape: {"error": {"code": "<stable code>", "message": "<text>", "details": {...}}}.
"""

import logging
import os

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from orchestrator import errors

from .conf import orchestrator_settings

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[errors.OrchestratorError], int] = {
    errors.InvalidName: status.HTTP_400_BAD_REQUEST,
    errors.InvalidRequest: status.HTTP_400_BAD_REQUEST,
    errors.FrameError: status.HTTP_400_BAD_REQUEST,
    errors.PlanNotFound: status.HTTP_404_NOT_FOUND,
    errors.TaskNotFound: status.HTTP_404_NOT_FOUND,
    errors.FindingNotFound: status.HTTP_404_NOT_FOUND,
    errors.InstanceNotFound: status.HTTP_404_NOT_FOUND,
    errors.AttemptNotFound: status.HTTP_404_NOT_FOUND,
    errors.RunNotFound: status.HTTP_404_NOT_FOUND,
    errors.InvalidTaskState: status.HTTP_409_CONFLICT,
    errors.InvalidOrchestratorState: status.HTTP_409_CONFLICT,
    errors.PreconditionFailed: status.HTTP_412_PRECONDITION_FAILED,
    errors.OrchestratorUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    errors.StatusFileCorrupt: status.HTTP_503_SERVICE_UNAVAILABLE,
    errors.RegistryUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    errors.LockTimeout: status.HTTP_503_SERVICE_UNAVAILABLE,
    errors.AgentUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    # The orchestrator process is the server's upstream here: it ran, and failed.
    errors.StartFailed: status.HTTP_502_BAD_GATEWAY,
}


def status_for(exc: errors.OrchestratorError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return status.HTTP_500_INTERNAL_SERVER_ERROR


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def request_too_large_body() -> dict:
    """The 413 answer, whether Django, the WSGI guard or daphne's request refuses the body (serving.bodylimit)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return error_body("request_too_large", f"The request body exceeds {limit} bytes.", {"limit": limit})


def _drf_message(detail) -> tuple[str, dict]:
    """DRF details are strings, lists or field dicts; keep fields as details, a sentence as message."""
    if isinstance(detail, dict):
        return "Invalid input.", {"fields": detail}
    if isinstance(detail, list):
        return " ".join(str(item) for item in detail), {}
    return str(detail), {}


def _public(value):
    """The core names files by absolute path; a client learns them relative to the repository
    (a `path` outside it by its name only), never where the server keeps its checkout."""
    root = str(orchestrator_settings().repo_root) + os.sep
    if isinstance(value, dict):
        return {key: (os.path.basename(item) if key == "path" and isinstance(item, str)
                      and os.path.isabs(item) and not item.startswith(root) else _public(item))
                for key, item in value.items()}
    if isinstance(value, str):
        return value.replace(root, "")
    return value


def exception_handler(exc, context):
    if isinstance(exc, errors.OrchestratorError):
        code = status_for(exc)
        if code >= 500:
            logger.warning("%s: %s", exc.code, exc.message)
        response = Response(error_body(exc.code, _public(exc.message), _public(exc.details)), status=code)
        if code == status.HTTP_503_SERVICE_UNAVAILABLE:
            response["Retry-After"] = "1"
        return response

    if isinstance(exc, OSError):
        # Disk full, permissions, a vanished directory: the file on disk is intact (writes are
        # atomic), the request just could not be served now.
        logger.warning("storage error: %s", exc)
        response = Response(
            error_body("storage_error", _public(f"The repository's files could not be accessed: {exc.strerror or exc}.")),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
        response["Retry-After"] = "1"
        return response

    if isinstance(exc, RequestDataTooBig):
        # Raised by Django when DRF reads a body over DATA_UPLOAD_MAX_MEMORY_SIZE; left alone it
        # would escape DRF and become Django's generic 400 page.
        return Response(request_too_large_body(), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)

    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = getattr(exc, "detail", None)
    message, details = _drf_message(detail if detail is not None else response.data)
    code = detail.code if hasattr(detail, "code") else getattr(exc, "default_code", "error")
    if isinstance(detail, (dict, list)):
        code = getattr(exc, "default_code", "invalid")
    response.data = error_body(str(code), message, details)
    return response

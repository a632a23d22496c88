"""Django-level error pages in the API's JSON error shape, so no client ever parses HTML."""

from django.http import JsonResponse

from .errors import error_body


def bad_request(request, exception=None):
    return JsonResponse(error_body("bad_request", "Bad request."), status=400)


def permission_denied(request, exception=None):
    return JsonResponse(error_body("permission_denied", "Permission denied."), status=403)


def not_found(request, exception=None):
    return JsonResponse(error_body("not_found", f"Nothing at {request.path}."), status=404)


def server_error(request):
    return JsonResponse(error_body("server_error", "Internal server error."), status=500)

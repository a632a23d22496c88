"""drf-spectacular hooks: document routes at the seed's paths."""


def strip_optional_slash(endpoints, **kwargs):
    """Routes ending in "/?" accept a trailing slash; the document shows the seed's path, without it.

    Django's regex simplifier turns "/?$" into "/", which would document "/api/plans/".
    """
    return [
        (path.rstrip("/") if regex.endswith("/?$") and path != "/" else path, regex, method, callback)
        for path, regex, method, callback in endpoints
    ]

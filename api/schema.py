"""drf-spectacular hooks: document routes at the seed's paths, and who may call each."""

from drf_spectacular.openapi import AutoSchema

from common.permissions import CanRead


def strip_optional_slash(endpoints, **kwargs):
    """Routes ending in "/?" accept a trailing slash; the document shows the seed's path, without it.

    Django's regex simplifier turns "/?$" into "/", which would document "/api/plans/".
    """
    return [
        (path.rstrip("/") if regex.endswith("/?$") and path != "/" else path, regex, method, callback)
        for path, regex, method, callback in endpoints
    ]


class OrchestratorAutoSchema(AutoSchema):
    """Security as the server applies it: a read under the read rule alone lists the empty requirement too.

    Reads are open to this machine on a development server (and to anyone with
    ORCHESTRATOR_READS_REQUIRE_AUTH=0), so Swagger UI and ReDoc must not show them as locked
    like the commands, which always need a signed-in user with a permission.
    """

    def get_auth(self):
        auths = super().get_auth()
        if {type(permission) for permission in self.view.get_permissions()} == {CanRead} and {} not in auths:
            auths.append({})
        return auths

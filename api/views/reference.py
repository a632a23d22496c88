"""The ReDoc page with every asset from this server, so the API reference works offline.

drf-spectacular's ReDoc template links Google Fonts, and the ReDoc bundle draws its sidebar
logo from the vendor's CDN; on a control page neither third-party request is wanted.
"""

from functools import cache
from pathlib import Path

import drf_spectacular_sidecar
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.views import SpectacularRedocView

REDOC_BUNDLE = (Path(drf_spectacular_sidecar.__file__).parent
                / "static" / "drf_spectacular_sidecar" / "redoc" / "bundles" / "redoc.standalone.js")
CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
# Not an image: the bundle's onError handler then leaves the logo out, and nothing is fetched.
NO_LOGO = b"data:,"


@cache  # the installed bundle does not change while a process runs; read and patch it once
def offline_bundle() -> bytes:
    return REDOC_BUNDLE.read_bytes().replace(CDN_LOGO, NO_LOGO)


def redoc_bundle(request):
    return HttpResponse(offline_bundle(), content_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=86400"})


class OfflineRedocView(SpectacularRedocView):
    template_name = "api/redoc.html"

    def _redoc_standalone(self) -> str:
        return reverse("redoc-bundle")

"""``GET /v1/openapi.json``: the OpenAPI document, built once per process.

drf-spectacular's view walks every URL, view and serializer on each call (tens
of milliseconds of CPU, for anyone, unauthenticated).  The document only changes
with the code, so the first call builds it and every later call in the process
serves that copy; a lock makes concurrent first calls build it once.
"""

from __future__ import annotations

import threading

from drf_spectacular.views import SpectacularJSONAPIView
from rest_framework.response import Response


class CachedSchemaView(SpectacularJSONAPIView):
    _lock = threading.Lock()
    _cached: dict | None = None

    def _get_schema_response(self, request):
        return Response(
            data=self._document(request),
            headers={
                "Content-Disposition": f'inline; filename="{self._get_filename(request, None)}"'
            },
        )

    def _document(self, request) -> dict:
        cls = type(self)
        if cls._cached is None:
            with cls._lock:
                if cls._cached is None:
                    generator = self.generator_class(urlconf=self.urlconf, patterns=self.patterns)
                    cls._cached = generator.get_schema(request=request, public=self.serve_public)
        return cls._cached

    @classmethod
    def forget(cls) -> None:
        """Drop the built document (tests that change what it describes)."""
        with cls._lock:
            cls._cached = None

"""``/v1/api-keys``: manage a tenant's keys (admin scope); ``/v1/ping``."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from core.api.views import TenantAPIView
from tenants import selectors, services
from tenants.api.serializers import (
    ApiKeyCreatedOutput,
    ApiKeyCreateInput,
    ApiKeyOutput,
    PingOutput,
)
from tenants.roles import Scope


class ApiKeyListCreate(TenantAPIView):
    required_scopes = {"GET": Scope.ADMIN, "POST": Scope.ADMIN}

    @extend_schema(operation_id="api_keys_list", responses=ApiKeyOutput(many=True))
    def get(self, request):
        return self.paginated(selectors.api_key_list(self.tenant), ApiKeyOutput)

    @extend_schema(
        operation_id="api_keys_create",
        request=ApiKeyCreateInput,
        responses={201: ApiKeyCreatedOutput},
    )
    def post(self, request):
        data = ApiKeyCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.api_key_create(self.tenant, actor=self.principal, **data.validated_data)
        output = ApiKeyCreatedOutput(created.key, context={"secret": created.secret})
        response = Response(output.data, status=201)
        response.redact_on_replay = ("secret",)
        return response


class ApiKeyDetail(TenantAPIView):
    required_scopes = {"GET": Scope.ADMIN, "DELETE": Scope.ADMIN}

    @extend_schema(operation_id="api_keys_retrieve", responses=ApiKeyOutput)
    def get(self, request, key_id: str):
        return Response(ApiKeyOutput(selectors.api_key_get(self.tenant, public_id=key_id)).data)

    @extend_schema(operation_id="api_keys_revoke", responses={200: ApiKeyOutput})
    def delete(self, request, key_id: str):
        key = selectors.api_key_get(self.tenant, public_id=key_id)
        revoked = services.api_key_revoke(self.tenant, actor=self.principal, key=key)
        return Response(ApiKeyOutput(revoked).data)


class Ping(TenantAPIView):
    """Answers at once: checks a key works (and is the framework's own ceiling in benches)."""

    required_scopes = {"GET": None}

    @extend_schema(operation_id="ping", responses=PingOutput)
    def get(self, request):
        return Response(PingOutput(self.tenant).data)

"""``/v1/api-keys``: manage a tenant's keys (admin scope)."""

from drf_spectacular.utils import extend_schema

from core.api.pagination import paginate
from core.api.views import TenantAPIView, respond
from tenants import selectors, services
from tenants.api.serializers import (
    ApiKeyCreatedOutput,
    ApiKeyCreateInput,
    ApiKeyOutput,
    api_key_data,
)
from tenants.roles import Scope


class ApiKeyListCreate(TenantAPIView):
    required_scopes = {"GET": Scope.ADMIN, "POST": Scope.ADMIN}

    @extend_schema(operation_id="api_keys_list", responses=ApiKeyOutput(many=True))
    def get(self, request):
        return respond(paginate(request, selectors.api_key_list(self.tenant), api_key_data))

    @extend_schema(
        operation_id="api_keys_create",
        request=ApiKeyCreateInput,
        responses={201: ApiKeyCreatedOutput},
    )
    def post(self, request):
        data = ApiKeyCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.api_key_create(self.tenant, actor=self.principal, **data.validated_data)
        response = respond({**api_key_data(created.key), "secret": created.secret}, status=201)
        response.redact_on_replay = ("secret",)
        return response


class ApiKeyDetail(TenantAPIView):
    required_scopes = {"GET": Scope.ADMIN, "DELETE": Scope.ADMIN}

    @extend_schema(operation_id="api_keys_retrieve", responses=ApiKeyOutput)
    def get(self, request, key_id: str):
        return respond(api_key_data(selectors.api_key_get(self.tenant, public_id=key_id)))

    @extend_schema(operation_id="api_keys_revoke", responses={200: ApiKeyOutput})
    def delete(self, request, key_id: str):
        key = selectors.api_key_get(self.tenant, public_id=key_id)
        return respond(
            api_key_data(services.api_key_revoke(self.tenant, actor=self.principal, key=key))
        )


class Ping(TenantAPIView):
    """Answers at once: checks a key works (and is the framework's own ceiling in benches)."""

    required_scopes = {"GET": None}

    @extend_schema(operation_id="ping", responses={200: {"type": "object"}})
    def get(self, request):
        return respond({"object": "ping", "organization": self.tenant.public_id})

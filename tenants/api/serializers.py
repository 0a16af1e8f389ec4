"""Input validation and output shapes of the API-key endpoints."""

from rest_framework import serializers

from tenants.models import ApiKey
from tenants.roles import Scope


class ApiKeyCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField([s.value for s in Scope]), allow_empty=False
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiKeyOutput(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    object = serializers.SerializerMethodField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked = serializers.SerializerMethodField()

    def get_object(self, key: ApiKey) -> str:
        return "api_key"

    def get_revoked(self, key: ApiKey) -> bool:
        return key.revoked_at is not None


class ApiKeyCreatedOutput(ApiKeyOutput):
    secret = serializers.CharField(help_text="The whole key. Shown only in this response.")


def api_key_data(key: ApiKey) -> dict:
    return ApiKeyOutput(key).data

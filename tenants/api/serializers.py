"""Input validation and output shapes of the API-key endpoints."""

from rest_framework import serializers

from core.api.fields import Constant
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
    object = Constant("api_key")
    name = serializers.CharField()
    prefix = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked = serializers.SerializerMethodField()

    def get_revoked(self, key: ApiKey) -> bool:
        return key.revoked_at is not None


class ApiKeyCreatedOutput(ApiKeyOutput):
    """A new key with its secret, given as ``context["secret"]`` (it is never stored)."""

    secret = serializers.SerializerMethodField(
        help_text="The whole key. Shown only in this response."
    )

    def get_secret(self, key: ApiKey) -> str:
        return self.context["secret"]


class PingOutput(serializers.Serializer):
    object = Constant("ping")
    organization = serializers.CharField(source="public_id", help_text="The key's organisation.")

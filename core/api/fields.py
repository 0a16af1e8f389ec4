"""Serializer fields every API object shares."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class Constant(serializers.Field):
    """A member every instance has with the same value: an object's ``object`` (``"model"``,
    ``"invoice"``...), a fixed ``dtype``."""

    def __init__(self, value: str, **kwargs) -> None:
        self.value = value
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, instance) -> str:
        return self.value


class ConstantSchema(OpenApiSerializerFieldExtension):
    target_class = Constant

    def map_serializer_field(self, auto_schema, direction) -> dict:
        return {"type": "string", "enum": [self.target.value]}


@extend_schema_field(OpenApiTypes.BINARY)
class UploadField(serializers.FileField):
    """A multipart file part, documented as one: drf-spectacular documents a plain
    FileField as a URI string (unless requests and responses get split components),
    which a client generator then sends as a form field, never a file."""

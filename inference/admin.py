from django.contrib import admin

from inference.models import BaseModel


@admin.register(BaseModel)
class BaseModelAdmin(admin.ModelAdmin):
    """Base models are global; register new ones with build_base_model/import_base_model."""

    list_display = ("name", "public_id", "checksum", "created_at")
    readonly_fields = (
        "public_id",
        "checksum",
        "artifact_path",
        "labels",
        "input_shape",
        "feature_dim",
        "preprocessing_version",
        "report",
        "created_at",
    )

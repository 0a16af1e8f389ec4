from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        import tenants.api.schema  # noqa: F401 - registers the OpenAPI security scheme
        from tenants.rls import apply_row_level_security

        post_migrate.connect(apply_row_level_security, dispatch_uid="tenants.rls")

from django.core.management.base import BaseCommand, CommandError

from core.context import tenant_context
from core.errors import ApiError
from tenants import services
from tenants.roles import Scope


class Command(BaseCommand):
    help = (
        "Create an organisation and its owner. Prints the organisation id and, with "
        "--api-key, one key with all scopes on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--plan", default="payg")
        parser.add_argument("--api-key", action="store_true")

    def handle(self, *args, **options):
        try:
            tenant, user = services.tenant_create(
                name=options["name"], owner_email=options["owner_email"], plan=options["plan"]
            )
            self.stdout.write(tenant.public_id)
            if options["api_key"]:
                with tenant_context(tenant):
                    created = services.api_key_create(
                        tenant, actor=user, name="cli", scopes=[scope.value for scope in Scope]
                    )
                self.stdout.write(created.secret)
        except ApiError as exc:
            raise CommandError(exc.message) from exc

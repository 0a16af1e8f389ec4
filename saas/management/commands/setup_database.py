from django.core.management import call_command
from django.core.management.base import BaseCommand

from saas import config
from saas.database_setup import ensure_roles_and_database


class Command(BaseCommand):
    help = (
        "Create the owner, app and cross-tenant roles and the database where this process may "
        "(embedded or a developer's server), then migrate as the owner."
    )

    def handle(self, *args, **options):
        plan = config.database_plan()
        if plan.admin is not None:
            ensure_roles_and_database(plan)
        call_command("migrate", database="owner", interactive=False, verbosity=options["verbosity"])

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.ledger.periods import parse_period, period_containing
from billing.pricing.closing import close_period
from core.errors import ApiError
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Rate a finished billing period into invoices (default: last month, every tenant). "
        "Re-running changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="organisation id (org_…); default: every tenant")
        parser.add_argument("--period", help="YYYY-MM; default: last month")

    def handle(self, *args, **options):
        tenant = None
        if options["tenant"]:
            tenant = Tenant.objects.filter(public_id=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"No organisation {options['tenant']!r}.")
        try:
            period = (
                parse_period(options["period"])
                if options["period"]
                else period_containing(timezone.now()).previous()
            )
            result = close_period(period, tenant=tenant)
        except ApiError as error:
            raise CommandError(error.message) from error
        self.stdout.write(
            f"period {period}: {len(result.created)} invoice(s) created, "
            f"{result.already_closed} already closed, usage up to "
            f"{result.usage_cutoff.isoformat()}"
        )
        for public_id in result.created:
            self.stdout.write(public_id)
        for public_id in result.superseded:
            self.stderr.write(f"skipped {public_id}: a later period is already invoiced")

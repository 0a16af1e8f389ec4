from django.core.management.base import BaseCommand, CommandError

from billing.stripe.reconcile import reconcile_stripe
from billing.stripe.types import ProviderError


class Command(BaseCommand):
    help = (
        "Compare local invoices and credit notes with Stripe's invoices and refunds and "
        "print every difference (missing, amount, currency, status, refund_*). "
        "Exits 1 when there is one."
    )

    def handle(self, *args, **options):
        try:
            differences = reconcile_stripe()
        except (ProviderError, ValueError) as error:
            raise CommandError(str(error)) from error
        for difference in differences:
            self.stdout.write(str(difference))
        self.stdout.write(f"{len(differences)} difference(s)")
        if differences:
            raise SystemExit(1)

from django.core.management.base import BaseCommand

from billing.ledger.rollup import rollup_usage


class Command(BaseCommand):
    help = "Roll the usage ledger up to now (what beat runs every 15 minutes)."

    def handle(self, *args, **options):
        result = rollup_usage()
        self.stdout.write(
            f"{result.rows} rollup row(s) for {len(result.tenant_ids)} tenant(s), "
            f"ledger rolled up to transaction {result.horizon} at {result.stamp.isoformat()}"
        )

from django.core.management.base import BaseCommand

from inference.registry import base_model_register, committed_base_dir_list


class Command(BaseCommand):
    help = "Register the base models committed under base_models/ (idempotent)."

    def handle(self, *args, **options):
        for directory in committed_base_dir_list():
            base = base_model_register(directory)
            self.stdout.write(f"base model {base.name} ({base.public_id}) ready")

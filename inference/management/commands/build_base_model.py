from pathlib import Path

from django.core.management.base import BaseCommand

from inference.registry import DEFAULT_BASE_DIR, base_model_register


class Command(BaseCommand):
    help = (
        "Pretrain the default base model on procedurally generated images (offline, "
        "deterministic with --seed), write its artifact and report, and register it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", type=Path, default=None)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--epochs", type=int, default=None)
        parser.add_argument("--quick", action="store_true", help="a tiny model, for smoke tests")
        parser.add_argument("--no-register", action="store_true")

    def handle(self, *args, output, seed, epochs, quick, no_register, **options):
        from ml.pretrain import DEFAULT_BASE_NAME, build_default_base_model

        output = output or DEFAULT_BASE_DIR / DEFAULT_BASE_NAME
        kwargs = {"epochs": epochs} if epochs else {}
        report = build_default_base_model(output, seed=seed, quick=quick, verbose=2, **kwargs)
        self.stdout.write(f"wrote {output}: holdout accuracy {report['holdout_accuracy']:.3f}")
        if not no_register:
            base = base_model_register(output)
            self.stdout.write(f"registered {base.name} ({base.public_id})")

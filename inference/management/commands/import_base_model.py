from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from inference.registry import base_model_register


class Command(BaseCommand):
    help = (
        "Register an operator's Keras classification model (e.g. a MobileNetV3 .keras "
        "file) as a base model; its feature layer is detected or named."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--name", required=True)
        parser.add_argument("--feature-layer", default=None)
        parser.add_argument(
            "--input-scaling",
            default="raw",
            choices=["raw", "unit", "symmetric"],
            help="pixels the model expects: raw 0..255, unit 0..1, "
            "symmetric -1..1 (MobileNetV3 includes its own: raw)",
        )

    def handle(self, *args, path, name, feature_layer, input_scaling, **options):
        from ml.artifacts import ArtifactError
        from ml.base_import import import_base_model

        if not path.exists():
            raise CommandError(f"{path} does not exist")
        output = Path(settings.STORAGES["default"]["OPTIONS"]["location"]) / "base_models" / name
        try:
            import_base_model(
                path, output, name=name, feature_layer=feature_layer, input_scaling=input_scaling
            )
        except (ArtifactError, ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        base = base_model_register(output, name=name)
        self.stdout.write(f"registered {base.name} ({base.public_id})")

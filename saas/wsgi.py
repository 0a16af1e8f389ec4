import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.production")
django.setup(set_prefix=False)

from core.wsgi import Handler  # noqa: E402  (after the apps are ready)

application = Handler()

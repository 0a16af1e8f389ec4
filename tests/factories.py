"""Test data built through the real services (no hand-made rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count

from rest_framework.test import APIClient

from core.context import tenant_context
from tenants import services
from tenants.models import ApiKey, Tenant, User
from tenants.roles import Scope

_sequence = count(1)
ALL_SCOPES = [scope.value for scope in Scope]


@dataclass
class TenantHandle:
    """One organisation as a test sees it: its owner, a key and a client."""

    tenant: Tenant
    owner: User
    key: ApiKey
    secret: str
    client: APIClient = field(repr=False)

    def context(self):
        return tenant_context(self.tenant)

    def new_key(self, scopes: list[str], **kwargs) -> tuple[ApiKey, APIClient]:
        with self.context():
            created = services.api_key_create(
                self.tenant, actor=self.owner, name="extra", scopes=scopes, **kwargs
            )
        return created.key, api_client(created.secret)


def api_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def make_tenant(name: str, *, scopes: list[str] | None = None, plan: str = "payg") -> TenantHandle:
    n = next(_sequence)
    tenant, owner = services.tenant_create(
        name=f"{name} {n}", owner_email=f"owner{n}@{name.lower()}.test", plan=plan
    )
    with tenant_context(tenant):
        created = services.api_key_create(
            tenant, actor=owner, name="test", scopes=scopes or ALL_SCOPES
        )
    return TenantHandle(
        tenant=tenant,
        owner=owner,
        key=created.key,
        secret=created.secret,
        client=api_client(created.secret),
    )


def make_model_version(
    handle: TenantHandle, base, *, labels=("cat", "dog"), family="pets", seed: int = 0
):
    """A head-only model version of ``base`` with random weights (imports Keras)."""
    import tempfile

    import numpy as np

    from inference.services import model_version_create
    from ml.artifacts import ArtifactMetadata, BaseReference, HeadWeights, save_artifact

    rng = np.random.default_rng(seed)
    head = HeadWeights(
        kernel=rng.normal(size=(base.feature_dim, len(labels))).astype("float32"),
        bias=np.zeros(len(labels), dtype="float32"),
    )
    with tempfile.TemporaryDirectory() as directory:
        metadata = save_artifact(
            directory,
            ArtifactMetadata(
                kind="head",
                labels=list(labels),
                input_shape=base.input_shape,
                feature_layer=None,
                base_model=BaseReference(base.name, base.checksum),
                feature_dim=base.feature_dim,
            ),
            head=head,
        )
        with handle.context():
            return model_version_create(
                handle.tenant,
                actor=handle.owner,
                family=family,
                base_model=base,
                kind="head",
                artifact_dir=directory,
                labels=list(labels),
                input_shape=base.input_shape,
                checksum=metadata.checksum,
            )

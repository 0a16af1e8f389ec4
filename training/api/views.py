"""``/v1/datasets`` and ``/v1/fine-tunes``: thin handlers around training's services."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from core import uploads
from core.api.views import TenantAPIView
from tenants.roles import Scope
from training import selectors
from training.api.serializers import (
    DatasetCreateInput,
    DatasetDeletedOutput,
    DatasetOutput,
    FineTuneCreateInput,
    FineTuneEventOutput,
    FineTuneOutput,
)
from training.conf import archive_limits
from training.services import datasets, fine_tunes, lifecycle


class DatasetListCreate(TenantAPIView):
    required_scopes = {"GET": Scope.READ, "POST": Scope.TRAIN}
    error_statuses = {"POST": (402, 413)}  # suspended or past the storage quota; too large

    def max_body_bytes(self, request) -> int | None:
        # An archive over the limit is refused while it streams, before it is all read
        # or spooled to disk (core.uploads); dataset_create checks its exact size.
        if request.method != "POST":
            return None
        return uploads.multipart_limit(archive_limits().max_archive_bytes)

    @extend_schema(operation_id="datasets_list", responses=DatasetOutput(many=True))
    def get(self, request):
        return self.paginated(selectors.dataset_list(self.tenant), DatasetOutput)

    @extend_schema(
        operation_id="datasets_create",
        request={"multipart/form-data": DatasetCreateInput},
        responses={201: DatasetOutput},
    )
    def post(self, request):
        dataset = datasets.dataset_create(
            self.tenant,
            actor=self.principal,
            upload=request.FILES.get("file"),
            name=str(request.data.get("name", "")),
        )
        return Response(DatasetOutput(dataset).data, status=201)


class DatasetDetail(TenantAPIView):
    required_scopes = {"GET": Scope.READ, "DELETE": Scope.TRAIN}
    error_statuses = {"DELETE": (409,)}  # a running job uses it

    @extend_schema(operation_id="datasets_retrieve", responses=DatasetOutput)
    def get(self, request, dataset_id: str):
        dataset = selectors.dataset_get(self.tenant, public_id=dataset_id)
        return Response(DatasetOutput(dataset).data)

    @extend_schema(operation_id="datasets_delete", responses={200: DatasetDeletedOutput})
    def delete(self, request, dataset_id: str):
        dataset = selectors.dataset_get(self.tenant, public_id=dataset_id)
        datasets.dataset_delete(self.tenant, actor=self.principal, dataset=dataset)
        return Response(DatasetDeletedOutput(dataset).data)


class FineTuneListCreate(TenantAPIView):
    required_scopes = {"GET": Scope.READ, "POST": Scope.TRAIN}
    error_statuses = {"POST": (402, 404)}  # the charge refused; the dataset or base named

    @extend_schema(operation_id="fine_tunes_list", responses=FineTuneOutput(many=True))
    def get(self, request):
        return self.paginated(selectors.fine_tune_list(self.tenant), FineTuneOutput)

    @extend_schema(
        operation_id="fine_tunes_create",
        request=FineTuneCreateInput,
        responses={201: FineTuneOutput},
    )
    def post(self, request):
        data = FineTuneCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        job = fine_tunes.fine_tune_create(
            self.tenant,
            actor=self.principal,
            dataset_id=given["dataset"],
            base_model=given.get("base_model"),
            hyperparameters=given.get("hyperparameters"),
            suffix=given.get("suffix"),
        )
        job = selectors.fine_tune_get(self.tenant, public_id=job.public_id)
        return Response(FineTuneOutput(job).data, status=201)


class FineTuneDetail(TenantAPIView):
    required_scopes = {"GET": Scope.READ}

    @extend_schema(operation_id="fine_tunes_retrieve", responses=FineTuneOutput)
    def get(self, request, job_id: str):
        job = selectors.fine_tune_get(self.tenant, public_id=job_id)
        return Response(FineTuneOutput(job).data)


class FineTuneCancel(TenantAPIView):
    required_scopes = {"POST": Scope.TRAIN}

    @extend_schema(operation_id="fine_tunes_cancel", request=None, responses=FineTuneOutput)
    def post(self, request, job_id: str):
        job = selectors.fine_tune_get(self.tenant, public_id=job_id)
        lifecycle.job_cancel(self.tenant, actor=self.principal, job=job)
        job = selectors.fine_tune_get(self.tenant, public_id=job_id)
        return Response(FineTuneOutput(job).data)


class FineTuneEvents(TenantAPIView):
    required_scopes = {"GET": Scope.READ}

    @extend_schema(operation_id="fine_tunes_events", responses=FineTuneEventOutput(many=True))
    def get(self, request, job_id: str):
        job = selectors.fine_tune_get(self.tenant, public_id=job_id)
        events = selectors.fine_tune_event_list(self.tenant, job=job)
        return self.paginated(events, FineTuneEventOutput)

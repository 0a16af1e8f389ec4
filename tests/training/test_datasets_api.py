"""``/v1/datasets``: upload, validation (the datasets worker's task, run in-process here),
statistics, rejections with their reasons, deletion and isolation."""

import pytest
from django.core.files.storage import default_storage
from django.test import override_settings

from tenants.storage import tenant_key
from tests.training.archive_factory import symlink_entry, truncated
from tests.training.helpers import class_png, dataset_files, upload, zip_bytes
from training.models import Dataset, FineTuneJob
from training.tasks import validate_dataset


def _files_under(key: str) -> list[str]:
    try:
        folders, files = default_storage.listdir(key)
    except FileNotFoundError:
        return []
    return [f"{key}/{name}" for name in files] + [
        path for folder in folders for path in _files_under(f"{key}/{folder}")
    ]


def _stored(handle) -> list[str]:
    return _files_under(tenant_key(handle.tenant, "datasets"))


def _upload_and_validate(handle, data: bytes) -> dict:
    response = upload(handle, data)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "processing" and created["id"].startswith("ds_")
    validate_dataset(handle.tenant.pk, created["id"])  # the task body, as the worker runs it
    return handle.client.get(f"/v1/datasets/{created['id']}").json()


def test_a_split_archive_becomes_a_ready_dataset_with_statistics(tenant_a):
    files = {
        **dataset_files({"cat": 6, "dog": 5}, prefix="train/"),
        **dataset_files({"cat": 2, "dog": 2}, prefix="val/"),
    }
    files["train/cat/broken.png"] = truncated(class_png(0, "broken"))
    files["train/dog/copy.png"] = files["train/dog/dog_0.png"]

    dataset = _upload_and_validate(tenant_a, zip_bytes(files))

    assert dataset["status"] == "ready" and dataset["error"] is None
    assert dataset["layout"] == "split_folders" and dataset["classes"] == ["cat", "dog"]
    assert dataset["counts"] == {"cat": {"train": 6, "val": 2}, "dog": {"train": 5, "val": 2}}
    assert dataset["split_counts"] == {"train": 11, "val": 4}
    assert dataset["image_stats"]["min_width"] == 16 and dataset["image_stats"]["count"] == 15
    assert [(f["member"], f["code"]) for f in dataset["rejected_files"]] == [
        ("train/cat/broken.png", "image_undecodable")
    ]
    assert dataset["rejected_files"][0]["reason"]
    assert dataset["duplicates"] == [
        {"member": "train/dog/dog_0.png", "duplicate_of": "train/dog/copy.png"}
    ]
    assert len(dataset["sha256"]) == 64
    assert sorted(path.rsplit("/", 1)[1] for path in _stored(tenant_a)) == [
        "archive.zip",
        "scan.json",
    ]


def _bomb() -> bytes:
    return zip_bytes({**dataset_files({"cat": 5, "dog": 5}), "cat/bomb.png": bytes(5 << 20)})


def _symlink() -> bytes:
    return zip_bytes(
        [
            *dataset_files({"cat": 5, "dog": 5}).items(),
            (symlink_entry("cat/link.png"), b"/etc/passwd"),
        ]
    )


BAD_ARCHIVES = {
    "not a zip": (
        lambda: b"just some text, not an archive",
        "not_a_zip",
        "not a readable zip archive",
    ),
    "path traversal": (
        lambda: zip_bytes(
            {**dataset_files({"cat": 5, "dog": 5}), "../../etc/cat.png": class_png(0, "x")}
        ),
        "path_traversal",
        "'../../etc/cat.png'",
    ),
    "symlink": (_symlink, "symlink_entry", "is a symbolic link"),
    "zip bomb": (_bomb, "zip_bomb", "over the 100:1 limit"),
    "no images": (
        lambda: zip_bytes({"cat/a.txt": b"hello", "dog/b.txt": b"world"}),
        "no_usable_images",
        "none of the 2 files is a usable image",
    ),
    "corrupt images": (
        lambda: zip_bytes(
            {name: truncated(data) for name, data in dataset_files({"cat": 5, "dog": 5}).items()}
        ),
        "no_usable_images",
        "10 image_undecodable",
    ),
    "too few per class": (
        lambda: zip_bytes(dataset_files({"cat": 6, "dog": 3})),
        "too_few_classes",
        "'dog' (only 3 usable images; at least 5",
    ),
    "one class": (
        lambda: zip_bytes(dataset_files({"cat": 9})),
        "too_few_classes",
        "at least 2 classes",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ARCHIVES))
def test_a_bad_archive_fails_with_its_reason_and_leaves_nothing_stored(case, tenant_a):
    build, code, message = BAD_ARCHIVES[case]

    dataset = _upload_and_validate(tenant_a, build())

    assert dataset["status"] == "failed"
    assert dataset["error"]["code"] == code
    assert message in dataset["error"]["message"]
    assert _stored(tenant_a) == []


@override_settings(TRAINING_ARCHIVE_LIMITS={"max_classes": 2})
def test_too_many_classes_fail_the_dataset(tenant_a):
    dataset = _upload_and_validate(tenant_a, zip_bytes(dataset_files({"a": 5, "b": 5, "c": 5})))

    assert dataset["error"] == {
        "code": "too_many_classes",
        "message": "the archive has 3 classes; the limit is 2",
    }
    assert _stored(tenant_a) == []


@override_settings(TRAINING_ARCHIVE_LIMITS={"max_archive_bytes": 1000})
def test_an_oversized_upload_is_refused_before_anything_is_stored(tenant_a):
    response = upload(tenant_a, zip_bytes(dataset_files({"cat": 5, "dog": 5})))

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"
    with tenant_a.context():
        assert not Dataset.objects.exists()
    assert _stored(tenant_a) == []


@override_settings(TRAINING_ARCHIVE_LIMITS={"max_archive_bytes": 1000})
def test_an_archive_far_over_the_limit_is_refused_before_it_is_read_or_spooled(tenant_a, spooled):
    response = upload(tenant_a, b"PK" + b"\0" * 500_000)

    assert response.status_code == 413, response.content
    assert response.json()["error"]["code"] == "request_too_large"
    assert spooled == []
    with tenant_a.context():
        assert not Dataset.objects.exists()
    assert _stored(tenant_a) == []


def test_an_archive_at_the_limit_passes_the_body_limit(tenant_a, spooled, settings):
    archive = zip_bytes(dataset_files({"cat": 5, "dog": 5}))
    settings.TRAINING_ARCHIVE_LIMITS = {"max_archive_bytes": len(archive)}

    response = upload(tenant_a, archive)

    assert response.status_code == 201, response.content
    assert sum(spooled) == len(archive)


def test_an_upload_without_a_file_is_a_400(tenant_a):
    response = tenant_a.client.post("/v1/datasets", {"name": "x"}, format="multipart")

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "file"


def test_a_read_only_key_cannot_upload(tenant_a):
    _, client = tenant_a.new_key(["read"])

    response = client.post("/v1/datasets", {"file": zip_bytes({"a": b"b"})}, format="multipart")

    assert response.status_code == 403


def test_deleting_a_dataset_removes_it_and_its_files(tenant_a, django_capture_on_commit_callbacks):
    dataset = _upload_and_validate(tenant_a, zip_bytes(dataset_files({"cat": 5, "dog": 5})))

    with django_capture_on_commit_callbacks(execute=True):  # files go once the delete commits
        response = tenant_a.client.delete(f"/v1/datasets/{dataset['id']}")

    assert response.status_code == 200 and response.json()["deleted"] is True
    assert tenant_a.client.get(f"/v1/datasets/{dataset['id']}").status_code == 404
    assert _stored(tenant_a) == []


def test_a_dataset_used_by_an_unfinished_job_cannot_be_deleted(tenant_a, base_model):
    dataset = _upload_and_validate(tenant_a, zip_bytes(dataset_files({"cat": 5, "dog": 5})))
    job = tenant_a.client.post("/v1/fine-tunes", {"dataset": dataset["id"]}, format="json")
    assert job.status_code == 201, job.content

    response = tenant_a.client.delete(f"/v1/datasets/{dataset['id']}")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "dataset_in_use"
    assert job.json()["id"] in response.json()["error"]["message"]
    assert len(_stored(tenant_a)) == 2
    with tenant_a.context():
        FineTuneJob.objects.update(status=FineTuneJob.Status.SUCCEEDED)
    assert tenant_a.client.delete(f"/v1/datasets/{dataset['id']}").status_code == 200
    with tenant_a.context():
        assert FineTuneJob.objects.get().dataset_ref == dataset["id"]


def test_another_tenants_dataset_is_not_found_and_untouched(tenant_a, tenant_b):
    dataset = _upload_and_validate(tenant_a, zip_bytes(dataset_files({"cat": 5, "dog": 5})))

    for method in ("get", "delete"):
        response = getattr(tenant_b.client, method)(f"/v1/datasets/{dataset['id']}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "resource_missing"
    assert tenant_b.client.get("/v1/datasets").json()["data"] == []
    assert tenant_a.client.get(f"/v1/datasets/{dataset['id']}").json()["status"] == "ready"
    assert len(_stored(tenant_a)) == 2


def test_the_list_is_newest_first_in_a_fixed_number_of_queries(tenant_a, django_assert_num_queries):
    ids = [
        upload(tenant_a, zip_bytes({"a/x.png": class_png(0, str(i))})).json()["id"]
        for i in range(3)
    ]

    with django_assert_num_queries(2):  # the key with its tenant, then the page
        page = tenant_a.client.get("/v1/datasets?limit=2").json()

    assert [row["id"] for row in page["data"]] == ids[::-1][:2] and page["has_more"]
    assert all(row["object"] == "dataset" for row in page["data"])

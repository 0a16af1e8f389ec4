"""Happy paths of dataset archives: each layout, the result shape, and reading images again."""

import json

import numpy as np
import pytest

from ml.images import ImageLimits, load_image
from tests.training.archive_factory import build_zip, class_images, image_bytes
from training.dataset_archive import (
    ArchiveLimits,
    ArchiveRejected,
    DatasetScan,
    iter_examples,
    load_arrays,
    read_dataset_archive,
)


def test_class_folders_make_one_class_each_all_in_train():
    archive = build_zip(class_images({"dog": 5, "cat": 6}))

    scan = read_dataset_archive(archive)

    assert scan.layout == "class_folders"
    assert scan.classes == ("cat", "dog")
    assert scan.splits == ("train",)
    assert scan.counts == {"cat": {"train": 6}, "dog": {"train": 5}}
    assert scan.class_counts == {"cat": 6, "dog": 5}
    assert scan.split_counts == {"train": 11}
    assert scan.rejected == scan.ignored == scan.duplicates == ()


def test_a_single_wrapping_folder_is_looked_through():
    archive = build_zip(class_images({"cat": 5, "dog": 5}, prefix="my pets/"))

    scan = read_dataset_archive(archive)

    assert scan.classes == ("cat", "dog")
    assert {example.member for example in scan.examples} >= {"my pets/cat/cat_0.png"}


def test_images_in_subfolders_of_a_class_belong_to_it():
    files = class_images({"cat": 3, "dog": 5})
    files.update(class_images({"indoor": 2}, prefix="cat/"))

    scan = read_dataset_archive(build_zip(files))

    assert scan.class_counts == {"cat": 5, "dog": 5}


def test_split_folders_with_aliases_map_to_canonical_splits():
    files = {
        **class_images({"cat": 5, "dog": 5}, prefix="train/"),
        **class_images({"cat": 2, "dog": 1}, prefix="validation/"),
        **class_images({"cat": 1}, prefix="test/"),
    }

    scan = read_dataset_archive(build_zip(files))

    assert scan.layout == "split_folders"
    assert scan.splits == ("train", "val", "test")
    assert scan.counts == {
        "cat": {"train": 5, "val": 2, "test": 1},
        "dog": {"train": 5, "val": 1},
    }


def test_a_csv_manifest_labels_and_splits_the_images_it_names():
    names = [f"data/images/{i}.png" for i in range(12)]
    files = {name: image_bytes(name) for name in names}
    rows = ["path,label,split"] + [
        f"images/{i}.png,{'cat' if i % 2 else 'dog'},{'val' if i >= 10 else ''}" for i in range(12)
    ]
    files["data/manifest.csv"] = "\n".join(rows).encode()

    scan = read_dataset_archive(build_zip(files))

    assert scan.layout == "manifest"
    assert scan.counts == {"cat": {"train": 5, "val": 1}, "dog": {"train": 5, "val": 1}}


def test_the_only_csv_at_the_top_is_the_manifest_and_unlisted_files_are_ignored():
    files = class_images({"cat": 5, "dog": 5})
    rows = ["Path , Label"] + [f"{name},{name.split('/')[0]}" for name in files]
    files["labels.csv"] = "\n".join(rows).encode()
    files["extra/unlisted.png"] = image_bytes("extra/unlisted.png")

    scan = read_dataset_archive(build_zip(files))

    assert scan.classes == ("cat", "dog")
    assert [(item.member, item.reason) for item in scan.ignored] == [
        ("extra/unlisted.png", "not listed in labels.csv")
    ]


def test_system_clutter_is_ignored_and_listed_not_rejected():
    files = class_images({"cat": 5, "dog": 5})
    files.update(
        {
            "__MACOSX/cat/._cat_0.png": b"\0\5\26\7",
            "cat/.DS_Store": b"junk",
            "dog/Thumbs.db": b"junk",
            ".hidden/secret.png": image_bytes("hidden"),
        }
    )

    scan = read_dataset_archive(build_zip(files))

    assert scan.rejected == ()
    assert {item.member: item.reason for item in scan.ignored} == {
        "__MACOSX/cat/._cat_0.png": "macOS resource fork",
        "cat/.DS_Store": "operating system metadata file",
        "dog/Thumbs.db": "operating system metadata file",
        ".hidden/secret.png": "hidden file",
    }


def test_image_statistics_describe_the_accepted_images():
    files = {f"cat/{i}.png": image_bytes(f"cat/{i}", size=(10, 20)) for i in range(5)}
    files |= {
        f"dog/{i}.jpg": image_bytes(f"dog/{i}", size=(30, 40), image_format="JPEG")
        for i in range(5)
    }

    stats = read_dataset_archive(build_zip(files)).image_stats

    assert (stats.count, stats.min_width, stats.max_width, stats.mean_width) == (10, 10, 30, 20.0)
    assert (stats.min_height, stats.max_height, stats.mean_height) == (20, 40, 30.0)
    assert stats.formats == {"JPEG": 5, "PNG": 5}


def test_the_scan_round_trips_through_json():
    files = {**class_images({"cat": 5, "dog": 5}), "stray.txt": b"hello", "cat/.DS_Store": b""}
    scan = read_dataset_archive(build_zip(files))

    stored = json.loads(json.dumps(scan.to_dict()))

    assert DatasetScan.from_dict(stored) == scan
    assert stored["class_counts"] == {"cat": 5, "dog": 5}
    assert "examples" not in scan.summary()
    assert stored["rejected"][0]["code"] == "not_in_class_folder"


def test_iter_examples_yields_the_scanned_bytes_again():
    files = {
        **class_images({"cat": 5, "dog": 5}, prefix="train/"),
        **class_images({"cat": 1}, prefix="val/"),
    }
    archive = build_zip(files)
    scan = read_dataset_archive(archive)

    items = list(iter_examples(archive, scan))
    held_out = list(iter_examples(archive, scan, splits=["val"]))

    assert len(items) == 11
    assert all(item.data == files[item.member] for item in items)
    assert [(item.split, item.label, item.member) for item in held_out] == [
        ("val", "cat", "val/cat/cat_0.png")
    ]


def test_load_arrays_decodes_with_ml_images_and_indexes_sorted_classes():
    files = class_images({"zebra": 5, "ant": 6})
    archive = build_zip(files)
    scan = read_dataset_archive(archive)

    x, y, splits = load_arrays(archive, scan, size=(4, 5))

    assert x.shape == (11, 4, 5, 3)
    assert x.dtype == np.uint8
    assert y.tolist() == [0] * 6 + [1] * 5  # ant=0, zebra=1
    assert splits == ["train"] * 11
    first = scan.examples[0]
    np.testing.assert_array_equal(x[0], load_image(files[first.member], (4, 5), ImageLimits()))


def test_iterating_a_different_archive_than_the_scanned_one_is_refused():
    scan = read_dataset_archive(build_zip(class_images({"cat": 5, "dog": 5})))
    tampered = class_images({"cat": 5, "dog": 5})
    tampered["cat/cat_0.png"] = image_bytes("something else")

    with pytest.raises(ArchiveRejected) as raised:
        list(iter_examples(build_zip(tampered), scan))

    assert raised.value.code == "archive_changed"
    assert "'cat/cat_0.png' has different bytes" in raised.value.message


def test_custom_limits_are_recorded_and_reused_for_reading():
    limits = ArchiveLimits(min_images_per_class=2, max_entries=10)
    archive = build_zip(class_images({"cat": 2, "dog": 2}))

    scan = read_dataset_archive(archive, limits=limits)

    assert scan.limits == limits
    assert len(list(iter_examples(archive, scan))) == 4

"""Per-file problems, duplicates, manifests and class rules: the scan lists them and goes on."""

import pytest

from tests.training.archive_factory import (
    build_zip,
    class_images,
    image_bytes,
    png_claiming_size,
    truncated,
)
from training.dataset_archive import (
    ArchiveLimits,
    ArchiveRejected,
    DuplicateFile,
    ExcludedClass,
    read_dataset_archive,
)

GOOD = class_images({"cat": 5, "dog": 5})


def scan_with(extra: dict[str, bytes], **limits: int):
    return read_dataset_archive(build_zip({**GOOD, **extra}), limits=ArchiveLimits(**limits))


def rejected_by_member(scan) -> dict[str, tuple[str, str]]:
    return {item.member: (item.code, item.reason) for item in scan.rejected}


def test_a_text_file_named_like_a_jpeg_is_rejected_by_its_content():
    scan = scan_with({"cat/cat.jpg": b"I am not a picture, just text."})

    code, reason = rejected_by_member(scan)["cat/cat.jpg"]
    assert code == "unsupported_image_type"
    assert "not an image" in reason
    assert scan.class_counts == {"cat": 5, "dog": 5}


def test_a_truncated_jpeg_is_rejected_as_undecodable():
    jpeg = image_bytes("big", size=(64, 64), image_format="JPEG")

    scan = scan_with({"dog/cut.jpg": truncated(jpeg)})

    code, reason = rejected_by_member(scan)["dog/cut.jpg"]
    assert code == "image_undecodable"
    assert "truncated" in reason


def test_an_image_over_the_pixel_limit_is_rejected_from_its_header():
    scan = scan_with({"cat/huge.png": png_claiming_size(100, 100)}, max_image_pixels=9_999)

    code, reason = rejected_by_member(scan)["cat/huge.png"]
    assert code == "image_too_many_pixels"
    assert "100x100 pixels; the limit is 9999 pixels" in reason


def test_a_png_claiming_100000_by_100000_pixels_is_rejected_without_decoding():
    scan = scan_with({"cat/bomb.png": png_claiming_size(100_000, 100_000)})

    code, reason = rejected_by_member(scan)["cat/bomb.png"]
    assert code == "image_too_many_pixels"
    assert "pixels" in reason
    assert scan.class_counts == {"cat": 5, "dog": 5}


def test_a_file_over_the_size_limit_is_rejected_without_being_read():
    big = image_bytes("big", size=(64, 64))

    scan = scan_with({"cat/big.png": big}, max_file_bytes=len(big) - 1)

    code, reason = rejected_by_member(scan)["cat/big.png"]
    assert code == "file_too_large"
    assert f"is {len(big)} bytes; the limit is {len(big) - 1} bytes" in reason


def test_nested_archives_are_rejected_by_name_and_by_content():
    inner = build_zip(GOOD).getvalue()

    scan = scan_with({"cat/more.zip": inner, "dog/sneaky.png": inner})

    rejected = rejected_by_member(scan)
    assert rejected["cat/more.zip"][0] == rejected["dog/sneaky.png"][0] == "nested_archive"
    assert "not opened" in rejected["cat/more.zip"][1]


def test_files_outside_class_folders_are_rejected_with_a_hint():
    scan = scan_with({"readme.png": image_bytes("readme")})

    code, reason = rejected_by_member(scan)["readme.png"]
    assert code == "not_in_class_folder"
    assert "cat/1.jpg" in reason


def test_identical_files_are_reported_as_duplicates_and_used_once():
    scan = scan_with({"dog/copy.png": GOOD["cat/cat_0.png"]})

    assert scan.duplicates == (DuplicateFile("dog/copy.png", duplicate_of="cat/cat_0.png"),)
    assert "dog/copy.png" not in {example.member for example in scan.examples}


def test_a_duplicate_across_splits_keeps_the_training_copy():
    files = class_images({"cat": 5, "dog": 5}, prefix="train/")
    files["val/cat/again.png"] = files["train/cat/cat_3.png"]

    scan = read_dataset_archive(build_zip(files))

    assert scan.duplicates == (DuplicateFile("val/cat/again.png", "train/cat/cat_3.png"),)
    assert scan.splits == ("train",)


def test_a_copy_of_a_rejected_file_is_rejected_for_the_same_reason():
    scan = scan_with({"cat/a.jpg": b"not an image", "dog/b.jpg": b"not an image"})

    code, reason = rejected_by_member(scan)["dog/b.jpg"]
    assert code == "unsupported_image_type"
    assert "(same bytes as 'cat/a.jpg')" in reason


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("c@t!", "may only hold letters"),
        ("x" * 101, "101 characters long; the limit is 100"),
        ("cat ", "starts or ends with a space"),
    ],
)
def test_invalid_class_names_reject_their_files(folder, expected):
    scan = scan_with({f"{folder}/one.png": image_bytes(folder)})

    code, reason = rejected_by_member(scan)[f"{folder}/one.png"]
    assert code == "invalid_class_name"
    assert expected in reason


def test_class_names_may_use_any_script_and_common_punctuation():
    scan = read_dataset_archive(build_zip(class_images({"猫": 5, "chat noir (Felis)": 5})))

    assert scan.classes == ("chat noir (Felis)", "猫")


def test_a_class_with_too_few_images_is_excluded_and_reported():
    scan = read_dataset_archive(build_zip(class_images({"cat": 5, "dog": 5, "emu": 3})))

    assert scan.classes == ("cat", "dog")
    assert scan.excluded_classes == (
        ExcludedClass("emu", 3, "only 3 usable images; at least 5 are needed"),
    )
    assert all(example.label != "emu" for example in scan.examples)


def test_a_class_with_no_training_images_is_excluded():
    files = {
        **class_images({"cat": 5, "dog": 5}, prefix="train/"),
        **class_images({"emu": 5}, prefix="val/"),
    }

    scan = read_dataset_archive(build_zip(files))

    assert scan.excluded_classes == (
        ExcludedClass("emu", 5, "no usable images in the train split"),
    )


def test_fewer_than_two_usable_classes_refuse_the_archive_naming_them():
    with pytest.raises(ArchiveRejected) as raised:
        read_dataset_archive(build_zip(class_images({"cat": 6, "dog": 2})))

    assert raised.value.code == "too_few_classes"
    assert "found 1 usable: 'cat' (6 images), 'dog' (only 2 usable images" in raised.value.message


def test_an_archive_without_any_usable_image_is_refused_with_a_summary():
    files = {f"{label}/{i}.jpg": f"text {label} {i}".encode() for label in "ab" for i in range(3)}

    with pytest.raises(ArchiveRejected) as raised:
        read_dataset_archive(build_zip(files))

    assert raised.value.code == "no_usable_images"
    assert (
        "none of the 6 files is a usable image (6 unsupported_image_type)" in raised.value.message
    )


def test_manifest_rows_with_problems_are_rejected_one_by_one():
    files = class_images({"cat": 5, "dog": 5})
    rows = ["path,label,split"] + [f"{name},{name.split('/')[0]},train" for name in files]
    rows += [
        "cat/missing.png,cat,train",
        "cat/cat_0.png,cat,val",
        "cat/extra.png,cat,holdout",
        "../outside.png,cat,",
        "dog/odd.png,d/o/g,",
    ]
    files |= {name: image_bytes(name) for name in ("cat/extra.png", "dog/odd.png")}
    files["manifest.csv"] = "\n".join(rows).encode()

    scan = read_dataset_archive(build_zip(files))

    rejected = rejected_by_member(scan)
    assert rejected["cat/missing.png"] == (
        "missing_file",
        "manifest.csv line 12 names a file the archive lacks",
    )
    assert rejected["cat/cat_0.png"][0] == "duplicate_manifest_row"
    assert "already listed on line 2" in rejected["cat/cat_0.png"][1]
    assert rejected["cat/extra.png"][0] == "unknown_split"
    assert "split 'holdout'; use one of train, val, test" in rejected["cat/extra.png"][1]
    assert rejected["../outside.png"][0] == "invalid_path"
    assert rejected["dog/odd.png"][0] == "invalid_class_name"
    assert scan.ignored == ()
    assert scan.class_counts == {"cat": 5, "dog": 5}

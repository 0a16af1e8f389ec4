"""Archive-level refusals: each asserts the stable code and that the message names the problem."""

import io
import zipfile

import pytest

from tests.training.archive_factory import build_zip, class_images, symlink_entry
from training.dataset_archive import ArchiveLimits, ArchiveRejected, read_dataset_archive
from training.dataset_archive.zip_safety import _Overflow, _read_at_most

GOOD = class_images({"cat": 5, "dog": 5})


def rejection(archive: io.BytesIO, **limits: int) -> ArchiveRejected:
    with pytest.raises(ArchiveRejected) as raised:
        read_dataset_archive(archive, limits=ArchiveLimits(**limits))
    return raised.value


def test_a_file_that_is_not_a_zip_is_refused():
    error = rejection(io.BytesIO(b"just some text, not an archive"))

    assert error.code == "not_a_zip"
    assert "not a readable zip archive" in error.message


def test_a_truncated_zip_is_refused():
    data = build_zip(GOOD).getvalue()

    error = rejection(io.BytesIO(data[: len(data) // 2]))

    assert error.code == "not_a_zip"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "entry '../../etc/passwd' escapes the archive root"),
        ("cat/../../evil.png", "entry 'cat/../../evil.png' escapes the archive root"),
        ("cat/../dog/x.png", "entry 'cat/../dog/x.png' contains a '..' component"),
        ("/etc/passwd", "entry '/etc/passwd' is an absolute path"),
        ("C:/Windows/evil.png", "entry 'C:/Windows/evil.png' is an absolute path"),
        ("..\\..\\evil.png", "entry '..\\..\\evil.png' escapes the archive root"),
        ("\\\\server\\share\\x.png", "is an absolute path"),
    ],
)
def test_entries_escaping_the_archive_root_refuse_the_archive(name, expected):
    error = rejection(build_zip({**GOOD, name: b"x"}))

    assert error.code == "path_traversal"
    assert expected in error.message


def test_control_characters_in_names_refuse_the_archive():
    error = rejection(build_zip({**GOOD, "cat/a\x1b[2Jb.png": b"x"}))

    assert error.code == "unsafe_entry_name"
    assert "control characters" in error.message


def test_symlink_entries_refuse_the_archive():
    archive = build_zip([*GOOD.items(), (symlink_entry("cat/link.png"), b"/etc/passwd")])

    error = rejection(archive)

    assert error.code == "symlink_entry"
    assert "'cat/link.png' is a symbolic link" in error.message


def test_encrypted_entries_refuse_the_archive():
    def encrypt_first(infos):
        infos[0].flag_bits |= 0x1

    error = rejection(build_zip(GOOD, edit=encrypt_first))

    assert error.code == "encrypted_entry"
    assert "'cat/cat_0.png' is encrypted" in error.message


def test_compression_methods_other_than_deflate_and_stored_are_refused():
    error = rejection(build_zip(GOOD, compression=zipfile.ZIP_BZIP2))

    assert error.code == "unsupported_compression"
    assert "compression method 12" in error.message


def test_too_many_entries_are_refused_before_the_directory_is_parsed():
    error = rejection(build_zip(GOOD), max_entries=9)

    assert error.code == "too_many_entries"
    assert "10 entries; the limit is 9" in error.message


def test_an_archive_over_the_size_limit_is_refused():
    archive = build_zip(GOOD)

    error = rejection(archive, max_archive_bytes=100)

    assert error.code == "archive_too_large"
    assert f"is {len(archive.getvalue())} bytes; the limit is 100 bytes" in error.message


def test_declared_uncompressed_total_over_the_limit_is_refused():
    total = sum(len(data) for data in GOOD.values())

    error = rejection(build_zip(GOOD), max_total_uncompressed_bytes=total - 1)

    assert error.code == "uncompressed_too_large"
    assert f"expands to {total} bytes" in error.message


def test_a_real_zip_bomb_of_zeros_is_refused_by_its_ratio():
    archive = build_zip({**GOOD, "cat/bomb.png": bytes(5 * 1024 * 1024)})

    error = rejection(archive)

    assert error.code == "zip_bomb"
    assert "entry 'cat/bomb.png' expands" in error.message
    assert "over the 100:1 limit" in error.message


def test_small_highly_compressible_files_are_exempt_from_the_ratio_limit():
    archive = build_zip({**GOOD, "cat/blank.txt": bytes(50_000)})

    scan = read_dataset_archive(archive)

    assert [item.member for item in scan.rejected] == ["cat/blank.txt"]


def test_entries_sharing_compressed_data_are_refused():
    def overlap(infos):
        infos[1].header_offset = infos[0].header_offset

    error = rejection(build_zip(GOOD, edit=overlap))

    assert error.code == "overlapping_entries"
    assert "'cat/cat_0.png' and 'cat/cat_1.png' overlap" in error.message


def test_repeated_entry_names_are_refused():
    with pytest.warns(UserWarning, match="Duplicate name"):
        archive = build_zip([*GOOD.items(), ("cat/cat_0.png", b"other bytes")])

    error = rejection(archive)

    assert error.code == "duplicate_entry_name"
    assert "'cat/cat_0.png' appears more than once" in error.message


def test_reading_stops_as_soon_as_a_stream_passes_its_limit():
    class EndlessZeros(io.RawIOBase):
        reads = 0

        def read(self, size=-1):
            self.reads += 1
            return bytes(size)

    stream = EndlessZeros()

    with pytest.raises(_Overflow):
        _read_at_most(stream, 100_000)
    assert stream.reads == 2  # stopped at the first chunk past the limit, not at the end


def test_a_header_claiming_fewer_bytes_than_stored_never_yields_more():
    def understate(infos):
        infos[0].file_size = 10

    scan = read_dataset_archive(build_zip(class_images({"cat": 6, "dog": 5}), edit=understate))

    assert [(item.member, item.code) for item in scan.rejected] == [
        ("cat/cat_0.png", "corrupt_entry")
    ]
    assert "damaged" in scan.rejected[0].reason


def test_an_archive_holding_only_clutter_is_refused():
    error = rejection(build_zip({"__MACOSX/._x": b"", ".DS_Store": b""}))

    assert error.code == "no_usable_images"
    assert "no files apart from system clutter" in error.message


def test_top_level_mixing_split_and_class_folders_is_refused():
    files = {**class_images({"cat": 5}, prefix="train/"), **class_images({"dog": 5})}

    error = rejection(build_zip(files))

    assert error.code == "ambiguous_layout"
    assert "mixes split folders (train) with other folders (dog)" in error.message


def test_several_csv_files_without_a_manifest_csv_are_refused():
    files = {**GOOD, "a.csv": b"path,label\n", "b.csv": b"path,label\n"}

    error = rejection(build_zip(files))

    assert error.code == "ambiguous_manifest"
    assert "several CSV files at its top (a.csv, b.csv)" in error.message


def test_a_manifest_without_path_and_label_columns_is_refused():
    files = {**GOOD, "manifest.csv": b"file,class\ncat/cat_0.png,cat\n"}

    error = rejection(build_zip(files))

    assert error.code == "invalid_manifest"
    assert "needs a header row with the columns path and label" in error.message


def test_too_many_classes_are_refused_before_decoding():
    error = rejection(build_zip(class_images({"a": 1, "b": 1, "c": 1})), max_classes=2)

    assert error.code == "too_many_classes"
    assert "3 classes; the limit is 2" in error.message


def test_a_zip64_entry_count_is_refused_before_zipfile_parses_the_directory(monkeypatch):
    archive = build_zip((f"{i}", b"") for i in range(0x10000 + 1))  # needs a zip64 end record

    def must_not_parse(*args, **kwargs):
        raise AssertionError("the central directory was parsed")

    monkeypatch.setattr(zipfile, "ZipFile", must_not_parse)
    error = rejection(archive)

    assert error.code == "too_many_entries"
    assert "65537 entries; the limit is 20000" in error.message


def test_an_oversized_central_directory_is_refused_before_parsing():
    archive = build_zip({f"cat/{'x' * 2000}{i}.png": b"" for i in range(5)})

    error = rejection(archive, max_entries=5)

    assert error.code == "too_many_entries"
    assert "directory is" in error.message
    assert "more than 5 entries can need" in error.message

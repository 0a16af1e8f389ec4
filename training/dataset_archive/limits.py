"""Limits that bound the work and memory one dataset archive may cost."""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class ArchiveLimits:
    """Every bound applied while reading an archive; the defaults suit the product.

    Sizes are in bytes. ``max_compression_ratio`` applies per entry, only to
    entries larger than ``ratio_exempt_below_bytes``: small, highly repetitive
    files (a blank BMP icon) legitimately compress far beyond 100:1 and cannot
    hurt, while a bomb needs size to do damage.
    """

    max_archive_bytes: int = 200 * MB
    max_entries: int = 20_000
    max_total_uncompressed_bytes: int = 1024 * MB
    max_file_bytes: int = 20 * MB
    max_compression_ratio: int = 100
    ratio_exempt_below_bytes: int = 1 * MB
    max_classes: int = 1_000
    min_images_per_class: int = 5
    max_image_pixels: int = 40_000_000
    max_class_name_length: int = 100


DEFAULT_LIMITS = ArchiveLimits()

import io

import numpy as np
import pytest
from PIL import Image, ImageFile

from ml.images import ALLOWED_FORMATS, ImageLimits, ImageRejected, load_image


def _encoded(image: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format)
    return buffer.getvalue()


@pytest.mark.parametrize("image_format", sorted(ALLOWED_FORMATS))
def test_every_allowed_format_decodes_to_rgb_pixels_of_the_model_size(image_format):
    data = _encoded(Image.new("RGB", (40, 30), (200, 10, 10)), image_format)

    pixels = load_image(data, (16, 16))

    assert pixels.dtype == np.uint8 and pixels.shape == (16, 16, 3)
    assert abs(int(pixels[8, 8, 0]) - 200) < 8 and int(pixels[8, 8, 1]) < 24


@pytest.mark.parametrize("image_format", ["TIFF", "PPM", "ICO"])
def test_formats_outside_the_allowed_ones_are_refused_unparsed(image_format):
    data = _encoded(Image.new("RGB", (8, 8), "red"), image_format)

    with pytest.raises(ImageRejected) as raised:
        load_image(data, (8, 8))

    assert raised.value.code == "unsupported_image_type" and raised.value.status == 415
    assert "BMP, GIF, JPEG, PNG, WEBP" in raised.value.message


def test_rgb_palette_and_alpha_images_decode_to_the_same_rgb_pixels():
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 8, 3), np.uint8))
    rgba = rgb.copy()
    rgba.putalpha(128)

    from_rgb = load_image(_encoded(rgb, "PNG"), (8, 8))
    from_rgba = load_image(_encoded(rgba, "PNG"), (8, 8))

    assert from_rgb.dtype == np.uint8 and from_rgb.shape == (8, 8, 3)
    np.testing.assert_array_equal(from_rgb, np.asarray(rgb))
    np.testing.assert_array_equal(from_rgba, np.asarray(rgb))


def _photo_jpeg(width: int, height: int) -> bytes:
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // width, y * 255 // height, (x + y) % 256], axis=-1)
    return _encoded(Image.fromarray(pixels.astype(np.uint8)), "JPEG")


@pytest.fixture
def decoded_sizes(monkeypatch):
    """The size at which each image's pixels were decoded (as its decoder is set up)."""
    sizes = []
    prepare = ImageFile.ImageFile.load_prepare

    def recording_prepare(image):
        sizes.append(image.size)
        return prepare(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load_prepare", recording_prepare)
    return sizes


def test_a_large_jpeg_is_decoded_in_draft_mode_at_a_fraction_of_its_size(decoded_sizes):
    data = _photo_jpeg(1600, 1200)

    pixels = load_image(data, (64, 64))

    assert decoded_sizes == [(200, 150)]  # libjpeg's 1/8 scale, still above 64x64
    assert pixels.dtype == np.uint8 and pixels.shape == (64, 64, 3)
    full = Image.open(io.BytesIO(data)).resize((64, 64), Image.Resampling.BILINEAR)
    assert np.abs(pixels.astype(int) - np.asarray(full, dtype=int)).mean() < 1


def test_draft_mode_never_decodes_a_jpeg_below_the_model_size(decoded_sizes):
    pixels = load_image(_photo_jpeg(120, 90), (64, 48))  # (height, width)

    assert decoded_sizes == [(120, 90)]  # at half scale it would be 45 high, under 64
    assert pixels.shape == (64, 48, 3)


def test_too_many_pixels_are_refused_from_the_header_before_any_pixel_is_decoded(
    decoded_sizes,
):
    data = _photo_jpeg(2100, 2000)  # 4.2 MP

    with pytest.raises(ImageRejected) as raised:
        load_image(data, (64, 64), ImageLimits(max_pixels=4_000_000))

    assert (raised.value.code, raised.value.status) == ("image_too_many_pixels", 413)
    assert "2100x2000" in raised.value.message
    assert decoded_sizes == []

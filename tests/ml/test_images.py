import io

import numpy as np
import pytest
from PIL import Image

from ml.images import ALLOWED_FORMATS, ImageRejected, load_image


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

"""Every image-reading edge case: orientation, modes, bit depth, broken and hostile files."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from platesearch.media import ImageReadError, read_image

DATA = Path(__file__).parent / "data"


def save(tmp_path, name, image: Image.Image, **kwargs):
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 clockwise to display
    path = save(tmp_path, "rotated.jpg", image, exif=exif)
    assert read_image(path).shape == (40, 20, 3)


def test_a_phones_heic_photo_reads_upright_as_its_jpeg(sample):
    """HEIC, iPhones' default: a sample photo stored turned, its turn in the file (tests/data)."""
    heic = read_image(DATA / "eu-test_003-turned.heic")
    jpeg = read_image(sample / "photos" / "images" / "eu-test_003.jpg")
    assert heic.shape == jpeg.shape  # turned back: 397 rows of 530, not 530 of 397
    assert np.abs(heic.astype(int) - jpeg).mean() < 4  # the same picture, up to compression


def test_a_cut_heic_file_is_one_clear_error(tmp_path):
    cut = tmp_path / "cut.heic"
    cut.write_bytes((DATA / "eu-test_003-turned.heic").read_bytes()[:10_000])
    with pytest.raises(ImageReadError, match="not an image"):
        read_image(cut)


def test_an_avif_photo_reads_upright_as_its_jpeg(tmp_path, sample):
    jpeg_path = sample / "photos" / "images" / "eu-test_003.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    turned = Image.open(jpeg_path).transpose(Image.Transpose.ROTATE_90)
    avif = read_image(save(tmp_path, "phone.avif", turned, quality=60, exif=exif))
    jpeg = read_image(jpeg_path)
    assert avif.shape == jpeg.shape and np.abs(avif.astype(int) - jpeg).mean() < 4


@pytest.mark.parametrize("mode", ["L", "1", "P", "RGBA", "LA", "CMYK"])
def test_modes_become_bgr(tmp_path, mode):
    image = Image.new("RGB", (30, 10), (10, 200, 30)).convert(mode)
    suffix = "jpg" if mode == "CMYK" else "png"
    out = read_image(save(tmp_path, f"x.{suffix}", image))
    assert out.shape == (10, 30, 3) and out.dtype == np.uint8


def test_rgb_becomes_bgr(tmp_path):
    out = read_image(save(tmp_path, "red.png", Image.new("RGB", (4, 4), (255, 0, 0))))
    assert tuple(out[0, 0]) == (0, 0, 255)


def test_transparent_pixels_become_white(tmp_path):
    out = read_image(save(tmp_path, "clear.png", Image.new("RGBA", (4, 4), (0, 0, 0, 0))))
    assert (out == 255).all()


def test_16_bit_png_is_rescaled(tmp_path):
    values = np.array([[0, 65535], [32768, 65535]], dtype=np.uint16)
    out = read_image(save(tmp_path, "deep.png", Image.fromarray(values)))
    assert out[0, 0, 0] == 0 and out[0, 1, 0] == 255 and 120 <= out[1, 0, 0] <= 135


@pytest.mark.parametrize(
    "content,reason",
    [(b"", "not an image"), (b"hello, I am text", "not an image")],
)
def test_broken_files_raise_one_error_type(tmp_path, content, reason):
    path = tmp_path / "broken.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=reason) as info:
        read_image(path)
    assert info.value.path == path


def test_truncated_jpeg(tmp_path):
    path = save(tmp_path, "full.jpg", Image.effect_noise((200, 200), 50).convert("RGB"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="cannot decode"):
        read_image(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "absent.png")
    with pytest.raises(ImageReadError, match="directory"):
        read_image(tmp_path)


def test_pixel_limit(tmp_path):
    path = save(tmp_path, "big.png", Image.new("L", (2000, 1000)))
    assert read_image(path, max_pixels=2_000_000).shape == (1000, 2000, 3)
    with pytest.raises(ImageReadError, match="above the limit"):
        read_image(path, max_pixels=1_000_000)


def test_non_ascii_path_with_spaces(tmp_path):
    path = save(tmp_path, "фото машини 1.png", Image.new("RGB", (8, 8)))
    assert read_image(path).shape == (8, 8, 3)


def test_read_error_survives_pickling_for_worker_pools(tmp_path):
    import pickle

    error = ImageReadError(tmp_path / "x.jpg", "cannot decode")
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) and copy.path == error.path and copy.reason == "cannot decode"


def test_taken_at_is_the_exif_time_else_the_file_time(tmp_path):
    from datetime import datetime

    from platesearch.media import taken_at

    image = Image.fromarray(np.zeros((8, 8, 3), np.uint8))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = "2024:05:06 07:08:09"  # DateTimeOriginal, in the Exif sub-IFD
    image.save(tmp_path / "camera.jpg", exif=exif)
    assert taken_at(tmp_path / "camera.jpg", 0.0) == "2024-05-06T07:08:09"
    exif = Image.Exif()
    exif[306] = "not a time"
    image.save(tmp_path / "odd.jpg", exif=exif)
    image.save(tmp_path / "plain.png")
    mtime = 1_700_000_000.7
    for name in ("odd.jpg", "plain.png"):
        assert taken_at(tmp_path / name, mtime) == datetime.fromtimestamp(mtime).replace(microsecond=0).isoformat()

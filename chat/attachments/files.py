"""What an uploaded file really is, judged from its bytes alone, and how it is made safe.

The client's content type and file extension say nothing trustworthy: a page renamed
.png, or an image with a script appended, must never reach a browser as what it
claims. Images are decoded and re-encoded (no metadata, no trailing bytes survive);
everything else is only ever served as a download (see views.py).
"""

import io
import re
import unicodedata
from dataclasses import dataclass

from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ChatError, ErrorCode

# Decoded, a 40-megapixel image takes about 160 MB; a few-KB "decompression bomb" would
# otherwise take the worker's memory. Checked from the header, before decoding.
MAX_PIXELS = 40_000_000
NAME_MAX_LENGTH = 100

IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
    "text/plain": "txt",
    "text/csv": "csv",
    "text/html": "html",
    "image/svg+xml": "svg",
    "application/xml": "xml",
    "application/octet-stream": "bin",
}
# The starts of a document a browser would sniff as HTML (WHATWG MIME Sniffing, 7.1).
HTML_STARTS = re.compile(
    rb"^<(!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p|!--)[\s>/]", re.I
)
# Characters never kept in a name: path separators, what Windows refuses, and quotes.
UNSAFE_IN_NAME = re.compile(r'[\\/:*?"<>|]')


@dataclass(frozen=True)
class CheckedFile:
    data: bytes
    content_type: str
    is_image: bool


def _reencoded_image(data: bytes) -> CheckedFile | None:
    """The image in `data`, decoded and saved again without metadata; None when it is no
    image of a format we show."""
    try:
        image = Image.open(io.BytesIO(data), formats=list(IMAGE_TYPES))
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    except Image.DecompressionBombError:
        raise ChatError(ErrorCode.ATTACHMENT_TOO_LARGE, _("The image has too many pixels.")) from None
    with image:
        if image.width * image.height > MAX_PIXELS:
            raise ChatError(ErrorCode.ATTACHMENT_TOO_LARGE, _("The image has too many pixels."))
        image_format = image.format or ""
        try:
            # An animation keeps its first frame: a still picture is all a chat needs.
            image.seek(0)
            image.load()
            # Turned upright as the camera meant, since the orientation tag goes with the metadata.
            upright = ImageOps.exif_transpose(image)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            raise ChatError(ErrorCode.ATTACHMENT_TYPE_REFUSED, _("The image is damaged.")) from None
        output = io.BytesIO()
        options: dict[str, object] = {}
        if image_format == "JPEG":
            options["quality"] = 90
            if upright.mode not in ("RGB", "L", "CMYK"):
                upright = upright.convert("RGB")
        elif image_format == "WEBP":
            options["quality"] = 90
        elif image_format in ("GIF", "PNG") and "transparency" in image.info:
            options["transparency"] = image.info["transparency"]
        # No exif, icc, text chunks or comments are passed on: the new file has none.
        upright.save(output, format=image_format, **options)
    return CheckedFile(data=output.getvalue(), content_type=IMAGE_TYPES[image_format], is_image=True)


def _text_type(data: bytes, name: str) -> str | None:
    """A text type for UTF-8 text without NUL; markup browsers would render is named as such."""
    if b"\x00" in data:
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    head = text.lstrip()[:1024].encode()
    if HTML_STARTS.match(head):
        return "text/html"
    if head[:5].lower() == b"<?xml" or b"<svg" in head.lower():
        return "image/svg+xml" if b"<svg" in head.lower() else "application/xml"
    # Plain text and CSV look alike in bytes; the name tells them apart, and both are safe.
    return "text/csv" if name.lower().endswith(".csv") else "text/plain"


def file_check(*, data: bytes, name: str) -> CheckedFile:
    """What `data` really is: images re-encoded, PDFs by their magic number, UTF-8 text;
    anything else is application/octet-stream. Refuses damaged and oversized images."""
    image = _reencoded_image(data)
    if image is not None:
        return image
    if data.startswith(b"%PDF-"):
        return CheckedFile(data=data, content_type="application/pdf", is_image=False)
    text_type = _text_type(data, name)
    return CheckedFile(data=data, content_type=text_type or "application/octet-stream", is_image=False)


def name_sanitise(*, name: str, content_type: str) -> str:
    """A name safe to show and to offer as a download: the last path part only, without
    control or direction-changing characters, no leading dots, length-capped, with the
    extension of what the file really is."""
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[\\/]", name)[-1]
    # Cc: control characters; Cf: format ones, such as U+202E, which shows "gpj.exe" as "exe.jpg".
    name = "".join(char for char in name if unicodedata.category(char) not in ("Cc", "Cf", "Zl", "Zp"))
    name = UNSAFE_IN_NAME.sub("_", name)
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    stem = " ".join(stem.split()).strip(". ")
    extension = EXTENSIONS.get(content_type, "bin")
    stem = stem[: NAME_MAX_LENGTH - len(extension) - 1].rstrip(". ") or "file"
    return f"{stem}.{extension}"

"""What both image providers need for a scene: the instruction that names the characters in
the order of their reference images, and (offline) a labelled placeholder built from them."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterator, Sequence

from PIL import Image, ImageDraw, ImageFont

from bot.providers.base import SceneReference

RGB = tuple[int, int, int]
SIZE = (1024, 768)


def scene_instruction(prompt: str, names: Sequence[str], style: str, hint: str) -> str:
    """The text of a scene request: the composed prompt, who each reference image is (in
    order), and the rule to keep every character recognisable."""
    listed = "; ".join(f"image {i + 1}: {name}" for i, name in enumerate(names))
    return (
        f"{prompt}\n\nDraw one scene with these {len(names)} characters together. The attached "
        f"reference images show them, in this order: {listed}. Keep each character "
        "recognisable: the same face, hair, build and outfit as in their reference image. "
        f"Art style: {style} ({hint}). No text, no watermark."
    )


def reference_label(index: int, name: str) -> str:
    """The text part sent before a reference image."""
    return f"Reference image {index + 1}: {name}"


def sheet_label(index: int, name: str) -> str:
    """The text part sent before a character's sheet (after its reference image)."""
    return f"Character sheet of {name} (reference image {index + 1}: front, side, back, faces)"


def reference_items(references: Sequence[SceneReference]) -> Iterator[str | tuple[bytes, str]]:
    """What follows a scene's instruction, in order: each character's label and portrait,
    then, when it has one, its sheet's label and the sheet (text, or ``(bytes, mime type)``)."""
    for index, ref in enumerate(references):
        yield reference_label(index, ref.name)
        yield ref.image, ref.mime_type
        if ref.sheet is not None:
            yield sheet_label(index, ref.name)
            yield ref.sheet, "image/png"


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def draw_scene(
    background: bytes,
    prompt: str,
    references: Sequence[SceneReference],
    colours: tuple[RGB, RGB, RGB],
) -> bytes:
    """A placeholder scene: the style's background, each portrait side by side in order with
    its name below, and the setting written at the top. Unreadable portraits become frames."""
    text_colour, accent, band = colours
    with Image.open(io.BytesIO(background)) as opened:
        image = opened.convert("RGB").resize(SIZE)
    draw = ImageDraw.Draw(image)
    write = draw.text
    count = max(len(references), 1)
    slot = SIZE[0] // count
    side = min(slot - 30, 360)
    top = 200
    for index, ref in enumerate(references):
        x = index * slot + (slot - side) // 2
        try:
            with Image.open(io.BytesIO(ref.image)) as portrait:
                tile = portrait.convert("RGB").resize((side, side))
            image.paste(tile, (x, top))
        except (OSError, ValueError, Image.DecompressionBombError):
            draw.rectangle([x, top, x + side, top + side], fill=band)
        draw.rectangle([x - 3, top - 3, x + side + 3, top + side + 3], outline=accent, width=4)
        label = f"{index + 1}. {ref.name}"[:28]
        write(
            (x + side // 2, top + side + 30), label, font=_font(26), fill=text_colour, anchor="mm"
        )
    draw.rectangle([0, 0, SIZE[0], 120], fill=band)
    lines = textwrap.wrap(prompt.strip() or "scene", width=60)[:2]
    for i, line in enumerate(lines):
        write((20, 20 + 36 * i), line, font=_font(28), fill=text_colour)
    write(
        (SIZE[0] - 20, SIZE[1] - 30),
        "offline scene placeholder",
        font=_font(22),
        fill=accent,
        anchor="rm",
    )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()

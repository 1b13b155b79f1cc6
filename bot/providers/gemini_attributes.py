"""What the Gemini text model is asked for and how its answer is read: the system instruction,
the attributes JSON schema (sent as the response schema) and the parsing of the answer into
:class:`~bot.providers.base.PromptResult`."""

from __future__ import annotations

import functools

from google.genai import types
from pydantic import BaseModel, Field, ValidationError, field_validator

from bot.providers.base import CharacterAttributes, PromptResult
from bot.providers.retry import ProviderError

SYSTEM_INSTRUCTION = (
    "You design characters for an image generator. From the member's description, extract "
    "the character's attributes and write one optimised image prompt for the requested art "
    "style. Keep everything the member said and invent plausible details only where the "
    "description is silent. When a name, gender or age is given, use exactly that. Write in "
    "English. personality: 3 to 6 single adjectives. tags: 3 to 8 short lowercase keywords. "
    "background: two or three sentences of backstory. image_prompt: one paragraph of at most "
    "120 words describing a single character portrait (subject, face, hair, clothing, pose, "
    "expression, background, lighting) in the art style's medium and look, with no text or "
    "watermark in the image. With content filter 'strict', keep everything family-friendly."
)


class _PhysicalTraits(BaseModel):
    hair: str | None = None
    eyes: str | None = None
    skin: str | None = None
    build: str | None = None
    height: str | None = None
    distinguishing_features: str | None = None


class AttributesDocument(BaseModel):
    """The JSON the text model must return (also sent to it as the response schema)."""

    name: str = Field(min_length=1, max_length=100)
    age: str | None
    gender: str | None
    occupation: str | None
    personality: list[str]
    physical_traits: _PhysicalTraits
    clothing: str | None
    background: str | None
    tags: list[str]
    image_prompt: str = Field(min_length=1, max_length=4000)

    @field_validator("age", mode="before")
    @classmethod
    def _age_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value


@functools.cache
def attributes_schema() -> types.Schema | type[AttributesDocument]:
    """The response schema, converted once: given the pydantic class, google-genai rebuilds its
    JSON schema on every request (~3 ms of CPU per create, bench/generation); given the
    converted Schema it only copies it (~0.8 ms). The conversion is the SDK's own; should
    that helper move, the class is passed as before."""
    try:
        from google.genai import _transformers

        converted = _transformers.t_schema(None, AttributesDocument)
    except Exception:  # noqa: BLE001 - an SDK without the helper: the slower, same request
        return AttributesDocument
    return converted if converted is not None else AttributesDocument


def parse_attributes(
    answer: str,
    *,
    finish: str,
    model: str,
    name: str | None = None,
    gender: str | None = None,
    age: str | None = None,
) -> PromptResult:
    """The text model's JSON ``answer`` as attributes + prompt; a name, gender or age the
    member gave wins over the model's.

    Raises:
        ProviderError: ``invalid_response`` when the answer is not the attributes schema.
    """
    try:
        doc = AttributesDocument.model_validate_json(answer)
    except ValidationError:
        raise ProviderError(
            "invalid_response",
            detail=f"text model answer is not the attributes schema (finish {finish})",
        ) from None
    traits = {k: v.strip() for k, v in doc.physical_traits.model_dump().items() if v}
    attributes = CharacterAttributes(
        name=(name or doc.name).strip()[:100],
        age=age or _clean(doc.age),
        gender=gender or _clean(doc.gender),
        occupation=_clean(doc.occupation),
        personality=_clean_list(doc.personality),
        physical_traits=traits,
        clothing=_clean(doc.clothing),
        background=_clean(doc.background),
        tags=_clean_list([t.lower() for t in doc.tags]),
    )
    return PromptResult(attributes=attributes, prompt=doc.image_prompt.strip(), model=model)


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value[:1000] or None


def _clean_list(values: list[str], limit: int = 12) -> list[str]:
    out: list[str] = []
    for value in values:
        item = value.strip()[:60]
        if item and item not in out:
            out.append(item)
    return out[:limit]

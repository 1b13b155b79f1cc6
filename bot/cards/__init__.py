"""Character Card codec: V1/V2 JSON and PNG, with no database and no Discord.

Plain data in, plain data out; the PNG functions are CPU work for ``asyncio.to_thread``.
"""

from bot.cards.export import card_from_character, card_json_bytes
from bot.cards.model import MAX_CARD_BYTES, PROJECT_EXTENSION, CardData, CardVariant
from bot.cards.parse import parse_card
from bot.cards.png import card_png

__all__ = [
    "MAX_CARD_BYTES",
    "PROJECT_EXTENSION",
    "CardData",
    "CardVariant",
    "card_from_character",
    "card_json_bytes",
    "card_png",
    "parse_card",
]

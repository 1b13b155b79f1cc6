"""Character Card codec: V1/V2/V3 JSON and PNG, and CHARX, with no database and no Discord.

Plain data in, plain data out; the PNG and zip functions are CPU work for ``asyncio.to_thread``.
"""

from bot.cards.charx import write_charx
from bot.cards.export import card_from_character, card_json_bytes
from bot.cards.limits import MAX_CHARX_BYTES
from bot.cards.model import MAX_CARD_BYTES, PROJECT_EXTENSION, CardAsset, CardData, CardVariant
from bot.cards.parse import parse_card
from bot.cards.png import card_png
from bot.cards.v3 import AssetImage, v2_backfill, v3_card

__all__ = [
    "MAX_CARD_BYTES",
    "MAX_CHARX_BYTES",
    "PROJECT_EXTENSION",
    "AssetImage",
    "CardAsset",
    "CardData",
    "CardVariant",
    "card_from_character",
    "card_json_bytes",
    "card_png",
    "parse_card",
    "v2_backfill",
    "v3_card",
    "write_charx",
]

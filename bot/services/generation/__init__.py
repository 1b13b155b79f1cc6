"""Generation use cases: create, regenerate and variant, run in bounded slots, failed and refunded
as one step, and drained at shutdown."""

from bot.services.generation.model import CreateRequest, Outcome
from bot.services.generation.pipeline import GenerationPipeline

__all__ = ["CreateRequest", "GenerationPipeline", "Outcome"]

"""Generation use cases: create, regenerate and variant, run in bounded slots, failed and refunded
as one step, and drained at shutdown."""

from bot.services.generation.pipeline import CreateRequest, GenerationPipeline, Outcome

__all__ = ["CreateRequest", "GenerationPipeline", "Outcome"]

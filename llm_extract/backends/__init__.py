"""Backends that serve an OpenAI-compatible endpoint for llm-extract to call."""

from llm_extract.backends.local import LocalServer, default_model_path

__all__ = ["LocalServer", "default_model_path"]

"""Versioned prompt files: ``prompts/<name>/<version>.yaml``, addressed as ``name@version``.

A prompt file holds ``name``, ``version``, ``description``, the Jinja2 templates ``system`` and
``user`` (the single-call strategy), optional ``guided`` (the guided strategy's question, listing the
rules' ``candidates``), optional ``examples`` (few-shot pairs of article text and the
expected draft extraction), optional ``steps`` (``actors`` and ``sentence``: the small questions
of the decomposed strategy) and an optional ``ask``: which per-sentence fields the decomposed
strategy asks the model (``speaker``, ``polarity``, ``hedged``, ``event_type``, ``status``; all of
them by default), the others being decided by cue words as in the ``rules`` strategy. Unknown
keys, invalid Jinja2 and variables a template may not use are errors at load time; a variable
missing at render time is a ``PromptRenderError`` naming it.
The hash of the file's content goes into every result.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import jinja2.nodes
import yaml
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from llm_extract._config import DEFAULT_PROMPT
from llm_extract.errors import PromptNotFoundError, PromptRenderError, PromptValidationError

__all__ = [
    "DEFAULT_PROMPT",
    "SENTENCE_FIELDS",
    "Prompt",
    "close_article",
    "list_prompts",
    "load_prompt",
    "prompt_dirs",
]


# Variables each template may use; anything else is a typo caught at load time.
_DOCUMENT_VARS = {"document", "vocabulary"}
_TEMPLATE_VARS: dict[str, set[str]] = {
    "system": _DOCUMENT_VARS,
    "user": _DOCUMENT_VARS | {"examples", "known"},
    "guided": _DOCUMENT_VARS | {"candidates", "known"},
    "steps.actors": _DOCUMENT_VARS | {"candidates"},
    "steps.sentence": _DOCUMENT_VARS | {"sentence", "previous", "actors", "triggers"},
}
_TOP_KEYS = {"name", "version", "description", "system", "user", "guided", "examples", "steps", "ask"}
_REQUIRED = {"name", "version", "description", "system", "user"}
_STEP_KEYS = {"actors", "sentence"}
_EXAMPLE_KEYS = {"text", "published", "output"}
# The per-sentence decisions of the decomposed strategy a prompt may hand to the model.
SENTENCE_FIELDS = ("speaker", "polarity", "hedged", "event_type", "status")
_REF = re.compile(r"^(?P<name>[a-z0-9][a-z0-9_-]*)@(?P<version>v[0-9]+[a-z0-9._-]*)$")


_ARTICLE_TAG = re.compile(r"<\s*(/?)\s*article\b[^>]*>", re.IGNORECASE)


def close_article(value: object) -> str:
    # The article is delimited as data; no tag inside it (any case or spacing) may open or end the block.
    return _ARTICLE_TAG.sub(lambda m: f"<{m.group(1)} article>", str(value))


# Prompt files are data: a sandbox keeps a template from reaching Python internals
# ("document.__init__.__globals__...") or mutating the objects it is given.
_ENV = ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False, trim_blocks=True
)
_ENV.filters["article"] = close_article


@dataclass(frozen=True)
class Prompt:
    """A validated prompt version, ready to render."""

    name: str
    version: str
    description: str
    content_hash: str
    path: Path
    templates: Mapping[str, jinja2.Template] = field(repr=False)
    examples: tuple[Mapping[str, Any], ...] = ()
    ask: frozenset[str] = frozenset(SENTENCE_FIELDS)

    @property
    def ref(self) -> str:
        """The ``name@version`` address."""
        return f"{self.name}@{self.version}"

    def has(self, template: str) -> bool:
        """Whether the prompt defines ``template`` (e.g. ``steps.sentence``)."""
        return template in self.templates

    def render(self, template: str, **variables: Any) -> str:
        """Render one template; a missing variable raises ``PromptRenderError`` naming it."""
        if template not in self.templates:
            raise PromptRenderError(f"prompt has no {template!r} template", prompt=self.ref)
        try:
            return self.templates[template].render(**variables).strip()
        except jinja2.UndefinedError as exc:
            raise PromptRenderError(f"template {template!r}: {exc.message}", prompt=self.ref) from exc
        except SecurityError as exc:
            raise PromptRenderError(f"template {template!r} is not allowed: {exc}", prompt=self.ref) from exc


def prompt_dirs() -> list[Path]:
    """Where prompt files are looked up: ``LLM_EXTRACT_PROMPTS_DIR``, the checkout, the wheel."""
    dirs = []
    if env := os.environ.get("LLM_EXTRACT_PROMPTS_DIR"):
        dirs.append(Path(env))
    package = Path(__file__).resolve().parent
    dirs += [package.parent / "prompts", package / "_prompts"]
    return [d for d in dirs if d.is_dir()]


def list_prompts() -> list[str]:
    """Every ``name@version`` available, sorted."""
    refs = {f"{path.parent.name}@{path.stem}" for d in prompt_dirs() for path in d.glob("*/*.yaml")}
    return sorted(refs)


def load_prompt(ref: str | Path = DEFAULT_PROMPT) -> Prompt:
    """Load and validate a prompt by ``name@version`` or by path to a YAML file."""
    path = Path(ref) if isinstance(ref, Path) or str(ref).endswith((".yaml", ".yml")) else None
    if path is None:
        match = _REF.match(str(ref))
        if match is None:
            raise PromptNotFoundError(f"prompt reference {ref!r} is not of the form name@v1")
        for directory in prompt_dirs():
            candidate = directory / match["name"] / f"{match['version']}.yaml"
            if candidate.is_file():
                path = candidate
                break
        else:
            available = ", ".join(list_prompts()) or "none"
            raise PromptNotFoundError(f"no prompt {ref!r} (available: {available})", prompt=str(ref))
    if not path.is_file():
        raise PromptNotFoundError(f"prompt file {path} does not exist", prompt=str(ref))
    return _load_file(path.resolve(), path.stat().st_mtime_ns)


@cache
def _load_file(path: Path, _mtime: int) -> Prompt:
    raw = path.read_bytes().replace(b"\r\n", b"\n")
    ref = f"{path.parent.name}@{path.stem}"
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PromptValidationError(f"{path}: not valid UTF-8 YAML: {exc}", prompt=ref) from exc
    if not isinstance(data, dict):
        raise PromptValidationError(f"{path}: expected a mapping at the top level", prompt=ref)
    _check_keys(path, ref, "top level", data, allowed=_TOP_KEYS, required=_REQUIRED)
    if data["name"] != path.parent.name or data["version"] != path.stem:
        raise PromptValidationError(
            f"{path}: name/version {data['name']}@{data['version']} must match the path ({ref})", prompt=ref
        )

    sources: dict[str, Any] = {"system": data["system"], "user": data["user"]}
    if "guided" in data:
        sources["guided"] = data["guided"]
    steps = data.get("steps") or {}
    if not isinstance(steps, dict):
        raise PromptValidationError(f"{path}: 'steps' must be a mapping", prompt=ref)
    _check_keys(path, ref, "steps", steps, allowed=_STEP_KEYS, required=set())
    sources.update({f"steps.{key}": value for key, value in steps.items()})
    templates = {name: _compile(path, ref, name, source) for name, source in sources.items()}

    examples = data.get("examples") or []
    if not isinstance(examples, list):
        raise PromptValidationError(f"{path}: 'examples' must be a list", prompt=ref)
    for i, example in enumerate(examples):
        if not isinstance(example, dict):
            raise PromptValidationError(f"{path}: examples[{i}] must be a mapping", prompt=ref)
        _check_keys(path, ref, f"examples[{i}]", example, allowed=_EXAMPLE_KEYS, required={"text", "output"})

    ask = data.get("ask", list(SENTENCE_FIELDS))
    if not isinstance(ask, list) or not all(isinstance(a, str) for a in ask):
        raise PromptValidationError(f"{path}: 'ask' must be a list of field names", prompt=ref)
    if unknown := sorted(set(ask) - set(SENTENCE_FIELDS)):
        raise PromptValidationError(
            f"{path}: unknown field(s) {', '.join(unknown)} in ask (allowed: {', '.join(SENTENCE_FIELDS)})",
            prompt=ref,
        )

    digest = hashlib.sha256(raw).hexdigest()[:16]
    return Prompt(
        name=data["name"],
        version=data["version"],
        description=str(data["description"]).strip(),
        content_hash=f"sha256:{digest}",
        path=path,
        templates=templates,
        examples=tuple(examples),
        ask=frozenset(ask),
    )


def _check_keys(
    path: Path, ref: str, where: str, data: Mapping[str, Any], *, allowed: set[str], required: set[str]
) -> None:
    if unknown := sorted(set(data) - allowed):
        raise PromptValidationError(
            f"{path}: unknown key(s) {', '.join(unknown)} in {where} (allowed: {', '.join(sorted(allowed))})",
            prompt=ref,
        )
    if missing := sorted(required - set(data)):
        raise PromptValidationError(f"{path}: missing key(s) {', '.join(missing)} in {where}", prompt=ref)


def _compile(path: Path, ref: str, name: str, source: Any) -> jinja2.Template:
    if not isinstance(source, str) or not source.strip():
        raise PromptValidationError(f"{path}: template {name!r} must be a non-empty string", prompt=ref)
    try:
        parsed = _ENV.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise PromptValidationError(f"{path}: template {name!r}: {exc.message}", prompt=ref) from exc
    if private := sorted(_private_names(parsed)):
        raise PromptValidationError(
            f"{path}: template {name!r} reaches for {', '.join(private)}: names starting with an "
            "underscore are internals, not prompt variables",
            prompt=ref,
        )
    if undeclared := sorted(jinja2.meta.find_undeclared_variables(parsed) - _TEMPLATE_VARS[name]):
        raise PromptValidationError(
            f"{path}: template {name!r} uses unknown variable(s) {', '.join(undeclared)} "
            f"(allowed: {', '.join(sorted(_TEMPLATE_VARS[name]))})",
            prompt=ref,
        )
    return _ENV.from_string(source)


def _private_names(parsed: jinja2.nodes.Template) -> set[str]:
    """Attribute and item names starting with "_" ("x.__class__", "x['__globals__']", attr('_y'))."""
    names = {node.attr for node in parsed.find_all(jinja2.nodes.Getattr)}
    names |= {
        node.arg.value
        for node in parsed.find_all(jinja2.nodes.Getitem)
        if isinstance(node.arg, jinja2.nodes.Const) and isinstance(node.arg.value, str)
    }
    names |= {
        arg.value
        for node in parsed.find_all(jinja2.nodes.Filter)
        if node.name == "attr"
        for arg in node.args
        if isinstance(arg, jinja2.nodes.Const) and isinstance(arg.value, str)
    }
    return {name for name in names if name.startswith("_")}

"""EXPERIMENT ONLY: the throughput benchmark with the suggested llm_extract fixes monkeypatched in.

    python benchmarks/whatif_fixes.py [--fixes schema,models,fold,sentences,fastsend] [throughput.py options]

Nothing under llm_extract/ is edited; this process patches the imported modules so the gain of each
suggested change can be measured before making it. Fixes (see benchmarks/RESULTS.md):

(``schema``, ``models``, ``fold``, ``sentences`` and ``fastsend`` have since been made in llm_extract
itself, so patching them again measures nothing new; only ``reject``, upstream in instructor, is
still an experiment here. The descriptions below are of the code they were measured against.)

* ``schema``    client.py ``ModelClient._kwargs``: hand instructor a response model already wrapped
                by ``instructor``'s ``response_schema`` (cached per class). Instructor otherwise
                wraps it in a brand-new class on every call, so its ``lru_cache`` on
                ``generate_openai_schema`` never hits and pydantic regenerates the JSON schema
                (and builds a class) per request.
* ``models``    extract.py ``_decomposed``: reuse the dynamic ``ActorKinds``/``SentenceAnswer``
                models for identical field specs (keyed on the ``repr`` of the annotations: typing's
                ``Literal`` equality ignores order, which would change the request) — with ``schema``
                this makes the decomposed strategy's schemas cache hits too.
* ``fold``      extract.py ``_single``: fold the text only when a quote needs non-exact alignment
                (``align`` folds on demand when ``folded`` is None).
* ``sentences`` extract.py ``_single``: split sentences only for constrained grounding (aligned
                grounding never uses the spans). Patched through a caller check: experiment only.
* ``fastsend``  client.py ``ModelClient._asend``: send the first attempt outside tenacity; enter the
                ``AsyncRetrying`` loop only after a transient failure (tenacity objects are cyclic
                garbage: ~50 objects per request for the collector).
* ``reject``    (instructor, upstream) memoize ``reject_async_validators`` per class: instructor
                walks every model's MRO 5 times per request.

The request bodies are unchanged by ``schema``, ``models`` and ``fold`` (checked byte for byte).
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

ALL = ("schema", "models", "fold", "sentences", "fastsend", "reject")
DEFAULT = ("schema", "models", "fold")


def apply(fixes: set[str]) -> None:
    import llm_extract.client as client
    import llm_extract.extract  # noqa: F401  (the package re-exports a function named extract)

    extract: Any = sys.modules["llm_extract.extract"]

    if "schema" in fixes:
        from instructor.v2.core.function_calls import response_schema

        wrap = functools.lru_cache(maxsize=1024)(response_schema)
        original_kwargs = client.ModelClient._kwargs

        def _kwargs(self: Any, response_model: Any, messages: Any, max_reasks: int) -> dict[str, Any]:
            kwargs = original_kwargs(self, response_model, messages, max_reasks)
            kwargs["response_model"] = wrap(response_model)
            return kwargs

        client.ModelClient._kwargs = _kwargs  # type: ignore[method-assign]

    if "models" in fixes:
        original_create = extract.create_model
        cache: dict[Any, Any] = {}

        def create_model(name: str, **fields: Any) -> Any:
            if any(k.startswith("__") for k in fields):
                return original_create(name, **fields)
            key = (name, tuple((k, repr(v)) for k, v in fields.items()))
            model = cache.get(key)
            if model is None:
                model = cache[key] = original_create(name, **fields)
            return model

        extract.create_model = create_model

    if "fold" in fixes:
        extract.fold = lambda text: None  # align() folds on demand

    if "sentences" in fixes:
        original_sentences = extract.sentences

        def sentences(text: str) -> Any:
            caller = sys._getframe(1)
            if caller.f_code.co_name == "_single" and caller.f_locals.get("grounding") == "aligned":
                return []  # aligned grounding never reads the spans
            return original_sentences(text)

        extract.sentences = sentences

    if "fastsend" in fixes:
        original_asend = client.ModelClient._asend

        async def _asend(self: Any, **kwargs: Any) -> Any:
            if self.limiter is not None:
                return await original_asend(self, **kwargs)
            answered = getattr(client, "_answered", lambda response: response)  # torn-body check
            try:
                response = answered(await self._async_client().chat.completions.create(**kwargs))
            except Exception as exc:
                if client.is_transient(exc):
                    return await original_asend(self, **kwargs)  # experiment: retried from scratch
                raise
            client._count(response)
            return response

        client.ModelClient._asend = _asend  # type: ignore[method-assign]

    if "reject" in fixes:
        import instructor.v2.validation.async_validators as validators

        original_reject = validators.reject_async_validators
        checked: set[Any] = set()

        def reject(model: Any) -> None:
            if isinstance(model, type) and model in checked:
                return
            original_reject(model)
            if isinstance(model, type):
                checked.add(model)

        for module in list(sys.modules.values()):
            if getattr(module, "__name__", "").startswith("instructor") and (
                getattr(module, "reject_async_validators", None) is original_reject
            ):
                module.reject_async_validators = reject  # type: ignore[attr-defined]


def main() -> int:
    argv = sys.argv[1:]
    fixes = set(DEFAULT)
    if "--fixes" in argv:
        i = argv.index("--fixes")
        fixes = {f for f in argv[i + 1].split(",") if f}
        del argv[i : i + 2]
    unknown = fixes - set(ALL)
    if unknown:
        raise SystemExit(f"unknown fixes: {', '.join(sorted(unknown))}; known: {', '.join(ALL)}")
    apply(fixes)
    print(f"# EXPERIMENT: llm_extract monkeypatched with fixes: {', '.join(f for f in ALL if f in fixes)}")
    import throughput

    return throughput.main(argv)


if __name__ == "__main__":
    sys.exit(main())

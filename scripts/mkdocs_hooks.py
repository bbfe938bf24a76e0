"""MkDocs hooks (``hooks:`` in mkdocs.yml): pages kept outside docs/, and links into the repository.

* A few Markdown files live next to what they describe (the changelog at the root, the annotation
  guidelines in evals/, the benchmark notes in benchmarks/). ``MOUNTS`` publishes each as a page of
  the site without copying it, so there is one copy to keep current.
* Pages link to source files with paths relative to where the page lives (``../tests/support/oracle.py``),
  which read well on a code host and in an editor. The site cannot serve those files, so each such
  link becomes a link to the file in the repository when ``repo_url`` is set in mkdocs.yml, else plain
  text. A link to a file that does not exist, or that leaves the repository, is a warning, so
  ``mkdocs build --strict`` fails on it as it fails on a broken link between pages.
"""

from __future__ import annotations

import logging
import posixpath
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.llm_extract")

ROOT = Path(__file__).resolve().parent.parent

# Site path -> the repository file published there.
MOUNTS = {
    "changelog.md": "CHANGELOG.md",
    "guidelines.md": "evals/GUIDELINES.md",
    "benchmarks.md": "benchmarks/README.md",
    "benchmark-results.md": "benchmarks/RESULTS.md",
}

_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE = re.compile(
    r"(?P<bang>!?)\[(?P<text>(?:[^\[\]]|\[[^\[\]]*\])*)\]\((?P<target>[^)\s]+)(?P<title>\s+\"[^\"]*\")?\)"
)
_REFERENCE = re.compile(r"^(?P<lead>\s{0,3}\[[^\]]+\]:\s*)(?P<target>\S+)(?P<rest>.*)$")


def on_files(files: Files, config: Any) -> Files:
    for uri, source in MOUNTS.items():
        path = ROOT / source
        if not path.is_file():
            log.warning(f"mounted page {uri}: {source} does not exist")
            continue
        if files.get_file_from_path(uri) is not None:
            log.warning(f"mounted page {uri}: docs/{uri} exists too; remove one of them")
            continue
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    src_uri = page.file.src_uri
    docs_dir = Path(config["docs_dir"]).resolve()
    real = ROOT / MOUNTS[src_uri] if src_uri in MOUNTS else docs_dir / src_uri
    context = _Context(src_uri, real, docs_dir, config)
    out = []
    fenced = None
    for line in markdown.split("\n"):
        fence = _FENCE.match(line)
        if fence and (fenced is None or fence.group(1) == fenced):
            fenced = fence.group(1) if fenced is None else None
            out.append(line)
            continue
        if fenced is not None:
            out.append(line)
            continue
        reference = _REFERENCE.match(line)
        if reference:
            target = context.rewrite(reference["target"], None)
            if target is not None:
                line = reference["lead"] + target + reference["rest"]
        else:
            line = _INLINE.sub(context.inline, line)
        out.append(line)
    return "\n".join(out)


class _Context:
    def __init__(self, src_uri: str, real: Path, docs_dir: Path, config: Any) -> None:
        self.src_uri = src_uri
        self.real = real
        self.docs_dir = docs_dir
        self.repo_url = (config.get("repo_url") or "").rstrip("/")
        self.ref = (config.get("extra") or {}).get("source_ref", "main")
        self.mounted = {(ROOT / source).resolve(): uri for uri, source in MOUNTS.items()}

    def inline(self, match: re.Match[str]) -> str:
        target = self.rewrite(match["target"], match["text"])
        if target is None:
            return match.group(0)
        if isinstance(target, _Plain):  # no repository URL: keep the words, drop the link
            return str(target)
        return f"{match['bang']}[{match['text']}]({target}{match['title'] or ''})"

    def rewrite(self, target: str, text: str | None) -> str | None:
        """The new target, or None to leave the link to MkDocs (which checks it)."""
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith(("#", "/")):
            return None
        path, _, fragment = target.partition("#")
        if not path:
            return None
        suffix = f"#{fragment}" if fragment else ""
        resolved = (self.real.parent / unquote(path)).resolve()
        here = posixpath.dirname(self.src_uri)
        if resolved.is_relative_to(self.docs_dir):
            if self.src_uri not in MOUNTS:
                return None  # a page of docs/ linking into docs/: MkDocs resolves and checks it
            site = resolved.relative_to(self.docs_dir).as_posix()
            return posixpath.relpath(site, here or ".") + suffix
        if resolved in self.mounted:
            return posixpath.relpath(self.mounted[resolved], here or ".") + suffix
        if not resolved.is_relative_to(ROOT):
            log.warning(f"Doc file '{self.src_uri}' links to '{target}', outside the repository")
            return None
        if not resolved.exists():
            missing = resolved.relative_to(ROOT)
            log.warning(f"Doc file '{self.src_uri}' links to '{target}', but {missing} does not exist")
            return None
        relative = resolved.relative_to(ROOT).as_posix()
        if self.repo_url:
            kind = "tree" if resolved.is_dir() else "blob"
            return f"{self.repo_url}/{kind}/{self.ref}/{relative}{suffix}"
        if text is None:
            return None
        plain = text.strip("`")
        if relative.endswith(plain) or plain.endswith(Path(relative).name):
            return _Plain(text)
        return _Plain(f"{text} (`{relative}`)")


class _Plain(str):
    """Text to put in place of a link that has nowhere to point."""

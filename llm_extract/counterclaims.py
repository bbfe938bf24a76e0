"""Claim / counter-claim pairs: the same proposition, asserted by one source and denied by another.

"Washington says Pyongyang sent artillery shells to Moscow" against "North Korea's defence ministry
says the country never exported weapons to Russia": two claims whose statements share their content
words, one asserted and one a denial (``polarity: denied``, or denial wording such as "denied",
"rejected", "never", "unsubstantiated"), made by different claimants (different linked entities; the
author of each article counts as a claimant of its own).

Like the linker, this never compares all pairs: statements are reduced to content *stems* (words
without function words, negations and hedges, cut to five letters, so "supplied" and "supplying"
meet), an inverted index finds the assertions sharing at least two of a denial's stems, and stems
found in very many claims ("said", "government") are not used for finding candidates. A candidate is
kept when the shared stems cover enough of the shorter statement (the overlap coefficient), and
claims of different articles must share more stems than claims of the same article.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from llm_extract.schema import Claim

__all__ = ["ClaimPair", "ClaimRef", "claim_pairs", "is_denial", "stems"]

_DENIAL = re.compile(
    r"\b(den(?:y|ies|ied|ying|ial)|reject(?:s|ed|ing)?|refut\w*|dismiss\w*|never|not|no|none|nothing|"
    r"\w+n't|unsubstantiated|baseless|false|untrue|unfounded)\b",
    re.IGNORECASE,
)
# Function words, negations and hedges: they say how a claim is put, not what it is about.
_IGNORED = frozenset(
    """a an the and or but if of to in on at by for from with as into about over after before than that
    this these those it its it's is are was were be been being has have had do does did will would can
    could may might must shall should also any all some more most such there their they them he she his
    her him we our us you your i me my who whom which what when where while said says say saying told
    tell according claim claims claimed accuse accused accuses deny denies denied denying denial reject
    rejects rejected rejecting never not no none nothing n't unsubstantiated baseless false untrue
    unfounded believed reportedly allegedly alleged likely possibly appears seems""".split()
)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class ClaimRef:
    """A claim with where it is from and who makes it (``claimant_key`` tells claimants apart)."""

    document_id: str
    claim: Claim
    claimant: str
    claimant_key: str

    @property
    def key(self) -> str:
        """``document_id#claim_id``."""
        return f"{self.document_id}#{self.claim.id}"


@dataclass(frozen=True)
class ClaimPair:
    """An assertion and a denial of the same proposition, by different claimants."""

    assertion: ClaimRef
    denial: ClaimRef
    similarity: float
    reason: str
    shared: tuple[str, ...]


def is_denial(claim: Claim) -> bool:
    """Whether a claim denies: its polarity says so, or its statement or quote uses denial wording."""
    return claim.polarity == "denied" or bool(_DENIAL.search(claim.statement))


def stems(text: str) -> frozenset[str]:
    """The content stems of a statement: folded words, function words dropped, cut to five letters."""
    folded = "".join(
        c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c)
    )
    return frozenset(
        w[:5] for w in _WORD.findall(folded) if w not in _IGNORED and not w.isdigit() and len(w) > 1
    )


def claim_pairs(
    claims: Sequence[ClaimRef],
    *,
    min_overlap: float = 0.6,
    min_shared: int = 2,
    min_shared_across: int = 3,
    max_frequency: int = 200,
    per_denial: int = 3,
) -> list[ClaimPair]:
    """Pairs of an asserted claim and a denial of it, best first (see the module docstring).

    ``min_overlap``: shared stems over the shorter statement's stems; ``min_shared``: shared stems at
    least, ``min_shared_across`` for claims of different documents (two short statements of unrelated
    articles, "No arrests have been made", share words by chance more easily); ``max_frequency``:
    stems in more claims than this do not find candidates; ``per_denial``: the best assertions kept
    for each denial.
    """
    stem_sets = [stems(c.claim.statement) for c in claims]
    denial = [is_denial(c.claim) for c in claims]
    frequency = Counter(s for sset in stem_sets for s in sset)
    index: dict[str, list[int]] = defaultdict(list)
    for i, sset in enumerate(stem_sets):
        if not denial[i]:
            for s in sset:
                if frequency[s] <= max_frequency:
                    index[s].append(i)
    pairs: list[ClaimPair] = []
    for d, dset in enumerate(stem_sets):
        if not denial[d]:
            continue
        candidates = Counter(a for s in dset if frequency[s] <= max_frequency for a in index.get(s, ()))
        found = []
        for a, count in candidates.items():
            if count < min_shared or claims[a].claimant_key == claims[d].claimant_key:
                continue
            shared = stem_sets[a] & dset
            needed = min_shared if claims[a].document_id == claims[d].document_id else min_shared_across
            if len(shared) < needed:
                continue
            overlap = len(shared) / min(len(stem_sets[a]), len(dset))
            if overlap >= min_overlap:
                found.append((overlap, a, shared))
        found.sort(key=lambda f: (-f[0], claims[f[1]].key))
        for overlap, a, shared in found[:per_denial]:
            reason = "opposite polarity" if claims[d].claim.polarity == "denied" else "denial wording"
            pairs.append(ClaimPair(claims[a], claims[d], round(overlap, 3), reason, tuple(sorted(shared))))
    pairs.sort(key=lambda p: (-p.similarity, p.denial.key, p.assertion.key))
    return pairs

"""Logits of an optimized model against its source, on varied-length inputs made with the model's tokenizer.

Inputs go through the runtime's own path (split_words -> WordpieceEncoder -> make_batches), so the
comparison covers what `geobatch run` feeds the model: [CLS] ... [SEP], right padding, and batches
whose rows have very different lengths. Only real (non-padding) tokens are compared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...text.batching import Batch, make_batches
from ...text.case_types import piece_case_types, word_case_types
from ...text.tokenize import SPECIAL_TOKENS, WordpieceEncoder
from ...text.words import split_words
from ..model_dir import ModelDir

# Written for this check (no corpus text): place names, numbers, punctuation, a long run-on item.
SENTENCES = [
    "Paris.",
    "Flooding closed roads north of Lyon on Tuesday.",
    "The ferry from Dover to Calais was cancelled, officials said.",
    "Officials in Nairobi, Kenya, met counterparts from Addis Ababa and Kampala to discuss the 2024 drought.",
    "She grew up in São Paulo but moved to Lisbon, then to New York City.",
    "Talks between Seoul and Tokyo resumed after a pause of 18 months.",
    "Heavy snow fell across the Alps; the St. Gotthard tunnel stayed open.",
    "A spokesman for the ministry in Canberra declined to comment.",
    "Rivers rose along the Danube from Vienna to Budapest and Belgrade.",
    "Wildfires near Athens forced thousands to leave their homes overnight.",
    "The summit will be held in Cape Town, South Africa, next spring.",
    "No place names here at all, only words about weather and markets.",
    "Exports from Rotterdam fell 3.5 % while Antwerp and Hamburg gained.",
    "Rescue teams reached villages in the Hindu Kush north of Kabul.",
]


def parity_texts() -> list[str]:
    """Single sentences plus run-on texts of increasing length (up to past a typical max_length)."""
    texts = list(SENTENCES)
    for n in (3, 6, 10, len(SENTENCES)):
        texts.append(" ".join(SENTENCES[i % len(SENTENCES)] for i in range(n, 2 * n + 1)))
    return texts


def parity_batches(model: ModelDir) -> list[Batch]:
    """One batch with every text (heavy padding), then the same texts in length-sorted batches of 4."""
    encoder = WordpieceEncoder(model.tokenizer_path)
    words = [split_words(t)[0] for t in parity_texts()]
    docs = encoder.encode(words)
    # the default convention's marker after [CLS], as `geobatch run` feeds it
    markers = [model.conventions[model.default_convention]] if model.conventions else []
    room = max(1, model.max_length - SPECIAL_TOKENS - len(markers))
    windows = [d.ids[:room] for d in docs]
    types = [piece_case_types(word_case_types(w), d.word_ntok)[:room] for w, d in zip(words, docs)] if model.case_types else None
    args = (encoder.cls_id, encoder.sep_id, encoder.pad_id, markers, types)
    return make_batches(windows, len(windows), *args) + make_batches(windows, 4, *args)


@dataclass
class Parity:
    texts: int
    tokens: int
    max_abs_diff: float
    mean_abs_diff: float
    argmax_agreement: float
    provider: str

    def as_card(self) -> dict:
        return {
            "inputs": f"{self.texts} texts written for this check, tokenized with the model's tokenizer, "
            "in one padded batch and in length-sorted batches of 4",
            "tokens_compared": self.tokens,
            "max_abs_logit_diff": self.max_abs_diff,
            "mean_abs_logit_diff": self.mean_abs_diff,
            "argmax_agreement": self.argmax_agreement,
            "provider": self.provider,
        }


def compare(source, candidate, batches: list[Batch]) -> Parity:
    """source/candidate: objects with .run(batch) -> logits (geobatch.model.infer.OnnxTagger)."""
    diffs, agree, total = [], 0, 0
    for batch in batches:
        want, got = source.run(batch), candidate.run(batch)
        real = batch.attention_mask.astype(bool)
        a, b = want[real], got[real]
        diffs.append(np.abs(a - b).reshape(-1))
        agree += int((a.argmax(-1) == b.argmax(-1)).sum())
        total += int(real.sum())
    diff = np.concatenate(diffs)
    return Parity(
        texts=len(batches[0].window_index),
        tokens=total,
        max_abs_diff=float(diff.max()),
        mean_abs_diff=float(diff.mean()),
        argmax_agreement=agree / total,
        provider=getattr(candidate, "provider", "?"),
    )

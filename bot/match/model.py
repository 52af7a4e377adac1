"""A learned second opinion beside the rules: logistic regression over character n-grams of
the title and lede, and the matcher's group scores.

Pure: weights in, probability out. ``python -m bot train-model`` fits it on the relevance
corpus's tuning part (never the frozen test part) and writes a small versioned JSON file;
``keywords.yaml`` names the file and the probability at which the model's opinion counts
(``model: {file: ..., min_probability: ...}``). The matcher turns the probability into the
score of a pseudo-group ``model`` that rules can use (``... OR (tech AND model)``), and asks
for it only when the rules alone said no and a technology is present, so the model costs
nothing on the many articles it could not change.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.errors import ConfigError
from bot.match.normalize import fold, normalize

MODEL_FORMAT = 1
DEFAULT_MODEL_FILE = "relevance-model.json"
#: characters of the summary the model reads: the lede, as for headlines with a description
LEDE_CHARS = 300
NGRAMS = (2, 3)
#: the score of the pseudo-group "model" is the probability times this
SCORE_SCALE = 10.0


def text_features(title: str, summary: str) -> dict[str, float]:
    """Character 2- and 3-grams of the folded title and lede, presence only, scaled to unit
    length (so a long lede does not outweigh a headline)."""
    text = fold(normalize(title)) + "|" + fold(normalize(summary[:LEDE_CHARS]))
    grams = {
        "c:" + text[i : i + n]
        for n in NGRAMS
        for i in range(len(text) - n + 1)
        if not text[i : i + n].isspace()
    }
    scale = 1 / math.sqrt(len(grams) or 1)
    return dict.fromkeys(grams, scale)


def features(
    title: str, summary: str, scores: Mapping[str, float], feed_tags: Iterable[str]
) -> dict[str, float]:
    """Everything the model reads: the text's n-grams, each keyword group's score (log), and
    whether the entry is from an official feed and has a summary."""
    out = text_features(title, summary)
    for group, score in scores.items():
        if group != "model":
            out["g:" + group] = math.log1p(max(score, 0.0))
    for tag in feed_tags:
        out["t:" + tag] = 1.0
    out["headline_only"] = 0.0 if summary.strip() else 1.0
    return out


@dataclass(frozen=True)
class Opinion:
    probability: float
    #: the features that pushed most, with their contributions (for explain and reasons)
    top: tuple[tuple[str, float], ...]


class LinearModel:
    """Weights by feature name and a bias; ``opinion`` is the logistic of their sum."""

    def __init__(self, weights: Mapping[str, float], bias: float, meta: Mapping[str, object]):
        self.weights = dict(weights)
        self.bias = bias
        self.meta = dict(meta)

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigError(str(path), "", f"cannot read the model file: {e}") from e
        if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
            raise ConfigError(
                str(path),
                "format",
                f"not a model file of format {MODEL_FORMAT}: retrain it with "
                "`python -m bot train-model`",
            )
        return cls(data["weights"], float(data["bias"]), data.get("meta", {}))

    def to_json(self) -> str:
        return json.dumps(
            {"format": MODEL_FORMAT, "meta": self.meta, "bias": self.bias, "weights": self.weights},
            ensure_ascii=False,
            indent=None,
            separators=(",", ":"),
            sort_keys=True,
        )

    def opinion(self, values: Mapping[str, float], top: int = 5) -> Opinion:
        contributions = [
            (name, weight * value)
            for name, value in values.items()
            if (weight := self.weights.get(name)) is not None
        ]
        logit = self.bias + sum(c for _, c in contributions)
        probability = 1 / (1 + math.exp(-max(-50.0, min(50.0, logit))))
        strongest = sorted(contributions, key=lambda c: -abs(c[1]))[:top]
        return Opinion(probability, tuple((n, round(c, 3)) for n, c in strongest))

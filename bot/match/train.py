"""Fit the learned second opinion (``python -m bot train-model``).

Logistic regression (scikit-learn, an optional dependency: ``pip install
'jp-techpolicy-bot[train]'``) over :func:`bot.match.model.features` of the relevance corpus's
tuning part, with the matcher's group scores computed by the keywords as they are now (the
model learns what the rules miss). The frozen test part is never read. Only the strongest
weights are kept, so the file stays small.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.match.keywords import KeywordSet
from bot.match.matcher import Matcher
from bot.match.model import LinearModel, features

#: weights kept in the shipped file (the strongest by absolute value)
KEEP_WEIGHTS = 6000
REGULARISATION_C = 2.0


def corpus_items(path: Path, split: str = "tune") -> list[dict[str, Any]]:
    """The labelled entries of ``split`` (never the frozen ``test`` part for training)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ConfigError(str(path), "", f"cannot read the corpus: {e}") from e
    items = [json.loads(line) for line in lines if line.strip()]
    return [i for i in items if i.get("split", split) == split]


def training_rows(
    keywords: KeywordSet, items: Iterable[Mapping[str, Any]]
) -> tuple[list[dict[str, float]], list[bool]]:
    """Features (with the rules' group scores, the model switched off) and labels."""
    matcher = Matcher(replace(keywords, model=None))
    rows, labels = [], []
    for item in items:
        title, summary = str(item["title"]), str(item.get("summary") or "")
        tags = [str(t) for t in item.get("feed_tags") or []]
        result = matcher.match(title, summary, feed_tags=tags)
        scores = {r.group: r.score for r in result.reasons}
        rows.append(features(title, summary, scores, tags))
        labels.append(bool(item["label"]))
    return rows, labels


def train(
    keywords: KeywordSet,
    items: list[dict[str, Any]],
    *,
    source: str,
    c: float = REGULARISATION_C,
    keep: int = KEEP_WEIGHTS,
) -> LinearModel:
    try:
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError as e:
        raise ConfigError(
            "train-model",
            "",
            "training needs scikit-learn: pip install 'jp-techpolicy-bot[train]'",
        ) from e
    rows, labels = training_rows(keywords, items)
    if len(set(labels)) < 2:
        raise ConfigError(source, "", "training needs both relevant and irrelevant entries")
    vectorizer = DictVectorizer()
    matrix = vectorizer.fit_transform(rows)
    model = LogisticRegression(C=c, max_iter=5000).fit(matrix, labels)
    names = vectorizer.get_feature_names_out()
    coefficients = model.coef_[0]
    strongest = sorted(range(len(names)), key=lambda k: -abs(coefficients[k]))[:keep]
    weights = {str(names[k]): round(float(coefficients[k]), 5) for k in strongest}
    digest = hashlib.sha256(
        "\n".join(f"{i.get('id')}:{i['label']}" for i in items).encode()
    ).hexdigest()[:16]
    return LinearModel(
        weights,
        round(float(model.intercept_[0]), 5),
        {
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": source,
            "items": len(items),
            "relevant": sum(labels),
            "items_sha256": digest,
            "c": c,
            "weights_kept": len(weights),
        },
    )

"""The learned second opinion: features, the model file, training, and its part in a match."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.match import Matcher, load_keywords
from bot.match.model import LinearModel, features, text_features
from bot.models import GroupScore
from tests.conftest import ROOT


def test_text_features_are_folded_ngrams_of_unit_length():
    grams = text_features("ＡＩ法案", "政府は")
    assert "c:ai" in grams and "c:ai法" in grams and "c:|政府" in grams
    assert abs(sum(v * v for v in grams.values()) - 1.0) < 1e-9
    # the lede only: what follows LEDE_CHARS is not read
    assert text_features("x", "a" * 300 + "zz") == text_features("x", "a" * 300)


def test_features_carry_group_scores_tags_and_shape():
    values = features("t", "", {"policy": 3.0, "model": 9.9}, ["jp-gov"])
    assert values["g:policy"] == pytest.approx(1.386, abs=1e-3)
    assert "g:model" not in values  # the model never reads its own opinion
    assert values["t:jp-gov"] == 1.0 and values["headline_only"] == 1.0


def test_opinion_is_the_logistic_of_the_weighted_sum():
    model = LinearModel({"a": 2.0, "b": -1.0}, bias=-1.0, meta={})
    opinion = model.opinion({"a": 1.0, "b": 1.0, "unknown": 5.0})
    assert opinion.probability == pytest.approx(0.5)
    assert opinion.top == (("a", 2.0), ("b", -1.0))


def test_a_model_file_of_another_format_is_refused(tmp_path: Path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"format": 99}))
    with pytest.raises(ConfigError, match="retrain it"):
        LinearModel.load(path)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read the model file"):
        LinearModel.load(path)


def _corpus(path: Path) -> Path:
    rows = []
    for i in range(30):
        rows.append({"id": f"p{i}", "title": f"政府、半導体の支援策 第{i}弾", "summary": "",
                     "label": True, "split": "tune", "feed_tags": []})  # fmt: skip
        rows.append({"id": f"n{i}", "title": f"半導体メーカー決算 第{i}四半期", "summary": "",
                     "label": False, "split": "tune", "feed_tags": []})  # fmt: skip
    rows.append({"id": "t", "title": "frozen", "label": True, "split": "test"})
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return path


@pytest.mark.slow
def test_train_model_writes_a_file_the_matcher_uses(tmp_path: Path, run_bot):
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    corpus = _corpus(tmp_path / "corpus.jsonl")
    result = run_bot("--config", str(config), "train-model", "--corpus", str(corpus))
    assert result.code == 0, result.err
    assert "trained on 60 entries (30 relevant)" in result.out  # the test part is not read
    model = json.loads((config / "relevance-model.json").read_text())
    assert model["format"] == 1 and model["meta"]["items"] == 60 and model["weights"]
    keywords_file = config / "keywords.yaml"
    keywords_file.write_text(
        keywords_file.read_text(encoding="utf-8").replace(
            "\nfeed_tags:", "\nmodel_file: relevance-model.json\n\nfeed_tags:", 1
        ),
        encoding="utf-8",
    )
    keywords = load_keywords(config)
    assert keywords.model is not None
    matcher = Matcher(keywords)
    # a technology but no state action for the rules: the model is asked, and says why
    result_m = matcher.match("半導体の量産", "")
    model_reason = next(r for r in result_m.reasons if r.group == "model")
    assert 0 <= model_reason.score <= 10 and model_reason.terms
    # a stored match is decided again the same way, the model's score included
    rule = keywords.rule(None)
    stored = [GroupScore.from_json(r) for r in result_m.reasons_json()]
    assert matcher.decide(rule, stored)[0] == result_m.flagged
    # no technology: the model is not asked
    assert "model" not in {r.group for r in matcher.match("天気は晴れ", "").reasons}

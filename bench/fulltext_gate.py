"""What full text buys, and what it costs in page requests: ``python -m bench.fulltext_gate``.

The relevance corpus's lede-shaped items are real articles: a headline and the first
paragraph of the real page. Seen as a headline-only feed would show them, they are decided
on the title alone; with full text, the gate (bot.ingest.fulltext) picks the thin
candidates, and those are decided again on the title and the article's text (here its first
paragraph, the part of the main text the matcher weighs most: a floor for what the whole
page gives). Printed for both parts of the corpus, per language:

- title only: what a headline-only feed gets without full text;
- gated: title only, then title + text for the entries the gate picks (full_text: auto);
- always: title + text for every entry (full_text: always);
- pages: the share of entries whose page auto mode fetches.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from bot.config import load_config
    from bot.ingest.fulltext import wants_full_text
    from bot.match import Matcher
    from bot.models import Article
    from tests.quality import Counts, load

    config = load_config(ROOT / "config")
    matcher = Matcher(config.keywords)
    thin_below = config.bot.full_text.thin_below
    items = [i for i in load() if i["shape"] == "lede"]
    print(f"full text on {len(items)} real article ledes (headline + first paragraph)")
    print(
        f"  {'part':<7}{'lang':<5}{'items':>6}  {'title only':>12}  {'gated':>12}  {'always':>12}  {'pages':>6}"
    )
    for split in ("tune", "test"):
        for lang in ("ja", "en", "all"):
            chosen = [
                i for i in items if i["split"] == split and (lang == "all" or i["lang"] == lang)
            ]
            title_only, gated, always = Counts(), Counts(), Counts()
            fetched = 0
            for item in chosen:
                tags = item.get("feed_tags", [])
                headline = matcher.match(item["title"], "", feed_tags=tags).record()
                full = matcher.match(item["title"], item["summary"], feed_tags=tags).record()
                article = Article(
                    feed="corpus",
                    entry_id=item["id"],
                    title=item["title"],
                    link="",
                    canonical_link="",
                    summary="",
                    published=None,  # type: ignore[arg-type]
                    date_source="published",
                    updated=None,
                    language=item["lang"],
                )
                wanted = wants_full_text(
                    article, headline, mode="auto", thin_below=thin_below, feed_tags=tags
                )
                fetched += wanted
                title_only.add(item["label"], headline.flagged)
                gated.add(item["label"], (full if wanted else headline).flagged)
                always.add(item["label"], full.flagged)
            if not chosen:
                continue

            def pr(c: Counts) -> str:
                return f"{c.precision:.2f}/{c.recall:.2f}"

            print(
                f"  {split:<7}{lang:<5}{len(chosen):>6}  {pr(title_only):>12}  {pr(gated):>12}"
                f"  {pr(always):>12}  {fetched / len(chosen):>6.0%}"
            )
    print("  (precision/recall; pages: share of entries whose article page auto mode fetches)")


if __name__ == "__main__":
    main()

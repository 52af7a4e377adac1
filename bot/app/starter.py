"""Starter configuration (``init``) and OPML import/export of the feed list."""

from __future__ import annotations

import importlib.resources
import io
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import quoteattr

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.util import load_yaml_guess_indent

from bot.config import BOT_FILE, FEEDS_FILE, Config, FeedConfig, FeedsFile
from bot.errors import ConfigError
from bot.match.keywords import KEYWORDS_FILE
from bot.yamlio import read_yaml_text, validate_file

# feeds.yaml last: its presence is what BOT_INIT_IF_EMPTY looks for
FILES = (BOT_FILE, KEYWORDS_FILE, FEEDS_FILE)


def default_file(name: str) -> bytes:
    """A file of the shipped default configuration: installed as package data
    (``bot.defaults``), or the config/ folder of a source checkout."""
    try:
        # a resource traversable, not a path: in an installed copy bot.defaults is a
        # namespace package, whose files() is not a filesystem directory
        return importlib.resources.files("bot.defaults").joinpath(name).read_bytes()
    except ModuleNotFoundError:
        return (Path(__file__).resolve().parents[2] / "config" / name).read_bytes()


def init(target: Path, *, force: bool = False, missing_only: bool = False) -> list[Path]:
    """Write the default configuration into ``target``; never overwrites without ``force``
    (``missing_only``: write the files that are not there, and say nothing of the others)."""
    target.mkdir(parents=True, exist_ok=True)
    existing = [target / name for name in FILES if (target / name).exists()]
    if existing and not force and not missing_only:
        raise ConfigError(
            str(target),
            "",
            f"{', '.join(p.name for p in existing)} already exist(s); use --force to overwrite",
        )
    written = []
    for name in FILES:
        if missing_only and target / name in existing:
            continue
        # Each file appears whole (replicas starting together may both be writing them).
        temporary = target / f".{name}.{os.getpid()}.tmp"
        temporary.write_bytes(default_file(name))
        temporary.replace(target / name)
        written.append(target / name)
    return written


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _printable(text: str) -> str:
    """A feed name as it can live in YAML and on a terminal: control characters (which
    YAML refuses unescaped, and which a terminal obeys) become spaces."""
    return " ".join(_CONTROL.sub(" ", text).split())


def read_opml(path: Path) -> list[dict[str, object]]:
    """Feeds from an OPML file: every outline with an xmlUrl; categories become tags."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        raise ConfigError(str(path), "", f"cannot read OPML: {e}") from e
    feeds = []
    for outline in root.iter("outline"):
        url = outline.get("xmlUrl")
        if not url:
            continue
        name = _printable(outline.get("title") or outline.get("text") or url)
        entry: dict[str, object] = {"name": name or url.strip(), "url": url.strip()}
        categories = [
            c.strip().lstrip("/") for c in (outline.get("category") or "").split(",") if c.strip()
        ]
        if categories:
            entry["tags"] = categories
        language = (outline.get("language") or "")[:2].lower()
        if language in ("ja", "en"):
            entry["language"] = language
        feeds.append(entry)
    return feeds


def import_opml(config: Config, path: Path) -> tuple[list[str], list[str]]:
    """Add the OPML's new feeds to feeds.yaml, edited as a round-trip YAML document (the
    user's comments, order and indentation stay); returns (added, skipped) names. The file
    as it will be is validated before it is written, and replaced atomically: an import
    can never leave a feeds.yaml the bot cannot read."""
    known_urls = {f.url for f in config.feeds}
    known_names = {f.name for f in config.feeds}
    added, skipped, entries = [], [], []
    for entry in read_opml(path):
        name, url = str(entry["name"]), str(entry["url"])
        if url in known_urls:
            skipped.append(name)
            continue
        base, n = name, 2
        while name in known_names:
            name, n = f"{base} ({n})", n + 1
        entry["name"] = name
        try:
            FeedConfig.model_validate(entry)
        except ValueError as e:
            raise ConfigError(
                str(path), f"outline {name!r}", str(e).splitlines()[-1].strip()
            ) from e
        known_urls.add(url)
        known_names.add(name)
        added.append(name)
        entries.append(entry)
    if entries:
        feeds_path = config.directory / FEEDS_FILE
        text = _with_feeds(feeds_path.read_text(encoding="utf-8"), entries, _printable(path.name))
        validate_file(FeedsFile, feeds_path, read_yaml_text(feeds_path, text))
        temporary = feeds_path.with_name(f".{feeds_path.name}.new")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(feeds_path)
    return added, skipped


def _with_feeds(text: str, entries: list[dict[str, object]], source: str) -> str:
    """``text`` (a feeds.yaml) with ``entries`` appended to its ``feeds`` list."""
    data, indent, offset = load_yaml_guess_indent(text) if text.strip() else (None, 2, 0)
    document = data if isinstance(data, CommentedMap) else CommentedMap()
    feeds = document.get("feeds")
    if not isinstance(feeds, CommentedSeq):
        feeds = CommentedSeq()
        document["feeds"] = feeds
    first = len(feeds)
    for entry in entries:
        item = CommentedMap(name=entry["name"], url=entry["url"])
        if entry.get("language"):
            item["language"] = entry["language"]
        if entry.get("tags"):
            item["tags"] = entry["tags"]
        feeds.append(item)
    feeds.yaml_set_comment_before_after_key(
        first, before=f"imported from {source}", indent=offset or 0
    )
    writer = YAML()
    writer.indent(mapping=indent or 2, sequence=(indent or 2) + (offset or 0), offset=offset or 0)
    writer.width = 4096  # never fold a long feed URL
    out = io.StringIO()
    writer.dump(document, out)
    return out.getvalue()


def export_opml(config: Config) -> str:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        "  <head><title>jp-techpolicy-bot feeds</title></head>",
        "  <body>",
    ]
    pages = [feed for feed in config.feeds if feed.kind == "page"]
    for feed in config.feeds:
        if feed.kind == "page":
            continue
        name = quoteattr(feed.name)
        attrs = f'type="rss" text={name} title={name} xmlUrl={quoteattr(feed.url)}'
        if feed.tags:
            attrs += f" category={quoteattr(','.join(feed.tags))}"
        if feed.language:
            attrs += f" language={quoteattr(feed.language)}"
        lines.append(f"    <outline {attrs}/>")
    if pages:
        # OPML lists feeds; a page source's selectors have no place in it
        lines.append(f"    <!-- {len(pages)} page source(s) without a feed left out -->")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)

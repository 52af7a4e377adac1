"""Command line: ``python -m bot COMMAND``. Each command is a thin shell over the stages."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot import STARTED, __version__
from bot.app import feedback as feedback_app
from bot.app import manage
from bot.app.delivery import (
    SubscriptionOutcome,
    destination_for,
    preview,
    rerender,
    run_subscription,
)
from bot.app.explain import fetch_page, match_lines, render_explanation, write_jsonl
from bot.app.preview import (
    SELECTOR_OPTIONS,
    page_config,
    preview_json,
    preview_page,
    render_preview,
    source_for,
)
from bot.app.starter import export_opml, import_opml, init
from bot.app.status import article_json, feed_rows, local_time, subscription_rows
from bot.config import Config, SubscriptionConfig, load_config, parse_duration
from bot.demo import run as demo
from bot.errors import BotError, ConfigError
from bot.ingest.poll import FeedOutcome, Poller
from bot.match import Matcher
from bot.match.keywords import DEFAULT_RULE
from bot.match.matcher import split_title
from bot.match.model import DEFAULT_MODEL_FILE
from bot.match.rules import Node, render
from bot.match.train import corpus_items, train
from bot.runtime import logs
from bot.runtime.lock import DataDirLock
from bot.runtime.service import Service, run_once
from bot.settings import Settings
from bot.storage import POSTGRES_SCHEMES, Storage, open_storage
from bot.text import clean_text

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CONFIG = 2
#: locks this process holds (a dropped reference would close the file and release it)
_HELD: list[DataDirLock] = []


def _out(text: str = "") -> None:
    print(text, flush=True)


def _settings(args: argparse.Namespace) -> Settings:
    settings: Settings = args.settings
    return settings


def _load(args: argparse.Namespace) -> Config:
    config = load_config(_settings(args).config_dir)
    logs.register_secrets(*config.secret_variables())
    return config


def _database_url(args: argparse.Namespace, config: Config) -> str | None:
    """BOT_DATABASE_URL, else database_url in bot.yaml, else SQLite in the data directory."""
    return _settings(args).database_url or config.bot.database_url


def _storage(args: argparse.Namespace, config: Config) -> Storage:
    return open_storage(_settings(args).data_dir, _database_url(args, config))


def _with_app(config: Config, storage: Storage) -> Config:
    """The configuration with the subscriptions and feeds made in Slack (bot.app.manage)."""
    effective, notes = manage.load_effective(config, storage)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return effective


def _lock(args: argparse.Namespace, config: Config, command: str) -> None:
    """With SQLite, hold the data directory for this process's lifetime (released by the
    kernel when it ends, however it ends). Replicas on PostgreSQL coordinate by leases."""
    if _database_url(args, config) is None:
        _HELD.append(DataDirLock(_settings(args).data_dir, command).acquire())


# -- check-config ------------------------------------------------------------------------


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args)
    for note in config.notes():
        _out(f"note: {note}")
    _out(
        f"{config.directory}: OK ({len(config.feeds)} feeds, "
        f"{len(config.keywords.groups)} keyword groups, {len(config.keywords.terms)} terms)"
    )
    return EXIT_OK


# -- poll --------------------------------------------------------------------------------


def _outcome_line(o: FeedOutcome) -> str:
    if o.status == "ok":
        text = (
            f"new {o.new} ({o.flagged} flagged), backlog {o.backlog}, edited {o.edited}, "
            f"seen {o.seen}"
        )
        if o.full_texts:
            counts = Counter(o.full_texts)
            text += "; article pages: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    elif o.status == "unchanged":
        text = "unchanged (same body as last time)"
    elif o.status == "not_modified":
        text = "not modified (304)"
    elif o.status == "skipped" and o.error_message:
        text = f"skipped: {o.error_message}"
    elif o.status == "skipped":
        until = o.next_poll.isoformat(timespec="seconds") if o.next_poll else "?"
        text = f"skipped: backing off until {until} (--force to poll anyway)"
    else:
        text = f"ERROR {o.error_kind}: {o.error_message}"
    warn = "".join(f"\n    warning: {w}" for w in o.warnings)
    return f"{o.feed:<32} {text}{warn}"


def cmd_poll(args: argparse.Namespace) -> int:
    if not args.once:
        _out("poll needs --once (the scheduled service is 'python -m bot run')")
        return EXIT_CONFIG
    config = _load(args)
    _lock(args, config, "poll")
    storage = _storage(args, config)
    try:
        # feeds added from Slack are polled too (cron-driven replicas use poll --once)
        config = _with_app(config, storage)
        feeds = config.feeds
        if args.feed:
            names = set(args.feed)
            unknown = names - {f.name for f in feeds}
            if unknown:
                raise ConfigError(
                    str(config.directory / "feeds.yaml"),
                    "feeds",
                    f"no feed named {', '.join(sorted(unknown))}",
                )
            feeds = tuple(f for f in feeds if f.name in names)
        poller = Poller(
            config, storage, due_only=args.due_only, progress=_progress(args, len(feeds))
        )
        outcomes = asyncio.run(poller.poll(feeds, force=args.force))
    finally:
        storage.close()
    if args.timings:
        times = poller.times
        startup = times.started_at - STARTED
        print("timings: " + json.dumps({"startup": round(startup, 3)} | times.to_json()),
              file=sys.stderr)  # fmt: skip
    for outcome in outcomes:
        _out(_outcome_line(outcome))
    totals = {
        s: sum(1 for o in outcomes if o.status == s)
        for s in ("ok", "unchanged", "not_modified", "skipped", "error")
    }
    _out(
        f"total: {len(outcomes)} feeds, {sum(o.new for o in outcomes)} new articles "
        f"({sum(o.flagged for o in outcomes)} flagged), "
        f"{sum(o.backlog for o in outcomes)} backlog, {sum(o.edited for o in outcomes)} edited; "
        f"{totals['ok']} parsed, {totals['unchanged']} unchanged, "
        f"{totals['not_modified']} not modified, {totals['skipped']} skipped, "
        f"{totals['error']} errors"
    )
    # The database could not be written: say so with a non-zero exit, for cron.
    return EXIT_ERROR if any(o.error_kind == "storage" for o in outcomes) else EXIT_OK


# -- feeds -------------------------------------------------------------------------------


def cmd_feeds(args: argparse.Namespace) -> int:
    config = _load(args)
    storage = _storage(args, config)
    try:
        config = _with_app(config, storage)
        rows = feed_rows(config, storage)
    finally:
        storage.close()
    if args.json:
        _out(json.dumps([r.to_json() for r in rows], ensure_ascii=False, indent=2))
        return EXIT_OK
    _out(
        f"{'FEED':<30} {'STATUS':<13} {'ARTICLES':>8}  {'LAST SUCCESS':<21} "
        f"{'FAILS':>5}  {'NEXT POLL':<21} LAST ERROR"
    )
    for row in rows:
        s = row.state
        error = f"{s.last_error_kind}: {s.last_error_message}" if s.last_error_kind else ""
        _out(
            f"{s.name[:30]:<30} {row.health:<13} {row.articles:>8}  "
            f"{local_time(config, s.last_success):<21} "
            f"{s.consecutive_failures:>5}  {local_time(config, s.next_poll):<21} {error[:80]}"
        )
        for warning in row.warnings:
            _out(f"    warning: {warning}")
    return EXIT_OK


# -- articles ----------------------------------------------------------------------------


def parse_since(value: str, timezone: str, now: datetime) -> datetime:
    """``24h`` / ``7d`` (ago), or an ISO date or datetime (read in ``timezone`` if naive)."""
    try:
        return now - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value)
    except ValueError as e:
        raise ConfigError(
            "--since", value, "use a duration (24h, 7d) or a date (2026-11-20)"
        ) from e
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(timezone))
    return when.astimezone(UTC)


def cmd_articles(args: argparse.Namespace) -> int:
    config = _load(args)
    since = parse_since(args.since, config.bot.timezone, datetime.now(UTC)) if args.since else None
    storage = _storage(args, config)
    try:
        items = storage.articles(
            since=since,
            limit=args.limit,
            include_backlog=not args.no_backlog,
            flagged_only=args.flagged,
        )
    finally:
        storage.close()
    if args.json:
        _out(json.dumps([article_json(i) for i in items], ensure_ascii=False, indent=2))
        return EXIT_OK
    for item in items:
        a = item.article
        flags = " [backlog]" if item.backlog else ""
        flags += " [edited]" if item.edited_at else ""
        if item.match is not None and item.match.flagged:
            topics = ", ".join(item.match.topics)
            flags += f" [FLAGGED {item.match.score}: {topics}]"
        if item.full_text is not None:
            detail = f": {item.full_text.detail}" if item.full_text.detail else ""
            decided = ", decided on it" if item.decided_by == "full_text" else ""
            flags += f" [full text {item.full_text.outcome}{detail}{decided}]"
        also = f" (also: {', '.join(item.sources[1:])})" if len(item.sources) > 1 else ""
        # cleaned again: articles stored by older versions may carry terminal sequences
        _out(
            f"{local_time(config, a.published)}  {a.feed}{also}{flags}\n"
            f"  {clean_text(a.title)}\n  {clean_text(a.link)}"
        )
    _out(f"{len(items)} articles")
    return EXIT_OK


# -- explain / match ---------------------------------------------------------------------


def _rule(config: Config, text: str | None) -> tuple[Node, str]:
    kw = config.keywords
    node = kw.rule(text, key="--rule")
    name = text or DEFAULT_RULE
    return node, kw.rule_texts.get(name, render(node))


def cmd_explain(args: argparse.Namespace) -> int:
    config = _load(args)
    if args.url:
        title, body = fetch_page(config, args.url)
    else:
        if args.file:
            try:
                raw = Path(args.file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                print(f"error: cannot read {args.file}: {e}", file=sys.stderr)
                return EXIT_ERROR
        else:
            raw = args.text
        title, body = split_title(raw)
        if not title and "\n" not in raw.strip():
            title, body = raw.strip(), ""
    node, rule_text = _rule(config, args.rule)
    result = Matcher(config.keywords).match(
        title, body, feed_tags=args.feed_tag or (), rule=node, explain=True
    )
    if args.json:
        _out(
            json.dumps(
                {
                    "flagged": result.flagged,
                    "score": result.score,
                    "topics": list(result.topics),
                    "reasons": result.reasons_json(),
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        _out(render_explanation(result, rule_text, title))
    return EXIT_OK


def cmd_preview_page(args: argparse.Namespace) -> int:
    config = _load(args)
    options = {key: getattr(args, key) for key in (*SELECTOR_OPTIONS, "auto")}
    chosen = any(value not in (None, False) for value in options.values())
    url, language, name = args.url, None, "preview"
    if args.name:
        source = source_for(config, args.name)
        assert source.page is not None
        page = page_config(options, where="preview-page") if chosen else source.page
        url, language, name = url or source.url, source.language, source.name
    elif not chosen:
        raise ConfigError(
            "preview-page",
            "options",
            "give --items (and --title, --link, --date), --auto, "
            "or --name of a configured page source",
        )
    else:
        page = page_config(options, where="preview-page")
    if not url:
        raise ConfigError("preview-page", "URL", "give the page's URL (or --name of a source)")
    preview = preview_page(config, url, page, now=datetime.now(UTC), name=name, language=language)
    if args.json:
        _out(json.dumps(preview_json(preview, config.bot.timezone), ensure_ascii=False, indent=2))
    else:
        _out(render_preview(preview, config.bot.timezone))
    return EXIT_OK


def cmd_train_model(args: argparse.Namespace) -> int:
    config = _load(args)
    corpus = Path(args.corpus)
    items = corpus_items(corpus)
    for extra in args.add or []:
        items += corpus_items(Path(extra))
    judged: list[dict[str, Any]] = []
    if args.feedback:
        storage = _storage(args, config)
        try:
            tags = {f.name: tuple(f.tags) for f in _with_app(config, storage).feeds}
            judged = feedback_app.corpus_entries(storage, tags)
        finally:
            storage.close()
        items += judged
    model = train(config.keywords, items, source=str(corpus))
    out = Path(args.out) if args.out else config.directory / DEFAULT_MODEL_FILE
    out.write_text(model.to_json() + "\n", encoding="utf-8")
    meta = model.meta
    if judged:
        # what the new model changes on the stories subscribers judged
        before = Matcher(config.keywords)
        after = Matcher(replace(config.keywords, model=model))
        _out(f"with {len(judged)} entries judged in Slack; decisions the new model changes:")
        changed = 0
        for entry in judged:
            title, summary = str(entry["title"]), str(entry["summary"])
            tags_of = [str(t) for t in entry["feed_tags"]]
            old = before.match(title, summary, feed_tags=tags_of).flagged
            new = after.match(title, summary, feed_tags=tags_of).flagged
            if old != new:
                changed += 1
                label = "relevant" if entry["label"] else "not relevant"
                _out(f"  {'flagged' if new else 'not flagged'} now (judged {label}): {title[:70]}")
        if not changed:
            _out("  none")
    _out(
        f"trained on {meta['items']} entries ({meta['relevant']} relevant) of {corpus}; "
        f"{meta['weights_kept']} weights written to {out}"
    )
    if config.keywords.model is None:
        _out(
            f"keywords.yaml names no model: add `model_file: {out.name}` to use it "
            "(and see `make eval` first: keep it only if it helps on the frozen part)"
        )
    return EXIT_OK


def cmd_match(args: argparse.Namespace) -> int:
    config = _load(args)
    node, _ = _rule(config, args.rule)
    matcher = Matcher(config.keywords)
    if args.jsonl == "-":
        errors = write_jsonl(match_lines(matcher, sys.stdin, node))
    else:
        try:
            with open(args.jsonl, encoding="utf-8") as handle:
                errors = write_jsonl(match_lines(matcher, handle, node))
        except OSError as e:
            print(f"error: cannot read {args.jsonl}: {e}", file=sys.stderr)
            return EXIT_ERROR
    if errors:
        print(f"{errors} input line(s) could not be read; see their 'error' field", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


# -- digest / status -----------------------------------------------------------------------


def _subscriptions(config: Config, name: str | None) -> list[SubscriptionConfig]:
    if name:
        return [config.subscription(name)]
    if not config.bot.subscriptions:
        raise ConfigError(
            str(config.directory / "bot.yaml"), "subscriptions", "no subscription configured"
        )
    return list(config.bot.subscriptions)


def cmd_digest(args: argparse.Namespace) -> int:
    config = _load(args)
    if not args.dry_run:
        _lock(args, config, "digest")
    storage = _storage(args, config)
    matcher = Matcher(config.keywords)
    failed = 0
    try:
        # subscriptions made in Slack are delivered too
        config = _with_app(config, storage)
        subs = _subscriptions(config, args.subscription)
        for sub in subs:
            destination = destination_for(config, _settings(args), sub)
            if args.dry_run:
                digest = preview(config, storage, matcher, sub, destination, now=datetime.now(UTC))
                if args.format == "blocks":
                    messages = [{"text": m.text, "blocks": list(m.blocks)} for m in digest.messages]
                    _out(json.dumps(messages, ensure_ascii=False, indent=2))
                else:
                    _out(digest.text)
                continue
            if destination.kind == "terminal":
                print(
                    f"{sub.name}: no Slack credentials ({_missing(config, sub)} not set): "
                    "printing the digest here",
                    file=sys.stderr,
                )
            outcome = run_subscription(
                config, storage, matcher, sub, destination, clock=lambda: datetime.now(UTC)
            )
            print(_delivery_line(outcome), file=sys.stderr)
            failed += outcome.error is not None
    finally:
        storage.close()
    return EXIT_ERROR if failed else EXIT_OK


def _missing(config: Config, sub: SubscriptionConfig) -> str:
    return config.bot.slack.token_env if sub.channel else str(sub.webhook_env)


def _delivery_line(o: SubscriptionOutcome) -> str:
    done = f"{o.digests} digest(s), {o.alerts} alert(s), {o.articles} article(s) delivered"
    if o.error is None:
        return f"{o.name} -> {o.destination}: {done}"
    what = "NEEDS ACTION" if o.error.permanent else "will retry"
    return (
        f"{o.name} -> {o.destination}: {done}; ERROR ({what}) {o.error.code}: "
        f"{o.error}; {o.pending} digest(s) pending"
    )


def cmd_outbox(args: argparse.Namespace) -> int:
    config = _load(args)
    storage = _storage(args, config)
    try:
        if args.action == "retry":
            config = _with_app(config, storage)  # a Slack subscription's digest too
            count = rerender(
                config, storage, Matcher(config.keywords), args.id, now=datetime.now(UTC)
            )
            _out(f"digest #{args.id} re-rendered with {count} article(s); it goes out next run")
            return EXIT_OK
        if args.action == "drop":
            if not any(d.id == args.id for d in storage.outbox()):
                raise BotError(f"no undelivered digest #{args.id}")
            storage.set_digest_status(args.id, "dropped")
            _out(f"digest #{args.id} dropped: it will not be sent; its articles stay with it")
            return EXIT_OK
        entries = storage.outbox()
    finally:
        storage.close()
    if args.json:
        rows = [{**vars(e), "created_at": e.created_at.isoformat()} for e in entries]
        _out(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not entries:
        _out("the outbox is empty: every digest was delivered")
    for e in entries:
        _out(
            f"#{e.id:<5} {e.status:<8} {e.kind:<6} {e.subscription:<24} "
            f"{local_time(config, e.created_at)}  {e.articles} article(s), "
            f"{e.attempts} attempt(s), {e.messages_sent} message(s) sent"
        )
        if e.last_error:
            _out(f"       last refusal ({e.failures}x): {e.last_error}")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    config = _load(args)
    storage = _storage(args, config)
    try:
        config = _with_app(config, storage)
        rows = subscription_rows(config, _settings(args), storage, now=datetime.now(UTC))
        changes = storage.audit(limit=10)
    finally:
        storage.close()
    if args.json:

        def about(name: str) -> list[dict[str, str | None]]:
            return [
                {
                    "at": c.at.isoformat(),
                    "user": c.user_id,
                    "action": c.action,
                    "target": c.target,
                    "detail": c.detail,
                }
                for c in changes
                if c.target == name or c.detail == f"in {name}"
            ]

        out = [r.to_json() | {"changes": about(r.name)} for r in rows]
        _out(json.dumps(out, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not rows:
        _out("no subscriptions configured (see bot.yaml)")
    for row in rows:
        ledger = row.ledger
        last = ledger.last_digest if ledger else None
        _out(f"{row.name} -> {row.destination}   schedule {row.schedule}")
        _out(f"  next digest:      {row.next_digest.isoformat()}")
        delivered = (
            f"{local_time(config, last.delivered_at)} ({last.kind}, {last.articles} articles)"
            if last
            else "never"
        )
        _out(f"  last delivered:   {delivered}")
        _out(f"  queued articles:  {row.queued}")
        _out(
            f"  pending:          {ledger.pending_digests if ledger else 0} digest(s), "
            f"{ledger.pending_messages if ledger else 0} unsent message(s)"
        )
        error = ledger.last_error if ledger else None
        _out(f"  last error:       {f'{error.code}: {error.message}' if error else '-'}")
    if changes:
        _out("changes made in Slack (newest first):")
        for c in changes:
            detail = f" ({c.detail})" if c.detail else ""
            _out(f"  {local_time(config, c.at)}  {c.user_id}  {c.action} {c.target}{detail}")
    return EXIT_OK


# -- feedback ------------------------------------------------------------------------------


def cmd_feedback(args: argparse.Namespace) -> int:
    config = _load(args)
    storage = _storage(args, config)
    try:
        config = _with_app(config, storage)
        if args.action == "export":
            tags = {f.name: tuple(f.tags) for f in config.feeds}
            entries = feedback_app.corpus_entries(storage, tags)
            text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries)
            if args.out:
                Path(args.out).write_text(text, encoding="utf-8")
                print(f"{len(entries)} judged entries written to {args.out}", file=sys.stderr)
            else:
                sys.stdout.write(text)
            return EXIT_OK
        items = feedback_app.judged(storage)
    finally:
        storage.close()
    if args.json:
        _out(
            json.dumps(
                [
                    {
                        "article_id": j.article.id,
                        "subscription": j.subscription,
                        "title": j.article.article.title,
                        "link": j.article.article.link,
                        "feed": j.article.article.feed,
                        "relevant": j.relevant,
                        "not_relevant": j.not_relevant,
                        "verdict": j.verdict,
                        "voters": j.voters,
                        "last_vote": j.last_vote.isoformat() if j.last_vote else None,
                    }
                    for j in items
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return EXIT_OK
    if not items:
        _out("no feedback yet (the buttons under each story in Slack)")
    for j in items:
        verdict = {True: "relevant", False: "NOT relevant", None: "tied"}[j.verdict]
        _out(
            f"{verdict:<13} +{j.relevant} -{j.not_relevant}  {j.subscription:<20} "
            f"{clean_text(j.article.article.title)[:70]}  ({j.article.article.feed})"
        )
    return EXIT_OK


def _ratio(p: feedback_app.Precision) -> str:
    return f"{p.precision:.3f}" if p.precision is not None else "-"


def cmd_eval(args: argparse.Namespace) -> int:
    if not args.feedback:
        _out("the relevance corpus: `make eval` (python -m tests.quality) in a checkout")
        return EXIT_OK
    config = _load(args)
    storage = _storage(args, config)
    try:
        report = feedback_app.report(storage)
    finally:
        storage.close()
    if args.json:
        _out(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
        return EXIT_OK
    _out(f"precision as judged by subscribers ({report.votes} votes; a story's verdict is")
    _out("the majority of its votes, ties left out)")
    for title, rows in (("subscription", report.by_subscription), ("feed", report.by_feed)):
        _out(f"\n{title.upper():<32}{'JUDGED':>7}{'RELEVANT':>9}{'PRECISION':>10}")
        for p in rows:
            _out(f"{p.name[:31]:<32}{p.judged:>7}{p.relevant:>9}{_ratio(p):>10}")
    if report.worst:
        _out("\nmost often marked not relevant:")
        for j, why in report.worst:
            _out(
                f"  -{j.not_relevant} +{j.relevant}  {clean_text(j.article.article.title)[:70]}"
                f"  ({j.article.article.feed}, {j.subscription})"
            )
            _out(f"      why it was flagged: {why or '-'}")
    return EXIT_OK


# -- run / init / opml / demo -------------------------------------------------------------


class Progress:
    """On an interactive terminal, a one-line progress counter for long polls."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.new, self.errors = total, 0, 0, 0

    def __call__(self, outcome: FeedOutcome) -> None:
        self.done += 1
        self.new += outcome.new
        self.errors += outcome.status == "error"
        sys.stderr.write(
            f"\rpolled {self.done}/{self.total} feeds · {self.new} new · {self.errors} errors "
        )
        if self.done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _progress(args: argparse.Namespace, total: int) -> Progress | None:
    # Only for a person watching: in a pipe or in Docker the log says it instead.
    if args.log_format == "text" and sys.stderr.isatty() and total > 1:
        return Progress(total)
    return None


def _init_if_empty(args: argparse.Namespace) -> None:
    """BOT_INIT_IF_EMPTY (set in the Docker image): a fresh, empty config volume gets the
    default configuration, whatever command runs first, and says so."""
    config_dir = _settings(args).config_dir
    if _settings(args).init_if_empty and not (config_dir / "feeds.yaml").exists():
        # missing_only: replicas starting together each write what is missing, whole
        for path in init(config_dir, missing_only=True):
            print(
                f"no configuration in {config_dir}: wrote the default {path.name}", file=sys.stderr
            )


def cmd_run(args: argparse.Namespace) -> int:
    config = _load(args)
    settings = replace(_settings(args), database_url=_database_url(args, config))
    _lock(args, config, "run --once" if args.once else "run")
    if args.once:
        storage = _storage(args, config)
        try:
            config = _with_app(config, storage)
        finally:
            storage.close()
        outcomes, deliveries = asyncio.run(
            run_once(config, settings, progress=_progress(args, len(config.feeds)))
        )
        for outcome in outcomes:
            _out(_outcome_line(outcome))
        for delivery in deliveries:
            print(_delivery_line(delivery), file=sys.stderr)
        return EXIT_ERROR if any(d.error for d in deliveries) else EXIT_OK

    async def main() -> None:
        await Service(config, settings).run()

    for sub in config.bot.subscriptions:
        if destination_for(config, _settings(args), sub).kind == "terminal":
            print(
                f"{sub.name}: no Slack credentials ({_missing(config, sub)} not set): "
                "digests will be printed here",
                file=sys.stderr,
            )
    asyncio.run(main())
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    target = Path(args.dir) if args.dir else _settings(args).config_dir
    for path in init(target, force=args.force):
        _out(f"wrote {path}")
    _out(f"next: edit {target}/feeds.yaml and {target}/bot.yaml, then run `python -m bot run`")
    return EXIT_OK


def cmd_import_opml(args: argparse.Namespace) -> int:
    config = _load(args)
    added, skipped = import_opml(config, Path(args.file))
    load_config(config.directory)  # the result must still be valid
    for name in added:
        _out(f"added {name}")
    _out(f"{len(added)} feeds added, {len(skipped)} already listed")
    return EXIT_OK


def cmd_export_opml(args: argparse.Namespace) -> int:
    sys.stdout.write(export_opml(_load(args)))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    return demo.run()


def cmd_migrate_store(args: argparse.Namespace) -> int:
    # imported here: psycopg is loaded only by the commands that use PostgreSQL
    from bot.storage.postgres.connection import without_password
    from bot.storage.transfer import migrate_store

    settings = _settings(args)
    url = args.to or settings.database_url
    if not url or not url.startswith(POSTGRES_SCHEMES):
        raise ConfigError("--to", "", "give the target as postgresql://user:password@host/dbname")
    # nothing may write the SQLite store while it is copied
    _HELD.append(DataDirLock(settings.data_dir, "migrate-store").acquire())
    copies = migrate_store(settings.data_dir, url)
    for c in copies:
        _out(f"{c.table:<16} {c.source_rows:>8} rows: {c.copied} copied, {c.already_there} there")
    total = sum(c.copied for c in copies)
    _out(
        f"copied {total} rows into {without_password(url)}"
        if total
        else f"nothing to copy: {without_password(url)} already has every row"
    )
    _out("next: set BOT_DATABASE_URL (or database_url in bot.yaml) and start `run`")
    return EXIT_OK


# -- entry point -------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Watch news feeds for Japanese government tech policy and post Slack digests.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--config", metavar="DIR", help="configuration folder (env BOT_CONFIG; default ./config)"
    )
    parser.add_argument(
        "--data-dir", metavar="DIR", help="state folder (env BOT_DATA_DIR; default ./data)"
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="default: info for run, warning for other commands",
    )
    parser.add_argument("--log-format", default="text", choices=["text", "json"])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "check-config", help="validate the configuration (exit 0 if valid, 2 if not)"
    )
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("poll", help="poll feeds: 'poll --once' polls every feed once")
    p.add_argument("--once", action="store_true", help="poll every feed once and exit")
    p.add_argument("--force", action="store_true", help="ignore backoff and Retry-After")
    p.add_argument("--feed", action="append", metavar="NAME", help="only this feed (repeatable)")
    p.add_argument(
        "--due-only",
        action="store_true",
        help="only the feeds due by their interval, as the service polls them (replicas on one"
        " PostgreSQL may each run it: every due feed is polled by one of them)",
    )
    p.add_argument(
        "--timings",
        action="store_true",
        help="print where the cycle's time went (start-up, fetch, parse, match, store) as one "
        "JSON line on stderr",
    )
    p.set_defaults(func=cmd_poll)

    p = sub.add_parser("feeds", help="each feed's health: last success, errors, next poll")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_feeds)

    p = sub.add_parser("articles", help="stored articles, newest first")
    p.add_argument("--since", metavar="WHEN", help="a duration (24h, 7d) or a date/time")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--no-backlog", action="store_true", help="hide backlog from first polls")
    p.add_argument("--flagged", action="store_true", help="only articles the matcher flagged")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_articles)

    p = sub.add_parser("explain", help="show how a text, file or web page is matched, and why")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="a headline, or a title line followed by the text")
    source.add_argument("--file", help="a text file (first short line = title)")
    source.add_argument("--url", help="a web page: fetched, and its article text extracted")
    p.add_argument("--rule", help="a rule name from keywords.yaml, or a rule (default: default)")
    p.add_argument(
        "--feed-tag", action="append", metavar="TAG", help="as if from a feed with this tag"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser(
        "preview-page",
        help="show the entries a web page without a feed gives, by CSS selectors or --auto",
    )
    p.add_argument("url", nargs="?", help="the page (with --name: default the source's URL)")
    p.add_argument("--items", help="CSS selector: each match is one entry")
    p.add_argument("--title", help="CSS selector within an item (default: the link's text)")
    p.add_argument("--link", help="CSS selector within an item of the element with the href")
    p.add_argument("--date", help="CSS selector within an item of the date")
    p.add_argument(
        "--date-format", dest="date_format", help="strptime format of the date (default: any)"
    )
    p.add_argument("--auto", action="store_true", help="the dated links of the main content")
    p.add_argument("--name", help="a kind: page source of feeds.yaml: its URL and selectors")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_preview_page)

    p = sub.add_parser("digest", help="build and deliver the subscriptions' digests now")
    p.add_argument("--subscription", metavar="NAME", help="only this subscription")
    p.add_argument(
        "--dry-run", action="store_true", help="show the digest; send and record nothing"
    )
    p.add_argument("--format", choices=["text", "blocks"], default="text", help="with --dry-run")
    p.set_defaults(func=cmd_digest)

    p = sub.add_parser(
        "outbox", help="undelivered digests (pending, parked, dropped); retry or drop one"
    )
    p.add_argument("action", nargs="?", choices=["list", "retry", "drop"], default="list")
    p.add_argument("id", nargs="?", type=int, help="the digest's number (for retry and drop)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_outbox)

    p = sub.add_parser("status", help="each subscription's deliveries, queue and last error")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("run", help="the service: poll, digest and alert on schedule")
    p.add_argument("--once", action="store_true", help="poll all feeds, deliver all digests, exit")
    p.add_argument(
        "--health-port", type=int, help="serve /healthz and /metrics (env BOT_HEALTH_PORT)"
    )
    p.add_argument("--health-host", help="address for the health endpoint (default 127.0.0.1)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("init", help="write a starter configuration folder")
    p.add_argument("dir", nargs="?", help="where (default: --config, BOT_CONFIG or ./config)")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("import-opml", help="add the feeds of an OPML file to feeds.yaml")
    p.add_argument("file")
    p.set_defaults(func=cmd_import_opml)

    p = sub.add_parser("export-opml", help="print the feed list as OPML")
    p.set_defaults(func=cmd_export_opml)

    p = sub.add_parser(
        "demo", help="a complete cycle on bundled sample feeds (no network, no Slack)"
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "migrate-store", help="copy the SQLite store into PostgreSQL (running it again is a no-op)"
    )
    p.add_argument(
        "--to",
        metavar="URL",
        help="postgresql://user:password@host/dbname (default: BOT_DATABASE_URL)",
    )
    p.set_defaults(func=cmd_migrate_store)

    p = sub.add_parser(
        "train-model", help="fit the learned second opinion on the corpus's tuning part"
    )
    p.add_argument(
        "--corpus",
        default=str(Path("tests") / "data" / "corpus" / "relevance.jsonl"),
        help="labelled entries (JSON lines with a split field; only 'tune' is read)",
    )
    p.add_argument(
        "--add", action="append", metavar="FILE", help="more labelled entries (e.g. feedback)"
    )
    p.add_argument("--out", help="the model file (default: CONFIG/relevance-model.json)")
    p.add_argument(
        "--feedback",
        action="store_true",
        help="add the stories subscribers judged in Slack, and show what the model changes",
    )
    p.set_defaults(func=cmd_train_model)

    p = sub.add_parser(
        "feedback",
        help="subscribers' feedback from Slack; 'feedback export' writes it as corpus entries",
    )
    p.add_argument("action", nargs="?", choices=["list", "export"], default="list")
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", metavar="FILE", help="export: write here instead of stdout")
    p.set_defaults(func=cmd_feedback)

    p = sub.add_parser("eval", help="'eval --feedback': precision as judged by subscribers")
    p.add_argument("--feedback", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("match", help="batch matching: JSON lines in, JSON lines out")
    p.add_argument("--jsonl", required=True, metavar="FILE", help="input file, or - for stdin")
    p.add_argument("--rule", help="a rule name from keywords.yaml, or a rule (default: default)")
    p.set_defaults(func=cmd_match)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.setup(args.log_level or ("info" if args.command == "run" else "warning"), args.log_format)
    try:
        args.settings = Settings.from_env(
            config_dir=args.config,
            data_dir=args.data_dir,
            health_host=getattr(args, "health_host", None),
            health_port=getattr(args, "health_port", None),
        )
        if args.command not in ("init", "demo"):
            _init_if_empty(args)
        return int(args.func(args))
    except ConfigError as e:
        print(f"configuration error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except BotError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

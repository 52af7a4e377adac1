"""The slash command's language: its text parsed into a typed command, and the replies'
words in English and Japanese. Pure: no Slack, no storage.

    /techpolicy help | status | list | feeds
    /techpolicy subscribe [name=NAME] [RULE] [CRON]
    /techpolicy unsubscribe NAME
    /techpolicy explain URL|TEXT
    /techpolicy add-feed URL [NAME] [TAG ...]
    /techpolicy remove-feed NAME
    /techpolicy unmute FEED [SUBSCRIPTION]
    /techpolicy language en|ja
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.digest.blocks import escape_mrkdwn as _e
from bot.errors import CommandError
from bot.runtime.schedule import cron_trigger

VERBS = (
    "help",
    "status",
    "list",
    "feeds",
    "subscribe",
    "unsubscribe",
    "explain",
    "add-feed",
    "remove-feed",
    "unmute",
    "language",
)
#: Slack sends links in a command's text as <url> or <url|label> when the command escapes
#: them, and as typed otherwise
_SLACK_LINK = re.compile(r"<((?:https?|ftp|file|gopher)://[^|>]+)(?:\|[^>]*)?>")


@dataclass(frozen=True)
class Command:
    verb: str
    #: the words after the verb (links unwrapped)
    args: tuple[str, ...] = ()
    #: the text after the verb as typed (links unwrapped): explain's TEXT, subscribe's rule
    rest: str = ""


@dataclass(frozen=True)
class SubscribeArgs:
    name: str | None
    rule: str | None
    schedule: str | None


def unwrap_links(text: str) -> str:
    return _SLACK_LINK.sub(lambda m: m.group(1), text)


def parse(text: str) -> Command:
    text = unwrap_links(text or "").strip()
    if not text:
        return Command("help")
    verb, _, rest = text.partition(" ")
    verb = verb.lower()
    if verb not in VERBS:
        raise CommandError(f"Unknown command `{_e(verb)}`. Try `help`.")
    rest = rest.strip()
    return Command(verb, tuple(rest.split()), rest)


def _is_cron(words: list[str]) -> bool:
    try:
        cron_trigger(" ".join(words), "UTC")
    except Exception:
        return False
    return True


def subscribe_args(command: Command) -> SubscribeArgs:
    """``[name=NAME] [RULE] [CRON]``: a schedule is the last five words when they make a
    valid cron expression; whatever is left is the rule (quotes around it are dropped)."""
    words = list(command.args)
    name = None
    if words and words[0].lower().startswith("name="):
        name = words.pop(0).split("=", 1)[1] or None
    schedule = None
    if len(words) >= 5 and _is_cron(words[-5:]):
        schedule = " ".join(words[-5:])
        words = words[:-5]
    rule = " ".join(words).strip().strip("\"'“”") or None
    return SubscribeArgs(name, rule, schedule)


def one_name(command: Command, what: str) -> str:
    if len(command.args) != 1:
        raise CommandError(f"Usage: `{_e(command.verb)} {_e(what)}`")
    return command.args[0]


# -- words -------------------------------------------------------------------------------------

MESSAGES: dict[str, dict[str, str]] = {
    "help": {
        "en": (
            "*{command}* — Japanese government tech policy news for this channel\n"
            "• `{command} status` — this channel's subscriptions: last digest, queue, next "
            "run, last error, recent changes\n"
            "• `{command} list` — every subscription\n"
            "• `{command} subscribe [name=NAME] [RULE] [CRON]` — e.g. "
            "`{command} subscribe semiconductors OR ai 0 9 * * mon-fri`\n"
            "• `{command} unsubscribe NAME`\n"
            "• `{command} explain URL|TEXT` — why a story is flagged or not\n"
            "• `{command} feeds` — feed health, failing and stale feeds first\n"
            "• `{command} add-feed URL [NAME] [TAG ...]`, `{command} remove-feed NAME`\n"
            "• `{command} unmute FEED [SUBSCRIPTION]`, `{command} language en|ja`\n"
            "Changes: {admins}. Anyone can ask and give feedback (the buttons under each "
            "story)."
        ),
        "ja": (
            "*{command}* — 日本政府のテック政策ニュースをこのチャンネルへ\n"
            "• `{command} status` — このチャンネルの購読: 前回のダイジェスト、待ち件数、"
            "次回、直近のエラー、最近の変更\n"
            "• `{command} list` — すべての購読\n"
            "• `{command} subscribe [name=名前] [ルール] [CRON]` — 例: "
            "`{command} subscribe semiconductors OR ai 0 9 * * mon-fri`\n"
            "• `{command} unsubscribe 名前`\n"
            "• `{command} explain URL|テキスト` — 記事が選ばれる/選ばれない理由\n"
            "• `{command} feeds` — フィードの状態(失敗・停滞を先に)\n"
            "• `{command} add-feed URL [名前] [タグ ...]`、`{command} remove-feed 名前`\n"
            "• `{command} unmute フィード [購読]`、`{command} language en|ja`\n"
            "変更できるのは {admins} です。質問とフィードバック(各記事のボタン)は"
            "どなたでも。"
        ),
    },
    "subscribed": {
        "en": "<@{user}> subscribed this channel: `{name}` (rule: {rule}; schedule: "
        "`{schedule}` {timezone}). First digest: {next}.",
        "ja": "<@{user}> さんがこのチャンネルを購読しました: `{name}`(ルール: {rule}、"
        "スケジュール: `{schedule}` {timezone})。最初のダイジェスト: {next}",
    },
    "unsubscribed": {
        "en": "<@{user}> removed the subscription `{name}`.",
        "ja": "<@{user}> さんが購読 `{name}` を削除しました。",
    },
    "feed_added": {
        "en": "<@{user}> added the feed `{name}` ({url}): {entries} entries, titled "
        "“{title}”. Latest: {latest}",
        "ja": "<@{user}> さんがフィード `{name}`({url})を追加しました: {entries} 件、"
        "タイトル「{title}」。最新: {latest}",
    },
    "feed_removed": {
        "en": "<@{user}> removed the feed `{name}`.",
        "ja": "<@{user}> さんがフィード `{name}` を削除しました。",
    },
    "feed_refused": {
        "en": "Not added: {url} — {reason}",
        "ja": "追加できませんでした: {url} — {reason}",
    },
    "muted": {
        "en": "<@{user}> muted `{feed}` in `{subscription}`: its stories no longer go there. "
        "Undo: `{command} unmute {feed} {subscription}`",
        "ja": "<@{user}> さんが `{subscription}` で `{feed}` をミュートしました。"
        "元に戻す: `{command} unmute {feed} {subscription}`",
    },
    "already_muted": {
        "en": "`{feed}` is already muted in `{subscription}`.",
        "ja": "`{feed}` は `{subscription}` で既にミュートされています。",
    },
    "unmuted": {
        "en": "<@{user}> unmuted `{feed}` in `{subscription}`.",
        "ja": "<@{user}> さんが `{subscription}` で `{feed}` のミュートを解除しました。",
    },
    "language": {
        "en": "Replies in this workspace are now in English.",
        "ja": "このワークスペースの返信を日本語にしました。",
    },
    "no_subscription": {
        "en": "This channel has no subscription. `{command} subscribe` creates one.",
        "ja": "このチャンネルには購読がありません。`{command} subscribe` で作成できます。",
    },
    "status": {
        "en": "*{name}* · schedule `{schedule}`\n  last digest: {delivered} · queued: {queued} · "
        "next: {next}\n  last error: {error}",
        "ja": "*{name}* · スケジュール `{schedule}`\n  前回のダイジェスト: {delivered} · "
        "待ち: {queued} 件 · 次回: {next}\n  直近のエラー: {error}",
    },
    "delivered": {"en": "{when} ({articles} articles)", "ja": "{when}({articles} 件)"},
    "never": {"en": "never", "ja": "まだありません"},
    "muted_list": {"en": "  muted: {feeds}", "ja": "  ミュート中: {feeds}"},
    "changes": {"en": "Recent changes:", "ja": "最近の変更:"},
    "feeds_head": {
        "en": "{total} feeds: {failing} failing, {stale} stale, {ok} ok",
        "ja": "フィード {total} 件: 失敗 {failing}、停滞 {stale}、正常 {ok}",
    },
    "failing": {"en": "failing ({count}×): {kind}", "ja": "失敗中({count} 回): {kind}"},
    "stale": {"en": "stale: nothing new since {date}", "ja": "停滞: {date} 以降新着なし"},
    "thanks": {
        "en": "Thanks: your feedback on this story is recorded.",
        "ja": "ありがとうございます。フィードバックを記録しました。",
    },
    "working": {
        "en": "Working on it…",
        "ja": "処理中…",
    },
}


def say(key: str, language: str, **values: object) -> str:
    words = MESSAGES[key]
    return words.get(language, words["en"]).format(**values)

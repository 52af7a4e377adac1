"""The outbox: digests are stored before anything is sent, then sent message by message.

for each pending digest of a subscription, in order:
    for each message not yet confirmed:
        an earlier run may have posted it and died before recording it: look for it
        in the channel history by its metadata (Slack only); record Slack's ts as soon
        as it is known
    all messages confirmed -> the digest is delivered
a destination problem (credentials, channel, rate limit, network) stops the run; a
message Slack refuses does not hold back the digests after it, and after park_after
runs its digest is parked and its articles released (storage.park_digest)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.delivery.destination import Destination
from bot.digest.blocks import Digest
from bot.errors import DeliveryError
from bot.storage import Message, PendingDigest, Storage

log = logging.getLogger("bot.delivery")


def payloads(digest: Digest, *, terminal: bool) -> list[Message]:
    """What the outbox keeps of a digest: its Slack messages, or its text for a terminal."""
    if terminal:
        return [{"terminal": digest.text}]
    return [{"text": m.text, "blocks": list(m.blocks)} for m in digest.messages]


# -- sending --------------------------------------------------------------------------------


#: Slack refused the message itself, not the destination: another digest may go through,
#: and this one will be refused every time it is sent as it is
MESSAGE_ERRORS = frozenset(
    {"invalid_blocks", "invalid_blocks_format", "msg_too_long", "msg_blocks_too_long",
     "no_text", "too_many_attachments", "invalid_attachments", "invalid_metadata_format",
     "invalid_metadata_schema", "metadata_too_large", "invalid_arguments", "invalid_payload"}
)  # fmt: skip


@dataclass
class SendResult:
    digests: int = 0
    alerts: int = 0
    articles: int = 0
    #: digests Slack refused this run (each was kept, or parked after ``park_after``)
    refused: list[DeliveryError] = field(default_factory=list)


class ClaimLost(Exception):
    """Another replica holds this subscription's delivery now (ours expired): stop sending;
    what is left of the digest is that replica's to send."""


#: asked before every message: True while this process may still send (see ClaimLost)
KeepClaim = Callable[[], bool]


def _always() -> bool:
    return True


def send_pending(
    storage: Storage,
    destination: Destination,
    key: str,
    *,
    clock: Callable[[], datetime],
    park_after: int = 2,
    keep_claim: KeepClaim | None = None,
) -> SendResult:
    """Send every pending digest of ``key`` in order. A destination problem (credentials,
    channel, rate limit, network) raises DeliveryError at once: the rest wait for the next
    run. A digest Slack refuses as a message (``invalid_blocks``...) does not hold back the
    ones after it; refused ``park_after`` times, it is parked and its articles released
    into the next digest (see Storage.park_digest)."""
    result = SendResult()
    for pending in storage.pending_digests(key):
        try:
            _send_one(storage, destination, pending, clock=clock, keep_claim=keep_claim or _always)
        except DeliveryError as e:
            if e.code not in MESSAGE_ERRORS:
                raise
            result.refused.append(e)
            failures = storage.record_digest_failure(pending.id, code=e.code, message=str(e))
            if failures < park_after:
                log.error(
                    "%s: Slack refused %s #%d (%s); it is tried again next run",
                    key,
                    pending.kind,
                    pending.id,
                    e.code,
                )
                continue
            released, kept = storage.park_digest(pending.id)
            log.error(
                "%s: Slack refused %s #%d %d times (%s): parked; %d article(s) go into the "
                "next digest, %d stay with it (python -m bot outbox)",
                key,
                pending.kind,
                pending.id,
                failures,
                e.code,
                released,
                kept,
                extra={"event": "parked", "subscription": key, "code": e.code},
            )
            continue
        if pending.kind == "alert":
            result.alerts += 1
        else:
            result.digests += 1
        result.articles += pending.articles
    return result


def _send_one(
    storage: Storage,
    destination: Destination,
    pending: PendingDigest,
    *,
    clock: Callable[[], datetime],
    keep_claim: KeepClaim,
) -> None:
    storage.start_attempt(pending.id)
    digest_key = f"{pending.subscription}#{pending.id}"
    channel_id = storage.channel_id(pending.subscription)
    parent_ts = pending.messages[0].ts if pending.messages else None
    for message in pending.messages:
        if message.ts is not None or (destination.kind != "slack" and message.channel_id == "sent"):
            channel_id = message.channel_id or channel_id
            continue
        if not keep_claim():
            raise ClaimLost(f"{digest_key}: another replica is delivering it now")
        if pending.attempts > 0:
            # An earlier run may have posted this message and died before recording it.
            found = destination.find_posted(channel_id, digest_key, message.seq, pending.created_at)
            if found is not None:
                log.info(
                    "%s: message %d of digest %s was already posted; not sending it again",
                    destination.label,
                    message.seq,
                    digest_key,
                )
                storage.record_sent(
                    pending.id, message.seq, channel_id=found.channel_id, ts=found.ts, now=clock()
                )
                if message.seq == 0:
                    parent_ts = found.ts
                continue
        thread_ts = parent_ts if destination.threads and message.seq > 0 else None
        posted = destination.post(
            message.payload,
            thread_ts=thread_ts,
            metadata={"key": digest_key, "seq": message.seq},
        )
        # Webhooks and the terminal have no ts: "sent" marks the message as done.
        storage.record_sent(
            pending.id,
            message.seq,
            channel_id=posted.channel_id or ("sent" if posted.ts is None else None),
            ts=posted.ts,
            now=clock(),
        )
        if posted.channel_id and posted.channel_id != channel_id:
            channel_id = posted.channel_id
            storage.remember_channel(pending.subscription, channel_id)
        if message.seq == 0:
            parent_ts = posted.ts
    storage.finish_digest(pending.subscription, pending.id, now=clock(), channel_id=channel_id)
    log.info(
        "delivered %s to %s (%d messages, %d articles)",
        digest_key,
        destination.label,
        len(pending.messages),
        pending.articles,
        extra={
            "event": "delivery",
            "subscription": pending.subscription,
            "destination": destination.label,
            "kind": pending.kind,
            "articles": pending.articles,
        },
    )


def queue(storage: Storage, destination: Destination, key: str, digests: Sequence[Digest]) -> None:
    """Put digests in the outbox: from here on their articles belong to them."""
    for digest in digests:
        storage.create_digest(
            key,
            kind=digest.kind,
            now=digest.created_at,
            payloads=payloads(digest, terminal=destination.kind == "terminal"),
            article_ids=digest.article_ids,
        )

"""Slack bot that watches news feeds for Japanese government tech policy.

The data flow, one stage per module::

    fetch.py   -> parse.py -> match/   -> store.py -> digest.py -> deliver.py
    (httpx)       (feedparser) (pure)     (SQLite)    (Block Kit)  (slack-sdk)

``poll.py`` drives fetch -> parse -> match -> store for every feed; the scheduler in
``service.py`` runs polls and digests on their schedules.
"""

__version__ = "0.1.0"

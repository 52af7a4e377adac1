"""Slack bot that watches news feeds for Japanese government tech policy.

The data flow, one package per stage::

    ingest/  ->  match/  ->  storage/  ->  digest/  ->  delivery/  ->  slack/
    (fetch, parse      (keywords,  (SQLite or    (Block Kit)  (outbox)    (Web API,
     in workers)        rules)      PostgreSQL)                           the app)

``app/`` holds the use cases the command line and the Slack app share; ``runtime/`` the
service that runs polls and digests on their schedules (README "How it works").
"""

import time

__version__ = "0.1.0"

#: when the process started importing the bot (``poll --once --timings`` measures start-up
#: from here: the imports, the configuration, the keyword automaton, the storage)
STARTED = time.perf_counter()

"""Digests: flagged articles in, Slack messages and text out. Pure, in three steps:

select   stored articles -> items: undelivered, by the subscription's rule and min_score
stories  items -> stories: one per story, near-duplicates merged
blocks   stories -> Block Kit messages within Slack's limits (text: the same as text)
"""

"""Matching: decide whether an article is Japanese government tech policy, and say why.

Pure: no I/O. ``keywords.py`` loads and validates ``keywords.yaml``; ``normalize.py`` puts text
and terms in one form; ``rules.py`` parses the AND/OR/NOT rules; ``matcher.py`` finds every
term in one Aho-Corasick pass and scores the groups.
"""

from bot.match.keywords import KeywordSet, load_keywords
from bot.match.matcher import Matcher, MatchResult

__all__ = ["KeywordSet", "MatchResult", "Matcher", "load_keywords"]

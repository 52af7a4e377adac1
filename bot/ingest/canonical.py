"""Canonical links: one string per story, whatever tracking or redirector wraps it.

The canonical link is an identity key, not the link we show: articles keep their original
``link`` for display. Rules:

- lowercase scheme and host, drop default ports, ``http`` becomes ``https`` (feeds mix both
  for the same page), drop the fragment;
- drop tracking parameters (``utm_*``, ``fbclid``, ``gclid``, ``partner`` ...) and sort the
  rest, so parameter order does not make a new story;
- unwrap redirectors whose target is in the URL (Google ``/url?q=``, Facebook ``l.php?u=``,
  Bing news ``apiclick.aspx?url=``, Hatena Bookmark ``/entry/s/host/path``, ...).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "igshid", "mc_cid", "mc_eid", "mkt_tok", "_hsenc", "_hsmi", "_ga", "_gl",
        "partner", "ref", "cmpid", "ncid", "ocid", "icid", "s_cid", "spm", "ref_src", "ref_url",
        "rss", "rss_id", "feed_id", "via", "sr_share", "share", "smid", "ito",
        "cmp", "src", "n_cid", "yj_feed",
        # session ids (unambiguous names only: "sid" is a story id on some sites)
        "jsessionid", "phpsessid", "aspsessionid", "sessionid", "session_id",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmb_")

# host (or host suffix) -> query parameters that carry the target URL
_REDIRECT_PARAMS: dict[str, tuple[str, ...]] = {
    "google.com": ("url", "q"),
    "google.co.jp": ("url", "q"),
    "news.google.com": ("url",),
    "l.facebook.com": ("u",),
    "lm.facebook.com": ("u",),
    "bing.com": ("url",),
    "t.umblr.com": ("z",),
    "out.reddit.com": ("url",),
    "slack-redirect.com": ("url",),
    "rd.yahoo.co.jp": ("url",),
    "feeds.feedblitz.com": ("url",),
    "duckduckgo.com": ("uddg",),
}
_REDIRECT_PATHS = re.compile(r"^/(url|l\.php|redirect|out|news/apiclick\.aspx|r|link)/?$")
_MAX_UNWRAP = 3
# Java servlets put the session in the path: /news/a.html;jsessionid=0A1B2C
_PATH_SESSION = re.compile(r";(?:jsessionid|phpsessid|sid)=[^/;?]*", re.I)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _redirect_target(host: str, path: str, query: str) -> str | None:
    params = None
    for suffix, names in _REDIRECT_PARAMS.items():
        if host == suffix or host.endswith("." + suffix):
            params = names
            break
    if params is None and not _REDIRECT_PATHS.match(path):
        return None
    names = params or ("url", "u", "q", "target", "dest", "to")
    values = dict(parse_qsl(query, keep_blank_values=True))
    for name in names:
        target = values.get(name, "")
        if target.startswith(("http://", "https://")):
            return target
    return None


def _hatena_target(host: str, path: str) -> str | None:
    # b.hatena.ne.jp/entry/s/example.com/a -> https://example.com/a ("s/" marks https)
    if host != "b.hatena.ne.jp" or not path.startswith("/entry/"):
        return None
    rest = path[len("/entry/") :]
    scheme = "http"
    if rest.startswith("s/"):
        scheme, rest = "https", rest[2:]
    if rest.startswith(("http://", "https://")):
        return rest
    if "." not in rest.split("/", 1)[0]:
        return None
    return f"{scheme}://{rest}"


def canonicalize(url: str) -> str:
    """The canonical form of ``url``; returns the input stripped if it is not http(s)."""
    url = url.strip()
    for _ in range(_MAX_UNWRAP):
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        target = _redirect_target(host, parts.path, parts.query) or _hatena_target(host, parts.path)
        if not target:
            break
        url = target
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return url
    host = (parts.hostname or "").lower().rstrip(".")
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    ]
    query.sort()
    # Normalise percent-encoding (%7e vs ~, raw Japanese vs %E5...) so equal URLs compare equal.
    path = _PATH_SESSION.sub("", parts.path or "/")
    path = quote(unquote(path), safe="/:@!$&'()*+,;=-._~")
    return urlunsplit(("https", host, path, urlencode(query), ""))


#: query parameters whose values are credentials, never to be shown
SECRET_PARAMS = frozenset(
    {"token", "access_token", "api_key", "apikey", "key", "secret", "password", "passwd",
     "sig", "signature", "auth", "session", "sid"}
)  # fmt: skip
_USERINFO = re.compile(r"(?<=://)[^/?#@\r\n]*@")


def redact_url(url: str) -> str:
    """``url`` fit to print or store for display: ``user:password@`` and the values of
    credential-like query parameters replaced by ``***`` (the URL polled keeps them)."""
    url = _USERINFO.sub("***@", url)
    if "?" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.query:
        return url
    query = "&".join(
        f"{name}=***" if name.lower() in SECRET_PARAMS and value else pair
        for pair in parts.query.split("&")
        for name, _, value in [pair.partition("=")]
    )
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))

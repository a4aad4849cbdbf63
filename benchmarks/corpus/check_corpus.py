#!/usr/bin/env python3
"""Checker for the territory-research real-page corpus (stdlib only).

Loads every /work/corpus_out/*.json company file and asserts the labelling
invariants described in README.md. Prints counts; exits non-zero on failure."""

import glob
import json
import os
import re
import sys
from collections import Counter
from difflib import SequenceMatcher

HERE = os.path.dirname(os.path.abspath(__file__))
ACCEPT = [
    "verbatim",
    "dropped_lead",
    "elided",
    "truncated",
    "markdown_stripped",
    "ascii_dash",
    "case",
]
REJECT = ["invented", "number_changed", "misattributed"]
MIN_ACCEPT, MIN_REJECT = 25, 10

errors = []


def fail(msg):
    errors.append(msg)


def ws(s):
    return re.sub(r"\s+", " ", s).strip()


DASHES = {
    "\u2013": "-",
    "\u2014": "-",
    "\u2011": "-",
    "\u2010": "-",
    "\u2212": "-",
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2033": '"',
    "\u2026": "...",
    "\u00a0": " ",
}


def ascii_norm(s):
    return "".join(DASHES.get(ch, ch) for ch in s)


def md_strip(s, html=True):
    if html:
        s = re.sub(r"<\\?/?[A-Za-z][^>]*>", "", s)  # html tags, incl. JSON-escaped <\/em>
    s = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", s)  # images
    s = re.sub(r"\[([^\]\n]+)\]\([^)\s]*\)", r"\1", s)  # links
    s = re.sub(r"\\([\[\]\\*_`#])", r"\1", s)  # backslash escapes
    s = re.sub(r"\*\*\*([^*\n]+)\*\*\*", r"\1", s)
    s = re.sub(r"\*\*([^*\n]+)\*\*", r"\1", s)
    s = re.sub(r"__([^_\n]+)__", r"\1", s)
    s = re.sub(r"(?<!\w)\*([^*\n]+)\*(?!\w)", r"\1", s)
    s = re.sub(r"(?<!\w)_(\S[^_\n]*?)_(?!\w)", r"\1", s)
    s = re.sub(r"`([^`\n]+)`", r"\1", s)
    s = re.sub(r"^#{1,6} ", "", s, flags=re.M)
    return s


def all_norm(s):
    return ws(ascii_norm(md_strip(s))).lower()


def split_elided(q):
    return [f.strip() for f in re.split(r"\.\.\.|\u2026", q) if f.strip()]


def nwords(s):
    return len(s.split())


def in_order(frags, text):
    pos = 0
    for f in frags:
        i = text.find(f, pos)
        if i < 0:
            return False
        pos = i + len(f)
    return True


def check_accept(kind, q, text):
    """Return None if the quote is a faithful rendering of `text` under `kind`, else a reason."""
    if kind == "verbatim":
        return None if q in text else "not a substring"
    if q in text:
        return f"{kind} quote is a plain substring (should be labelled verbatim)"
    if kind == "dropped_lead":
        if not q[:1].isupper():
            return "first letter not capitalised"
        low = q[0].lower() + q[1:]
        return None if ws(low) in ws(text) else "lower-cased quote not on page"
    if kind == "elided":
        frags = split_elided(q)
        if len(frags) < 2:
            return "no ellipsis between fragments"
        if any(nwords(f) < 4 for f in frags):
            return "a fragment has fewer than 4 words"
        return (
            None if in_order([ws(f) for f in frags], ws(text)) else "fragments not found in order"
        )
    if kind == "truncated":
        m = re.match(r"^(.*?)\s*(\.\.\.|\u2026)$", q, re.S)
        if not m:
            return "does not end with an ellipsis"
        return None if ws(m.group(1)) in ws(text) else "head not on page"
    if kind == "markdown_stripped":
        if md_strip(text) == text:
            return "page has no markup"
        return None if ws(q) in ws(md_strip(text)) else "not found after stripping markup"
    if kind == "ascii_dash":
        if ascii_norm(text) == text:
            return "page has no typographic dashes/quotes"
        return None if ws(q) in ws(ascii_norm(text)) else "not found after ASCII-folding the page"
    if kind == "case":
        return None if ws(q).lower() in ws(text).lower() else "not found case-insensitively"
    return "unknown kind"


def main():
    files = sorted(glob.glob(os.path.join(HERE, "*.json")))
    tiers, kinds, shapes, sources = Counter(), Counter(), Counter(), Counter()
    n_pages = n_ev = n_q = 0
    syndicated_cos, spelling_cos, namesake_cos = [], [], []
    github_io, debt_fin = [], []
    for fn in files:
        d = json.load(open(fn, encoding="utf-8"))
        co = os.path.basename(fn)[:-5]
        for k in ("company", "domain", "tier", "spellings", "pages", "evidence", "quotes"):
            if k not in d:
                fail(f"{co}: missing key {k}")
        tiers[d["tier"]] += 1
        pages = d["pages"]
        urls = [p["url"] for p in pages]
        texts = {p["url"]: p["text"] for p in pages}
        if len(set(urls)) != len(urls):
            fail(f"{co}: duplicate page url")
        if not 4 <= len(pages) <= 8:
            fail(f"{co}: {len(pages)} pages (want 4-8)")
        n_pages += len(pages)
        for p in pages:
            for k in (
                "url",
                "title",
                "source",
                "shape",
                "text",
                "about_namesake",
                "syndicated_with",
            ):
                if k not in p:
                    fail(f"{co}: page {p.get('url')} missing {k}")
            if len(p["text"]) > 2500:
                fail(f"{co}: page {p['url']} text longer than 2,500 chars")
            shapes[p["shape"]] += 1
            sources[p["source"].split(":")[0]] += 1
            want = (
                "markdown"
                if ("\n\n" in p["text"].strip("\n") or md_strip(p["text"], html=False) != p["text"])
                else "text"
            )
            if p["shape"] != want:
                fail(f"{co}: page {p['url']} shape {p['shape']} but looks like {want}")
            if p["syndicated_with"]:
                tw = p["syndicated_with"]
                if tw not in texts:
                    fail(f"{co}: syndicated twin {tw} not among the company's pages")
                else:
                    a, b = p["text"], texts[tw]
                    m = SequenceMatcher(None, a, b, autojunk=False).find_longest_match(
                        0, len(a), 0, len(b)
                    )
                    if m.size < 300:
                        fail(f"{co}: syndicated pair shares only {m.size} chars: {p['url']}")
            if ".github.io" in p["url"]:
                github_io.append((co, p["url"]))
            if re.search(r"debt-financing[^/]*\.html", p["url"]):
                debt_fin.append((co, p["url"]))
        if any(p["syndicated_with"] for p in pages):
            syndicated_cos.append(co)
        if any(p["about_namesake"] for p in pages):
            namesake_cos.append(co)
        # pages that name the company only in another spelling than the CRM one
        alt = [
            p["url"]
            for p in pages
            if not p["about_namesake"]
            and d["company"] not in p["text"]
            and any(s in p["text"] for s in d["spellings"])
        ]
        if alt:
            spelling_cos.append((co, len(alt)))
        # evidence
        ev = d["evidence"]
        if not 5 <= len(ev) <= 12:
            fail(f"{co}: {len(ev)} evidence sentences (want 5-12)")
        n_ev += len(ev)
        for e in ev:
            if e["url"] not in texts:
                fail(f"{co}: evidence url not a company page: {e['url']}")
            elif e["sentence"] not in texts[e["url"]]:
                fail(f"{co}: evidence not a substring of its page: {e['sentence'][:70]!r}")
            if nwords(e["sentence"]) < 8:
                fail(f"{co}: evidence shorter than 8 words: {e['sentence']!r}")
        # quotes
        for q in d["quotes"]:
            n_q += 1
            kind, quote, url = q["kind"], q["quote"], q["url"]
            kinds[kind] += 1
            if url not in texts:
                fail(f"{co}: quote url not a company page: {url}")
                continue
            exp = "accept" if kind in ACCEPT else "reject" if kind in REJECT else None
            if exp is None or q["expect"] != exp:
                fail(f"{co}: bad kind/expect {kind}/{q['expect']}")
                continue
            if kind in ACCEPT:
                why = check_accept(kind, quote, texts[url])
                if why:
                    fail(f"{co}: {kind} quote fails ({why}): {quote[:70]!r}")
            elif kind in ("invented", "number_changed"):
                for u, t in texts.items():
                    if quote in t or ws(quote).lower() in all_norm(t):
                        fail(f"{co}: {kind} quote found on {u}: {quote[:70]!r}")
                if kind == "number_changed" and not re.search(
                    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten)\b", quote
                ):
                    fail(f"{co}: number_changed quote has no number: {quote[:70]!r}")
            elif kind == "misattributed":
                if quote in texts[url] or ws(quote).lower() in all_norm(texts[url]):
                    fail(f"{co}: misattributed quote is on its cited page: {quote[:70]!r}")
                if not any(quote in t for u, t in texts.items() if u != url):
                    fail(
                        f"{co}: misattributed quote not on any other page of the company: "
                        f"{quote[:70]!r}"
                    )

    # corpus-level counts
    if len(files) < 18:
        fail(f"only {len(files)} companies (want >= 18)")
    if tiers["HOT"] < 6:
        fail(f"HOT companies {tiers['HOT']} < 6")
    if tiers["WARM"] < 5:
        fail(f"WARM companies {tiers['WARM']} < 5")
    if tiers["COLD"] < 6:
        fail(f"COLD companies {tiers['COLD']} < 6")
    for k in ACCEPT:
        if kinds[k] < MIN_ACCEPT:
            fail(f"accept kind {k}: {kinds[k]} < {MIN_ACCEPT}")
    for k in REJECT:
        if kinds[k] < MIN_REJECT:
            fail(f"reject kind {k}: {kinds[k]} < {MIN_REJECT}")
    if len(syndicated_cos) < 3:
        fail(f"companies with syndicated pairs: {len(syndicated_cos)} < 3")
    if len(spelling_cos) < 3:
        fail(f"companies named only in another spelling on some page: {len(spelling_cos)} < 3")
    if len(namesake_cos) < 2:
        fail(f"companies with a namesake page: {len(namesake_cos)} < 2")
    if shapes["text"] == 0 or shapes["markdown"] == 0:
        fail("need both text- and markdown-shaped pages")
    if not github_io:
        fail("no <company>.github.io page")

    print(f"companies: {len(files)}  tiers: {dict(tiers)}")
    print(f"pages: {n_pages}  shapes: {dict(shapes)}  sources: {dict(sources)}")
    print(f"evidence sentences: {n_ev}  quotes: {n_q}")
    print("quote kinds:")
    for k in ACCEPT + REJECT:
        print(f"  {k:18s} {kinds[k]:3d}  ({'accept' if k in ACCEPT else 'reject'})")
    print(
        f"accept total: {sum(kinds[k] for k in ACCEPT)}  "
        f"reject total: {sum(kinds[k] for k in REJECT)}"
    )
    print(f"syndicated pairs in: {syndicated_cos}")
    print(f"namesake pages in: {namesake_cos}")
    print(f"other-spelling-only pages: {spelling_cos}")
    print(f"github.io pages: {github_io}")
    if debt_fin:
        print(f"'-debt-financing.html' urls: {debt_fin}")
    else:
        print(
            "WARN: no page url matching '-debt-financing...html' "
            "(none found in the stored pages; see README)"
        )
    if errors:
        print(f"\nFAILED: {len(errors)} problem(s)")
        for e in errors:
            print("  -", e)
        sys.exit(1)
    print("\nOK: all checks passed")


if __name__ == "__main__":
    main()

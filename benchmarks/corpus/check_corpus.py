#!/usr/bin/env python3
"""Checker for the territory-research real-page corpus (stdlib only).

Loads every company file next to it (benchmarks/corpus/*.json) and asserts the labelling
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


class Tally:
    """What the corpus holds, counted as the files are checked."""

    def __init__(self):
        self.tiers, self.kinds, self.shapes, self.sources = (Counter() for _ in range(4))
        self.companies = self.pages = self.evidence = self.quotes = 0
        self.syndicated, self.spellings, self.namesakes = [], [], []
        self.github_io, self.debt_financing = [], []


def check_company(co, d, tally):
    """Every label of one company file against its pages."""
    for k in ("company", "domain", "tier", "spellings", "pages", "evidence", "quotes"):
        if k not in d:
            fail(f"{co}: missing key {k}")
    tally.companies += 1
    tally.tiers[d["tier"]] += 1
    texts = {p["url"]: p["text"] for p in d["pages"]}
    check_pages(co, d, texts, tally)
    check_evidence(co, d["evidence"], texts, tally)
    for q in d["quotes"]:
        check_quote(co, q, texts, tally)


PAGE_KEYS = ("url", "title", "source", "shape", "text", "about_namesake", "syndicated_with")


def check_pages(co, d, texts, tally):
    pages = d["pages"]
    if len(texts) != len(pages):
        fail(f"{co}: duplicate page url")
    if not 4 <= len(pages) <= 8:
        fail(f"{co}: {len(pages)} pages (want 4-8)")
    tally.pages += len(pages)
    for p in pages:
        check_page(co, p, texts, tally)
    if any(p["syndicated_with"] for p in pages):
        tally.syndicated.append(co)
    if any(p["about_namesake"] for p in pages):
        tally.namesakes.append(co)
    # pages that name the company only in another spelling than the CRM one
    alt = [
        p["url"]
        for p in pages
        if not p["about_namesake"]
        and d["company"] not in p["text"]
        and any(s in p["text"] for s in d["spellings"])
    ]
    if alt:
        tally.spellings.append((co, len(alt)))


def check_page(co, p, texts, tally):
    for k in PAGE_KEYS:
        if k not in p:
            fail(f"{co}: page {p.get('url')} missing {k}")
    if len(p["text"]) > 2500:
        fail(f"{co}: page {p['url']} text longer than 2,500 chars")
    tally.shapes[p["shape"]] += 1
    tally.sources[p["source"].split(":")[0]] += 1
    marked = md_strip(p["text"], html=False) != p["text"]
    want = "markdown" if ("\n\n" in p["text"].strip("\n") or marked) else "text"
    if p["shape"] != want:
        fail(f"{co}: page {p['url']} shape {p['shape']} but looks like {want}")
    twin = p["syndicated_with"]
    if twin and twin not in texts:
        fail(f"{co}: syndicated twin {twin} not among the company's pages")
    elif twin:
        a, b = p["text"], texts[twin]
        m = SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b))
        if m.size < 300:
            fail(f"{co}: syndicated pair shares only {m.size} chars: {p['url']}")
    if ".github.io" in p["url"]:
        tally.github_io.append((co, p["url"]))
    if re.search(r"debt-financing[^/]*\.html", p["url"]):
        tally.debt_financing.append((co, p["url"]))


def check_evidence(co, ev, texts, tally):
    if not 5 <= len(ev) <= 12:
        fail(f"{co}: {len(ev)} evidence sentences (want 5-12)")
    tally.evidence += len(ev)
    for e in ev:
        if e["url"] not in texts:
            fail(f"{co}: evidence url not a company page: {e['url']}")
        elif e["sentence"] not in texts[e["url"]]:
            fail(f"{co}: evidence not a substring of its page: {e['sentence'][:70]!r}")
        if nwords(e["sentence"]) < 8:
            fail(f"{co}: evidence shorter than 8 words: {e['sentence']!r}")


def check_quote(co, q, texts, tally):
    tally.quotes += 1
    kind, quote, url = q["kind"], q["quote"], q["url"]
    tally.kinds[kind] += 1
    if url not in texts:
        fail(f"{co}: quote url not a company page: {url}")
        return
    exp = "accept" if kind in ACCEPT else "reject" if kind in REJECT else None
    if exp is None or q["expect"] != exp:
        fail(f"{co}: bad kind/expect {kind}/{q['expect']}")
        return
    if kind in ACCEPT:
        why = check_accept(kind, quote, texts[url])
        if why:
            fail(f"{co}: {kind} quote fails ({why}): {quote[:70]!r}")
    elif kind in ("invented", "number_changed"):
        for u, t in texts.items():
            if quote in t or ws(quote).lower() in all_norm(t):
                fail(f"{co}: {kind} quote found on {u}: {quote[:70]!r}")
        numbered = re.search(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten)\b", quote)
        if kind == "number_changed" and not numbered:
            fail(f"{co}: number_changed quote has no number: {quote[:70]!r}")
    elif kind == "misattributed":
        if quote in texts[url] or ws(quote).lower() in all_norm(texts[url]):
            fail(f"{co}: misattributed quote is on its cited page: {quote[:70]!r}")
        if not any(quote in t for u, t in texts.items() if u != url):
            fail(f"{co}: misattributed quote not on any other page of the company: {quote[:60]!r}")


def check_totals(t):
    """What the corpus as a whole must hold."""
    wanted = [
        (t.companies >= 18, f"only {t.companies} companies (want >= 18)"),
        (t.tiers["HOT"] >= 6, f"HOT companies {t.tiers['HOT']} < 6"),
        (t.tiers["WARM"] >= 5, f"WARM companies {t.tiers['WARM']} < 5"),
        (t.tiers["COLD"] >= 6, f"COLD companies {t.tiers['COLD']} < 6"),
        (len(t.syndicated) >= 3, f"companies with syndicated pairs: {len(t.syndicated)} < 3"),
        (len(t.spellings) >= 3, f"companies named only in another spelling: {len(t.spellings)}"),
        (len(t.namesakes) >= 2, f"companies with a namesake page: {len(t.namesakes)} < 2"),
        (t.shapes["text"] and t.shapes["markdown"], "need both text- and markdown-shaped pages"),
        (bool(t.github_io), "no <company>.github.io page"),
    ]
    wanted += [(t.kinds[k] >= MIN_ACCEPT, f"accept kind {k}: {t.kinds[k]}") for k in ACCEPT]
    wanted += [(t.kinds[k] >= MIN_REJECT, f"reject kind {k}: {t.kinds[k]}") for k in REJECT]
    for ok, message in wanted:
        if not ok:
            fail(message)


def report(t):
    print(f"companies: {t.companies}  tiers: {dict(t.tiers)}")
    print(f"pages: {t.pages}  shapes: {dict(t.shapes)}  sources: {dict(t.sources)}")
    print(f"evidence sentences: {t.evidence}  quotes: {t.quotes}")
    print("quote kinds:")
    for k in ACCEPT + REJECT:
        print(f"  {k:18s} {t.kinds[k]:3d}  ({'accept' if k in ACCEPT else 'reject'})")
    print(f"syndicated pairs in: {t.syndicated}")
    print(f"namesake pages in: {t.namesakes}")
    print(f"other-spelling-only pages: {t.spellings}")
    print(f"github.io pages: {t.github_io}")
    if not t.debt_financing:
        print("WARN: no page url matching '-debt-financing...html' (none in the stored pages)")


def main():
    tally = Tally()
    for fn in sorted(glob.glob(os.path.join(HERE, "*.json"))):
        with open(fn, encoding="utf-8") as f:
            check_company(os.path.basename(fn)[:-5], json.load(f), tally)
    check_totals(tally)
    report(tally)
    if errors:
        print(f"\nFAILED: {len(errors)} problem(s)")
        for e in errors:
            print("  -", e)
        sys.exit(1)
    print("\nOK: all checks passed")


if __name__ == "__main__":
    main()

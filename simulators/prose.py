"""Neutral filler prose and off-topic pages for the simulated web.

Nothing here may contain GPU/ML/AI/model/inference/hiring/headcount/funding wording next to a
company name: filler must never change how the LLM simulator scores a company.
"""

from __future__ import annotations

import random
from typing import Any

FILLER_TEMPLATES = (
    "In {year}, {name} {milestone}.",
    "{name} {community} in {city}.",
    "Staff at {name} {culture}.",
    "A spokesperson for {name} said the company {plan}.",
    "{name} {customer}.",
    "The leadership team at {name} {leadership}.",
    "According to {source}, {name} {market}.",
    "Visitors to the {name} offices in {city} {visitors}.",
    "{name} {sustainability}.",
    "Over the past year {name} {milestone}.",
)
FILLER_SLOTS = {
    "milestone": (
        "moved into a larger office",
        "refreshed its brand and website",
        "signed a long lease on a second site",
        "celebrated a company anniversary with customers",
        "appointed a new chief financial officer",
        "published its first annual impact report",
        "opened a customer briefing centre",
        "simplified its pricing",
    ),
    "community": (
        "sponsors a youth football league",
        "runs a volunteering day every quarter",
        "supports a food bank",
        "hosts evening meetups for local founders",
        "donates to a city arts festival",
        "mentors students at a nearby college",
    ),
    "culture": (
        "get two volunteering days a year",
        "can work from home on Fridays",
        "share lunch together every Thursday",
        "organise a charity bike ride each summer",
        "run a weekly book club",
        "vote on which charity the company supports",
    ),
    "plan": (
        "plans to open another office next year",
        "is focused on serving existing customers well",
        "intends to stay independent",
        "will keep investing in customer support",
        "is looking at partnerships in neighbouring markets",
        "expects steady growth this year",
    ),
    "customer": (
        "says most new customers arrive through referrals",
        "keeps a customer advisory board that meets twice a year",
        "publishes customer stories on its website",
        "offers onboarding sessions for new customers",
        "reports that customer retention improved last year",
        "runs an annual customer conference",
    ),
    "leadership": (
        "meets with customers every month",
        "includes two of the original founders",
        "publishes a quarterly letter to partners",
        "was expanded with a new operations director",
        "holds an open question session every week",
    ),
    "source": (
        "a local business journal",
        "an industry newsletter",
        "a trade association survey",
        "a regional chamber of commerce",
        "a market research firm",
    ),
    "market": (
        "is one of the better known names in its market",
        "competes mainly on service and reliability",
        "has grown faster than most of its local peers",
        "enjoys a strong reputation with its customers",
        "is expanding carefully into new regions",
    ),
    "visitors": (
        "are greeted by a wall of customer photos",
        "often remark on the open-plan layout",
        "can see the original sign from the first premises",
        "find a small cafe on the ground floor",
    ),
    "sustainability": (
        "switched its offices to renewable electricity",
        "aims to halve its waste by the end of the decade",
        "offsets business travel through a certified scheme",
        "replaced its company cars with electric vehicles",
    ),
}
BOILERPLATE = (
    "Subscribe to our newsletter for weekly updates.",
    "This article was updated to correct a date.",
    "Share this page with a colleague.",
    "Cookies help us improve this site; you can change your preferences at any time.",
    "Photos are provided by the company unless otherwise noted.",
    "Reporting by the newsroom staff; editing by the business desk.",
    "Comments are closed for this article.",
    "All trademarks belong to their respective owners.",
)

# Off-topic pages: each shares one word with typical company-research queries, which is why a
# search engine returns it at low relevance. None mentions any company.
OFF_TOPIC_PAGES = (
    (
        "puppy training",
        "dog-training-corner.example",
        "Puppy training basics: sit, stay and come",
        (
            "Short sessions of five minutes work better than long ones for young dogs.",
            "Reward the behaviour you want with a small treat and calm praise.",
            "Practise recall in a quiet garden before trying it at the park.",
            "Consistency matters more than any particular method.",
            "Crate training gives a puppy a safe place to rest.",
            "Socialise your puppy with other vaccinated dogs early on.",
        ),
    ),
    (
        "bread baking",
        "crumb-and-crust.example",
        "How to compute the right hydration for sourdough",
        (
            "Hydration is the weight of water divided by the weight of flour.",
            "A beginner loaf at seventy percent hydration is easy to shape.",
            "Wholemeal flour absorbs more water than white flour.",
            "Feed your starter the night before you bake.",
            "A cold overnight rise improves flavour and makes scoring easier.",
            "Bake in a preheated pot with the lid on for the first twenty minutes.",
        ),
    ),
    (
        "balcony gardening",
        "greenthumb-gardening.example",
        "Growing tomatoes on a balcony: an unrelated gardening guide",
        (
            "Choose a compact variety that is happy in a large pot.",
            "Tomatoes want at least six hours of direct sun each day.",
            "Water deeply and regularly to prevent split fruit.",
            "Pinch out side shoots on cordon varieties.",
            "Feed with a high-potash fertiliser once the first flowers appear.",
            "Harvest when the fruit is fully coloured and slightly soft.",
        ),
    ),
    (
        "community gardens",
        "allotment-news.example",
        "Community garden funding: how one village paid for its orchard",
        (
            "The village held a plant sale and a summer fete to pay for fruit trees.",
            "Volunteers planted twenty heritage apple trees in a single weekend.",
            "A small grant covered fencing and a water butt.",
            "Children from the local school help with the autumn harvest.",
            "The orchard now hosts a cider-pressing day every October.",
            "Neighbours share the work on a simple weekly rota.",
        ),
    ),
    (
        "sewing",
        "stitch-and-hem.example",
        "Choosing a sewing machine for beginners",
        (
            "A basic mechanical machine is reliable and easy to service.",
            "Look for an adjustable stitch length and a buttonhole foot.",
            "Heavier machines vibrate less when sewing thick fabric.",
            "Practise straight lines on paper before moving to cotton.",
            "Change the needle after every project to avoid skipped stitches.",
            "Oil the machine lightly according to the manual.",
        ),
    ),
    (
        "gaming hardware",
        "pixel-bargains.example",
        "Used gaming GPU buyer's guide",
        (
            "A second-hand graphics card can be a bargain if you test it first.",
            "Ask the seller for a benchmark run and check the temperatures.",
            "Cards used for cryptocurrency mining may have worn fans.",
            "Make sure your power supply has the right connectors.",
            "Check that the card fits the length of your case.",
            "Budget cards still run most popular games at high settings.",
        ),
    ),
    (
        "rural broadband",
        "village-connect.example",
        "Rural broadband infrastructure explained for households",
        (
            "Fibre to the premises offers the most reliable rural connection.",
            "Fixed wireless can reach farms far from the nearest cabinet.",
            "Satellite services have improved but still suffer in heavy rain.",
            "Community schemes can pool vouchers to bring fibre to a village.",
            "Check the upload speed as well as the download speed.",
            "A mesh router helps cover thick-walled farmhouses.",
        ),
    ),
    (
        "statistics homework",
        "study-buddy-maths.example",
        "Statistics homework help: inference for beginners",
        (
            "A confidence interval gives a range of plausible values for a mean.",
            "The p-value is not the probability that the hypothesis is true.",
            "Larger samples give narrower intervals.",
            "Always plot your data before running a test.",
            "State the null hypothesis before you look at the results.",
            "Check whether your observations are independent.",
        ),
    ),
    (
        "birdwatching",
        "hedgerow-birds.example",
        "Birdwatching for beginners: ten common garden birds",
        (
            "Robins are often the first birds to sing in the morning.",
            "Blue tits visit feeders in small noisy groups.",
            "A pair of eight-times binoculars is ideal for the garden.",
            "Keep a notebook of what you see and when.",
            "Clean feeders regularly to stop disease spreading.",
            "Autumn brings flocks of visiting thrushes.",
        ),
    ),
    (
        "weeknight cooking",
        "supper-in-twenty.example",
        "Weeknight lentil soup recipe",
        (
            "Soften an onion, a carrot and a stick of celery in olive oil.",
            "Add red lentils, stock and a tin of chopped tomatoes.",
            "Simmer for twenty minutes until the lentils collapse.",
            "Season with cumin, lemon juice and plenty of black pepper.",
            "Blend half the soup for a thicker texture.",
            "Serve with warm flatbread and a spoonful of yoghurt.",
        ),
    ),
)


# What `filler_sentence` draws once it has decided against boilerplate, in this order: a
# template, an option for every slot (used by the template or not), then a year. Each with
# the number of choices and its bit length.
_SENTENCE_DRAWS = tuple(
    (key, options, len(options), len(options).bit_length())
    for key, options in (
        ("template", FILLER_TEMPLATES),
        *FILLER_SLOTS.items(),
        ("year", range(2015, 2026)),
    )
)


def filler_sentence(rng: random.Random, name: str, city: str) -> str:
    """One neutral sentence about the company (or site boilerplate)."""
    if rng.random() < 0.12:
        return rng.choice(BOILERPLATE)
    # Each draw is rng.choice(options) spelt out, the year's rng.randrange(2015, 2026) too: the
    # getrandbits calls of Random._randbelow, so every page keeps its text, without two Python
    # calls per draw (which made this the busiest function of the simulators).
    getrandbits = rng.getrandbits
    words: dict[str, Any] = {}
    for key, options, count, bits in _SENTENCE_DRAWS:
        index = getrandbits(bits)
        while index >= count:
            index = getrandbits(bits)
        words[key] = options[index]
    return str(words["template"]).format(name=name, city=city, **words)


def filler_paragraphs(
    rng: random.Random, name: str, city: str, extra: tuple[str, ...], target_chars: int
) -> list[str]:
    """Neutral paragraphs (2-4 sentences each) totalling at least `target_chars`."""
    paragraphs: list[str] = []
    pending = list(extra)
    total = 0
    while total < target_chars:
        sentences = []
        for _ in range(rng.randrange(2, 5)):
            if pending and rng.random() < 0.5:
                sentences.append(pending.pop(0).format(name=name))
            else:
                sentences.append(filler_sentence(rng, name, city))
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        total += len(paragraph) + 2
    return paragraphs

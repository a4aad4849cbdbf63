"""Industries of WARM companies: they use ML in the product, mostly through managed services.

Their phrases never mention specific GPU models, clusters, "train ... model", pre-training
or foundation models (see the wording rules in industries/__init__.py).
"""

from __future__ import annotations

from simulators.industries.model import Industry

WARM_INDUSTRIES = (
    Industry(
        key="retail_analytics",
        tier="WARM",
        suffixes=("Analytics", "Insights"),
        what="provides demand-forecasting software for mid-sized retailers",
        customers="regional grocery and fashion chains",
        ml_focus="machine learning to forecast store-level demand",
        task="summarise store managers' weekly notes",
        experiment="overnight demand-forecasting batch jobs",
        business=(
            "{name} dashboards show retailers which products will sell out next week.",
            "{name} connects to most popular point-of-sale systems.",
            "Retailers typically roll out {name} one region at a time.",
            "{name} charges a monthly fee per store.",
        ),
    ),
    Industry(
        key="health_scheduling",
        tier="WARM",
        suffixes=("Health", "Care"),
        what="makes patient-scheduling and billing software for clinics",
        customers="independent clinics and physiotherapy practices",
        ml_focus="machine learning to predict missed appointments",
        task="draft appointment reminders",
        experiment="a pilot that transcribes clinicians' dictated notes",
        business=(
            "{name} sends appointment reminders by text message and email.",
            "Clinics use {name} to handle insurance billing and patient payments.",
            "{name} is used in more than two thousand practices.",
            "{name} offers onboarding support for every new clinic.",
        ),
    ),
    Industry(
        key="insurtech",
        tier="WARM",
        suffixes=("Insurance", "Assurance"),
        what="sells digital home and renters insurance",
        customers="renters and first-time home buyers",
        ml_focus="machine learning to triage claims photos",
        task="summarise claim descriptions for adjusters",
        experiment="batch scoring of claims photos",
        business=(
            "{name} lets customers buy a policy in a few minutes on their phone.",
            "{name} pays most small claims within two days.",
            "{name} is licensed to sell insurance in a growing number of states.",
            "{name} partners with property managers to offer renters cover at move-in.",
        ),
    ),
    Industry(
        key="ecommerce",
        tier="WARM",
        suffixes=("Commerce", "Marketplace"),
        what="runs an online marketplace for independent home-goods brands",
        customers="independent brands and design-conscious shoppers",
        ml_focus="machine learning recommendations to personalise product feeds",
        task="write product descriptions from sellers' notes",
        experiment="image-similarity search for its catalogue",
        business=(
            "{name} lists products from more than three thousand independent brands.",
            "{name} handles payments and returns on behalf of its sellers.",
            "{name} runs seasonal gift guides curated by its editors.",
            "{name} ships to customers in twelve countries.",
        ),
    ),
    Industry(
        key="payments",
        tier="WARM",
        suffixes=("Payments", "Pay"),
        what="processes payments for subscription businesses",
        customers="software companies and online publishers",
        ml_focus="machine learning to flag fraudulent transactions",
        task="classify merchants' support requests",
        experiment="fraud-score backtests on historical transactions",
        business=(
            "{name} supports card payments, bank transfers and digital wallets.",
            "{name} handles failed-payment recovery for subscription merchants.",
            "{name} is regulated as a payment institution.",
            "Merchants connect to {name} through a single programmable interface.",
        ),
    ),
    Industry(
        key="support_saas",
        tier="WARM",
        suffixes=("Software", "Support"),
        what="builds customer-support software for online retailers",
        customers="online retailers and direct-to-consumer brands",
        ml_focus="an AI assistant that drafts replies to support tickets",
        task="tag incoming support tickets by topic",
        experiment="reply-drafting experiments on historical tickets",
        business=(
            "{name} brings email, chat and social messages into one inbox.",
            "{name} integrates with the most common online store platforms.",
            "Support teams use {name} reports to track response times.",
            "{name} prices its plans by the number of support agents.",
        ),
    ),
    Industry(
        key="media",
        tier="WARM",
        suffixes=("Media", "Publishing"),
        what="publishes niche consumer magazines and newsletters",
        customers="readers and advertisers in hobby and travel markets",
        ml_focus="machine learning to personalise newsletter recommendations",
        task="suggest headlines for newsletter editions",
        experiment="automatic tagging of its article archive",
        business=(
            "{name} publishes eleven titles in print and online.",
            "{name} earns most of its revenue from subscriptions and events.",
            "{name} newsletters reach more than a million readers each week.",
            "{name} runs a yearly travel awards programme.",
        ),
    ),
)

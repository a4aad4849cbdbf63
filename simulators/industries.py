"""The fictional industries companies belong to, with the phrases their web pages use.

Wording rules that keep the LLM simulator's keyword scoring aligned with each tier:
WARM and COLD phrases never mention specific GPU models, clusters, "train ... model",
pre-training or foundation models; COLD phrases never mention GPUs, ML, AI, models,
inference or "infrastructure".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Industry:
    """What a company does and the industry-specific phrases its pages are written from."""

    key: str
    tier: str
    suffixes: tuple[str, ...]
    what: str
    customers: str
    ml_focus: str = ""
    task: str = ""
    experiment: str = ""
    hiring_roles: str = ""
    tools: str = ""
    business: tuple[str, ...] = ()


HOT_INDUSTRIES = (
    Industry(
        key="robotics",
        tier="HOT",
        suffixes=("Robotics", "Robotic Systems"),
        what="builds autonomous mobile robots for warehouses and factories",
        customers="third-party logistics providers and large retailers",
        ml_focus="vision-language-action models that let its robots handle unfamiliar items",
        task="its robot fleet",
        business=(
            "{name} robots are deployed in more than forty distribution centres.",
            "Customers lease {name} robots on multi-year contracts that include maintenance.",
            "The {name} fleet-management console shows every robot's battery and task queue.",
            "{name} assembles its robots in a plant that opened two years ago.",
        ),
    ),
    Industry(
        key="foundation_models",
        tier="HOT",
        suffixes=("AI", "Labs"),
        what="develops large language models for enterprise knowledge work",
        customers="banks, insurers and government agencies",
        ml_focus="multilingual foundation models with up to 70 billion parameters",
        task="its model family",
        business=(
            "{name} sells annual subscriptions priced by seat and by usage.",
            "Enterprise customers deploy {name} software inside their own private networks.",
            "{name} publishes evaluation reports for every release of its products.",
            "The {name} developer platform has a free tier for small teams.",
        ),
    ),
    Industry(
        key="drug_discovery",
        tier="HOT",
        suffixes=("Bio", "Therapeutics"),
        what="designs new medicines with generative protein design software",
        customers="large pharmaceutical partners",
        ml_focus="protein language models on billions of protein sequences",
        task="its drug-design platform",
        business=(
            "{name} has three programmes in preclinical development.",
            "{name} runs its own wet lab to test the molecules its software proposes.",
            "Pharmaceutical partners pay {name} milestone fees as candidates advance.",
            "{name} signed its largest research partnership earlier this year.",
        ),
    ),
    Industry(
        key="autonomy",
        tier="HOT",
        suffixes=("Autonomy", "Driving"),
        what="develops self-driving software for long-haul trucks",
        customers="national freight carriers",
        ml_focus="end-to-end driving models on millions of miles of sensor data",
        task="its autonomous trucking network",
        business=(
            "{name} operates test routes between three major freight hubs.",
            "{name} partners with truck makers to install its sensor kits at the factory.",
            "Every {name} truck still carries a safety driver on public roads.",
            "{name} recently expanded its operations centre to monitor more routes.",
        ),
    ),
    Industry(
        key="generative_media",
        tier="HOT",
        suffixes=("Vision", "Imaging"),
        what="builds generative video and image tools for studios and advertisers",
        customers="film studios, game developers and advertising agencies",
        ml_focus="diffusion models for high-resolution video generation",
        task="its video generation service",
        business=(
            "{name} counts several animation studios among its earliest customers.",
            "Advertising agencies use {name} tools to produce campaign variations quickly.",
            "{name} offers a web editor as well as a programmable interface.",
            "{name} licenses its stock library from photographers and illustrators.",
        ),
    ),
    Industry(
        key="speech",
        tier="HOT",
        suffixes=("Voice", "Intelligence"),
        what="builds real-time speech recognition and voice synthesis",
        customers="contact centres, carmakers and media companies",
        ml_focus="speech foundation models covering forty languages",
        task="its speech platform",
        business=(
            "{name} transcribes calls for contact centres in real time.",
            "Carmakers embed {name} voice technology in their dashboards.",
            "{name} offers custom voices for broadcasters and audiobook publishers.",
            "{name} supports streaming and batch transcription for its customers.",
        ),
    ),
    Industry(
        key="ai_cloud",
        tier="HOT",
        suffixes=("Compute", "Cloud"),
        what="operates a specialised cloud for AI developers",
        customers="AI startups and university research groups",
        ml_focus="its own code-generation models for customers' developer tools",
        task="its data centre footprint",
        business=(
            "{name} leases space in data centres close to cheap renewable power.",
            "{name} sells capacity on monthly and multi-year reserved contracts.",
            "Customers reach {name} support engineers around the clock.",
            "{name} opened a second data centre region this year.",
        ),
    ),
)

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

COLD_INDUSTRIES = (
    Industry(
        key="bakery",
        tier="COLD",
        suffixes=("Bakery", "Bakehouse"),
        what="operates a chain of neighbourhood bakeries and cafes",
        customers="local families and office caterers",
        hiring_roles="bakers, delivery drivers and counter staff",
        tools="a point-of-sale system, spreadsheets and an off-the-shelf accounting package",
        business=(
            "{name} bakes its bread overnight in a central kitchen.",
            "{name} is known for its sourdough loaves and seasonal pastries.",
            "{name} supplies sandwiches to several offices and schools.",
            "{name} opened its newest shop on a busy high street last spring.",
        ),
    ),
    Industry(
        key="law",
        tier="COLD",
        suffixes=("Law Partners", "Legal"),
        what="is a law firm specialising in commercial property and employment law",
        customers="regional businesses and landlords",
        hiring_roles="paralegals, trainee solicitors and legal secretaries",
        tools="a case-management package, email and a document archive",
        business=(
            "{name} advises landlords on commercial leases.",
            "{name} represents employers at employment tribunals.",
            "{name} partners regularly speak at local business breakfasts.",
            "{name} was recognised in a regional legal directory this year.",
        ),
    ),
    Industry(
        key="freight",
        tier="COLD",
        suffixes=("Freight", "Haulage"),
        what="runs regional trucking and warehousing services",
        customers="manufacturers and grocery wholesalers",
        hiring_roles="truck drivers, forklift operators and warehouse supervisors",
        tools="a route-planning package, paper delivery notes and spreadsheets",
        business=(
            "{name} operates a fleet of curtain-side trailers and refrigerated vans.",
            "{name} runs two cross-dock warehouses near the motorway.",
            "{name} delivers to supermarkets six days a week.",
            "{name} recently added electric vans for city deliveries.",
        ),
    ),
    Industry(
        key="plumbing",
        tier="COLD",
        suffixes=("Plumbing Supply", "Pipe & Fitting"),
        what="distributes plumbing and heating supplies to contractors",
        customers="plumbers, heating engineers and builders",
        hiring_roles="counter staff, van drivers and branch managers",
        tools="a stock-control package, a trade counter and phone orders",
        business=(
            "{name} stocks boilers, radiators, pipes and fittings.",
            "{name} branches open early for trade customers.",
            "{name} offers next-day delivery to building sites.",
            "{name} runs product demonstrations with boiler manufacturers.",
        ),
    ),
    Industry(
        key="dental",
        tier="COLD",
        suffixes=("Dental Group", "Dental Care"),
        what="operates family dental clinics",
        customers="families and local employers",
        hiring_roles="dentists, dental nurses and receptionists",
        tools="appointment books, a practice-management package and card terminals",
        business=(
            "{name} clinics offer check-ups, fillings and orthodontics.",
            "{name} accepts most dental insurance plans.",
            "{name} opened a children's clinic with longer appointments.",
            "{name} runs free dental-care sessions at local schools.",
        ),
    ),
    Industry(
        key="construction",
        tier="COLD",
        suffixes=("Builders", "Construction"),
        what="is a general contractor building schools, warehouses and housing",
        customers="councils, housing associations and developers",
        hiring_roles="site managers, carpenters and quantity surveyors",
        tools="project spreadsheets, site diaries and a tendering package",
        business=(
            "{name} completed a new primary school ahead of schedule this year.",
            "{name} employs its own carpenters and bricklayers.",
            "{name} has a strong record on site safety.",
            "{name} works on projects within a hundred miles of its yard.",
        ),
    ),
    Industry(
        key="furniture",
        tier="COLD",
        suffixes=("Furniture", "Woodworks"),
        what="makes and sells solid-wood furniture",
        customers="homeowners and boutique hotels",
        hiring_roles="cabinet makers, upholsterers and showroom staff",
        tools="a showroom till, order books and an online shop",
        business=(
            "{name} builds its tables from sustainably sourced oak and walnut.",
            "{name} runs showrooms in three towns.",
            "{name} offers free delivery and assembly on larger orders.",
            "{name} restores antique furniture for private clients.",
        ),
    ),
    Industry(
        key="landscaping",
        tier="COLD",
        suffixes=("Landscaping", "Grounds Care"),
        what="designs and maintains gardens and grounds",
        customers="homeowners, schools and business parks",
        hiring_roles="gardeners, tree surgeons and crew leaders",
        tools="a scheduling whiteboard, a booking phone line and invoices by email",
        business=(
            "{name} crews mow, prune and plant from March to November.",
            "{name} builds patios, fences and raised beds.",
            "{name} maintains the grounds of several business parks.",
            "{name} offers winter gritting for commercial sites.",
        ),
    ),
    Industry(
        key="brewing",
        tier="COLD",
        suffixes=("Brewing", "Brewery"),
        what="brews and distributes craft beer",
        customers="pubs, restaurants and bottle shops",
        hiring_roles="brewers, cellar staff and delivery drivers",
        tools="a brewhouse logbook, a stock spreadsheet and a delivery van rota",
        business=(
            "{name} brews a core range of five beers plus seasonal specials.",
            "{name} runs a taproom next to its brewhouse.",
            "{name} delivers kegs to pubs across the region.",
            "{name} won a regional award for its pale ale.",
        ),
    ),
    Industry(
        key="accounting",
        tier="COLD",
        suffixes=("Accounting", "Tax Advisors"),
        what="provides bookkeeping, payroll and tax services to small businesses",
        customers="sole traders, shops and family businesses",
        hiring_roles="bookkeepers, payroll clerks and tax assistants",
        tools="desktop accounting packages, email and a filing room",
        business=(
            "{name} prepares annual accounts and tax returns for its clients.",
            "{name} runs payroll for more than three hundred small employers.",
            "{name} offers fixed monthly fees for bookkeeping.",
            "{name} hosts tax-deadline workshops every January.",
        ),
    ),
)

INDUSTRIES = HOT_INDUSTRIES + WARM_INDUSTRIES + COLD_INDUSTRIES
INDUSTRIES_BY_TIER = {"HOT": HOT_INDUSTRIES, "WARM": WARM_INDUSTRIES, "COLD": COLD_INDUSTRIES}
INDUSTRY_BY_KEY = {industry.key: industry for industry in INDUSTRIES}

"""Industries of HOT companies: they train or serve models on GPUs of their own.

Their phrases may name GPU models, clusters and training (see the wording rules in
industries/__init__.py).
"""

from __future__ import annotations

from simulators.industries.model import Industry

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

"""Industries of COLD companies: ordinary businesses with no need for GPU compute.

Their phrases never mention GPUs, ML, AI, models, inference or "infrastructure" (see the
wording rules in industries/__init__.py).
"""

from __future__ import annotations

from simulators.industries.model import Industry

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

"""Who posts in a demo account: the brand, as customers mention it, and its customers.

Customers get names from ``data/words.yaml`` and handles in each platform's shape; some come back
with a new complaint.

Imports ``auditor.demo.draw``, ``auditor.demo.ids``, ``auditor.demo.plan`` and
``auditor.demo.texts``; nothing else of the project.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from auditor.demo import texts
from auditor.demo.draw import pick, randint
from auditor.demo.ids import platform_user_id
from auditor.demo.plan import AccountPlan

_REPEAT_CUSTOMER_RATE = 0.15
# How many recent customers may come back; beyond it a random one is forgotten.
_RECENT_CUSTOMERS = 64


@dataclass(frozen=True, slots=True)
class Customer:
    handle: str
    author_id: str
    mention: str
    email: str


def brand_mention(plan: AccountPlan) -> str:
    """How customers address the brand in a post."""
    if plan.platform == "facebook":
        return plan.display_name.split()[0]
    if plan.platform == "mastodon":
        return "@" + plan.handle.partition("@")[0]
    return "@" + plan.handle


class Customers:
    """The customers of one account, drawn from the account's random stream."""

    def __init__(self, platform: str, rng: random.Random) -> None:
        self.platform = platform
        self.rng = rng
        self.recent: list[Customer] = []

    def next(self) -> Customer:
        """A new customer, or now and then one who posted before."""
        rng = self.rng
        if self.recent and rng.random() < _REPEAT_CUSTOMER_RATE:
            return pick(rng, self.recent)
        first, last = pick(rng, texts.FIRST_NAMES), pick(rng, texts.LAST_NAMES)
        number = randint(rng, 1, 99)
        platform = self.platform
        if platform == "x":
            handle = pick(rng, (
                f"{first}{last[0]}{number}", f"{first}_{last}", f"{first.title()}{last.title()}",
                f"real{first}{number}", f"{first}{last}{number}"
            ))[:15]  # fmt: skip
            mention = "@" + handle
        elif platform == "instagram":
            handle = pick(rng, (f"{first}.{last}", f"{first}_{last}{number}", f"{first}{number}"))
            mention = "@" + handle
        elif platform == "facebook":
            handle = f"{first.title()} {last.title()}"
            mention = first.title()
        elif platform == "mastodon":
            user = pick(rng, (first, f"{first}{number}", f"{first}_{last}"))
            handle = f"{user}@{pick(rng, texts.CUSTOMER_INSTANCES)}"
            mention = "@" + user
        else:
            handle = pick(rng, (f"{first}{last}.bsky.social", f"{first}{number}.bsky.social",
                                 f"{first}.{last}.example"))  # fmt: skip
            mention = "@" + handle
        email = f"{first}.{last}{number}@{pick(rng, texts.EMAIL_DOMAINS)}"
        customer = Customer(handle, platform_user_id(platform, handle), mention, email)
        if len(self.recent) >= _RECENT_CUSTOMERS:
            self.recent[rng.randrange(_RECENT_CUSTOMERS)] = customer
        else:
            self.recent.append(customer)
        return customer

"""A sample ``nl_purchase`` checkout link for sandbox mode, signed as Neverlose would sign it.

``reseller-bot sandbox`` prints it (and ``/shop status`` shows it), so an operator can click through an order
from the link to "Delivered" without any Neverlose account: the token is an HS256 JWT signed with the
sandbox's Market secret (the embedded simulator's), ``iss`` = ``NLRI``, valid for one hour, for the sandbox
integration and the simulator's demo customer ``darth`` (invited to CS2).
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from bot.market.models import Plan, Product
from bot.market.simulator.state import SANDBOX_INTEGRATION_ID as SANDBOX_INTEGRATION_ID  # re-exported
from bot.orders.token import ALGORITHM, ISSUER

LINK_LIFETIME = timedelta(hours=1)
DEMO_LOGIN = "darth"
DEMO_EMAIL = "darth@example.com"


def sample_claims(
    integration_id: int,
    *,
    now: datetime | None = None,
    login: str = DEMO_LOGIN,
    product: Product = Product.CS2,
    plan: Plan = Plan.DAYS_30,
) -> dict[str, object]:
    """The payload of a product purchase as Neverlose's Redirect URL carries it."""
    moment = now or datetime.now(UTC)
    issued = int(moment.timestamp())
    return {
        "iss": ISSUER,
        "iat": issued,
        "exp": issued + int(LINK_LIFETIME.total_seconds()),
        "integration_id": integration_id,
        "login": login,
        "email": DEMO_EMAIL,
        "product": product.value,
        "market": False,
        "cnt": int(plan),
        "days": plan.days,
    }


def sample_checkout_link(
    base_url: str, checkout_path: str, secret: str, integration_id: int, *, now: datetime | None = None
) -> str:
    """``<base_url><checkout_path>?nl_purchase=<JWT>`` for a CS2 30-day purchase by the demo customer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)  # the simulator's secret, whatever its length
        token = jwt.encode(sample_claims(integration_id, now=now), secret, algorithm=ALGORITHM)
    return f"{base_url.rstrip('/')}{checkout_path}?{urlencode({'nl_purchase': token})}"

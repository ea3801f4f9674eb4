"""CryptoPayProvider edges the mutation run pointed at: the per-order lock between a creation and a cancel."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.payments.cryptopay.client import CryptoPayClient
from bot.payments.cryptopay.matching import RowState
from bot.payments.cryptopay.provider import CryptoPayProvider
from bot.payments.cryptopay.simulator import FakeCryptoPayState
from bot.payments.cryptopay.store import CryptoPayStore
from tests.cryptopay.conftest import payment_request
from tests.orders.conftest import Clock


async def test_cancel_during_a_creation_waits_for_it_and_withdraws_the_new_invoice(
    cp_provider: CryptoPayProvider, cp_state: FakeCryptoPayState, cp_clock: Clock, cp_store: CryptoPayStore
) -> None:
    cp_state.faults.delay_next("createInvoice", seconds=0.3)
    starting = asyncio.create_task(cp_provider.start(payment_request(cp_clock)))
    for _ in range(100):  # until the intent is stored and createInvoice is on its way
        await asyncio.sleep(0.01)
        stored = await cp_store.get("order-1")
        if stored is not None:
            break
    assert stored is not None
    assert stored.state is RowState.CREATING
    await cp_provider.cancel("order-1")
    assert starting.done()  # the cancel waited for the creation
    start = await starting
    assert start.reference is not None
    assert cp_state.invoices == {}  # the invoice created meanwhile was deleted at Crypto Pay
    assert [m for m, _ in cp_state.request_log] == ["createInvoice", "deleteInvoice"]
    stored = await cp_store.get("order-1")
    assert stored is not None
    assert (stored.state, stored.invoice_id) == (RowState.CANCELLED, int(start.reference))


async def test_the_default_clock_is_aware_utc(
    cp_client: CryptoPayClient, cp_store: CryptoPayStore, cp_state: FakeCryptoPayState, cp_clock: Clock
) -> None:
    provider = CryptoPayProvider(cp_client, cp_store, assets=["USDT"])  # the wall clock, as in production
    try:
        request = replace(payment_request(cp_clock), expires_at=datetime.now(UTC) + timedelta(hours=1))
        start = await provider.start(request)
        assert start.reference is not None
        [fields] = [fields for method, fields in cp_state.request_log if method == "createInvoice"]
        assert 3590 <= int(fields["expires_in"]) <= 3600
    finally:
        await provider.close()

"""The Market client's own technical details (bot/market/client.py writes them in English) shown in the reader's
language (bot/market/localized.py): each detail the client writes is a ``market.detail.*`` catalog message's
English, so a client whose wording drifts from the catalog fails here; the method and status stay as written."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest

from bot.i18n.english import match
from bot.market import client
from bot.market.client import MarketClient
from bot.market.errors import MarketFailure
from bot.market.localized import detail_in
from bot.market.models import Product
from bot.market.retry import RetryPolicy
from bot.market.simulator.runner import RunningSimulator
from bot.shop.localized import push_error
from tests.i18n.leaks import english_in


def _raised(call: Callable[[], object]) -> str:
    with pytest.raises(MarketFailure) as caught:
        call()
    return str(caught.value)


def _written() -> list[str]:
    """Every fixed detail the client writes (the answer's status and body, the prices shape)."""
    interpret = client._interpret  # the client's one place that reads an answer
    cases = [
        (429, b"{}"),
        (503, b"{}"),
        (200, b"<html>"),
        (200, b"[]"),
        (200, b'{"ok": 1}'),
        (200, b'{"succ": true, "success": false}'),
        (200, b'{"success": false}'),
        (302, b'{"success": true}'),
    ]
    found = [_raised(lambda s=status, r=raw: interpret("gift-product", s, r, None)) for status, raw in cases]
    found.append(_raised(lambda: client._bool({}, "exists", "is-user-exists")))
    found.append(_raised(lambda: client._money({}, "balance", "get-balance")))
    prices = [{}, {"prices": {"30": 1}}, {"prices": {"30": {"cnt": 5}}}, {"prices": {"7": {}}}]
    found += [_raised(lambda answer=answer: client._parse_prices(Product.CS2, answer)) for answer in prices]
    return found


async def test_a_real_timeout_and_server_error_are_shown_in_russian(
    market_client: MarketClient, market_sim: RunningSimulator
) -> None:
    market_client.retry = RetryPolicy.immediate(1)
    market_client.timeout = aiohttp.ClientTimeout(total=0.05)
    market_sim.state.faults.delay_next("get-balance", seconds=1.0)
    with pytest.raises(MarketFailure) as slow:
        await market_client.get_balance()
    market_sim.state.faults.fail_next("get-balance", times=1)
    with pytest.raises(MarketFailure) as failed:
        await market_client.get_balance()
    assert detail_in(str(slow.value), "ru") == "get-balance: нет ответа вовремя"
    assert detail_in(str(failed.value), "ru") == "get-balance: ошибка сервера (HTTP 503)"


def test_every_detail_the_client_writes_is_a_catalog_message_shown_in_russian() -> None:
    written = _written()
    assert len(set(written)) == len(written)
    assert [text for text in written if match(text, "market.detail.") is None] == []
    shown = [detail_in(text, "ru") for text in written]
    assert shown[1] == "gift-product: ошибка сервера (HTTP 503)"
    assert shown[0] == "gift-product: слишком много запросов (HTTP 429)"
    assert {text: english_in(text) for text in shown if english_in(text)} == {}
    assert [detail_in(text, "en") for text in written] == written


def test_the_last_push_error_shows_the_detail_in_russian_and_the_markets_words_as_written() -> None:
    assert push_error("Neverlose unreachable: set-reseller-prices: server error (HTTP 503)", "ru") == (
        "Neverlose недоступен: set-reseller-prices: ошибка сервера (HTTP 503)"
    )
    assert push_error("Neverlose unreachable: set-reseller-prices: ClientOSError: [Errno 104] reset", "ru") == (
        "Neverlose недоступен: set-reseller-prices: ClientOSError: [Errno 104] reset"  # aiohttp's own words
    )
    assert push_error("Neverlose refused: bad prices: timed out", "ru") == "Neverlose отказал: bad prices: timed out"

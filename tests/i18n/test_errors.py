"""The one error handler (bot/staff/errors.py) in the member's language."""

from __future__ import annotations


def test_the_error_handler_answers_in_the_members_language() -> None:
    from bot.market.errors import MarketUnavailable
    from bot.staff.errors import NotStaff, render_error

    assert render_error(NotStaff(), locale="ru").text.startswith("Это доступно только сотрудникам.")
    assert render_error(NotStaff(), locale="en").text.startswith("Only staff can use this.")
    spending = render_error(MarketUnavailable("timeout"), spending=True, locale="ru").text
    assert spending.startswith("Neverlose сейчас недоступен. Операция записана")
    unexpected = render_error(RuntimeError("secret"), locale="ru")
    assert unexpected.text == f"На нашей стороне что-то пошло не так. Код `{unexpected.reference}`; " + (
        "сотрудники найдут его в журнале бота."
    )

"""ccxt changes its caller's decimal context; each test still starts in the default one.

ccxt's ``decimal_to_precision`` (behind every ``price_to_precision``/``amount_to_precision``)
sets the thread's current context to ROUND_HALF_UP with Underflow trapped and leaves it so. The
first test pins that behaviour of the ccxt we ship; the second, run after it in this module, is
what eip.testing.plugin's ``default_decimal_context`` guarantees to every test.
"""

from __future__ import annotations

import decimal

from ccxt.base.decimal_to_precision import ROUND, TRUNCATE, decimal_to_precision


def test_ccxt_leaves_its_rounding_in_the_callers_decimal_context() -> None:
    assert decimal.getcontext().rounding == decimal.ROUND_HALF_EVEN
    assert decimal_to_precision("0.125", ROUND, 2) == "0.13"
    assert decimal_to_precision("1.99", TRUNCATE, 1) == "1.9"
    assert decimal.getcontext().rounding == decimal.ROUND_HALF_UP
    assert decimal.getcontext().traps[decimal.Underflow]


def test_the_next_test_starts_in_the_default_decimal_context() -> None:
    context = decimal.getcontext()
    assert context.rounding == decimal.ROUND_HALF_EVEN
    assert not context.traps[decimal.Underflow]
    assert context.prec == 28
    assert decimal.Decimal(1) / 3 * 3 == decimal.Decimal("0.9999999999999999999999999999")
    assert +decimal.Decimal("2.5000000000000000000000000005") == decimal.Decimal(
        "2.500000000000000000000000000"
    )

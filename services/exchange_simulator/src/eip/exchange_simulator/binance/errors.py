"""Binance's error shape: an HTTP status and ``{"code": <negative int>, "msg": "..."}``."""

from __future__ import annotations

from typing import Any

from eip.exchange_simulator.core.orders import Rejection


class BinanceError(Exception):
    def __init__(
        self,
        status: int,
        code: int,
        msg: str,
        headers: dict[str, str] | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg
        self.headers = headers or {}
        self.data = data

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "msg": self.msg}
        if self.data is not None:
            body["data"] = self.data
        return body


def mandatory(name: str) -> BinanceError:
    return BinanceError(
        400,
        -1102,
        f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
    )


def either(first: str, second: str) -> BinanceError:
    return BinanceError(
        400, -1102, f"Param '{first}' or '{second}' must be sent, but both were empty/null!"
    )


def invalid(name: str) -> BinanceError:
    return BinanceError(400, -1130, f"Data sent for parameter '{name}' is not valid.")


def not_required(name: str) -> BinanceError:
    return BinanceError(400, -1106, f"Parameter '{name}' sent when not required.")


BAD_SYMBOL = (400, -1121, "Invalid symbol.")
UNKNOWN_ORDER_CANCEL = (400, -2011, "Unknown order sent.")
NO_SUCH_ORDER = (400, -2013, "Order does not exist.")
UNKNOWN_LIST_CANCEL = (400, -2011, "Unknown order list sent.")
NO_SUCH_LIST = (400, -2013, "Order list does not exist.")
AMEND_REJECTED = -2038  # ORDER_AMEND_REJECTED
BAD_SIGNATURE = (400, -1022, "Signature for this request is not valid.")
BAD_API_KEY_FORMAT = (401, -2014, "API-key format invalid.")
REJECTED_KEY = (401, -2015, "Invalid API-key, IP, or permissions for action.")


def error(spec: tuple[int, int, str]) -> BinanceError:
    return BinanceError(*spec)


def from_rejection(rejection: Rejection) -> BinanceError:
    """The core's reasons in Binance's codes: filter failures are -1013, the rest -2010."""
    if rejection.reason == "filter":
        return BinanceError(400, -1013, f"Filter failure: {rejection.message}")
    if rejection.reason == "unknown_symbol":
        return error(BAD_SYMBOL)
    if rejection.reason == "unknown_order":
        return error(UNKNOWN_ORDER_CANCEL)
    if rejection.reason == "unknown_list":
        return error(UNKNOWN_LIST_CANCEL)
    if rejection.reason in ("quantity_below_executed", "invalid_amend"):
        return BinanceError(400, AMEND_REJECTED, rejection.message)
    if rejection.reason == "invalid_list":
        return BinanceError(400, -1128, rejection.message)
    return BinanceError(400, -2010, rejection.message)

"""Money as integer minor units: no floats anywhere near a ledger."""

from decimal import Decimal, InvalidOperation


def to_minor_units(amount: str) -> int:
    """'12.34' -> 1234. Raises ValueError for anything that is not a positive amount."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise ValueError(f"not an amount: {amount!r}") from None
    if value <= 0 or value.as_tuple().exponent < -2:
        raise ValueError(f"amount must be positive with at most two decimals: {amount!r}")
    return int(value * 100)


def format_minor_units(pence: int, currency: str) -> str:
    return f"{currency} {pence // 100}.{pence % 100:02d}"

"""Argument checks shared by the analytics functions: float arrays, bounds, shapes.

Every check raises `orchestrator.errors.ConfigError` (a `ValueError`) whose message names the
argument, the rule, the offending value and, for arrays, its index, for example
``holding_cost must be > 0, got -1.0 at index 3``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from orchestrator.errors import ConfigError

Bound = Literal["positive", "nonnegative", "any", "probability"]

_RULES: dict[Bound, str] = {
    "positive": "must be > 0",
    "nonnegative": "must be >= 0",
    "any": "must be finite",
    "probability": "must be strictly between 0 and 1",
}


def _where(array: npt.NDArray[np.float64], bad: npt.NDArray[np.bool_]) -> tuple[float, str]:
    index = np.argwhere(bad)[0]
    value = float(array[tuple(index)])
    if array.ndim == 0:
        return value, ""
    if array.ndim == 1:
        return value, f" at index {int(index[0])}"
    return value, f" at index {tuple(int(i) for i in index)}"


def as_float_array(name: str, value: npt.ArrayLike, bound: Bound) -> npt.NDArray[np.float64]:
    """Convert `value` to a float64 array and check it against `bound`.

    NaN is always refused; infinity is refused for every bound (a cost or a demand of infinity
    has no meaningful policy).

    Raises:
        ConfigError: `value` is not numeric, holds NaN or infinity, or breaks the bound.
    """
    _refuse_non_numbers(name, value)
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be numeric, got {value!r}") from exc
    if array.size == 0:
        return array
    # Fast path: two reductions, no temporaries (NaN propagates through min and max).
    low, high = array.min(), array.max()
    if np.isfinite(low) and np.isfinite(high):
        if bound == "any":
            return array
        if bound == "positive" and low > 0:
            return array
        if bound == "nonnegative" and low >= 0:
            return array
        if bound == "probability" and low > 0 and high < 1:
            return array
    finite = np.isfinite(array)
    if not finite.all():
        bad_value, where = _where(array, ~finite)
        raise ConfigError(f"{name} must be a finite number, got {bad_value}{where}")
    if bound == "positive":
        bad = array <= 0
    elif bound == "nonnegative":
        bad = array < 0
    elif bound == "probability":
        bad = (array <= 0) | (array >= 1)
    else:
        return array
    if bad.any():
        bad_value, where = _where(array, bad)
        raise ConfigError(f"{name} {_RULES[bound]}, got {bad_value}{where}")
    return array


def _refuse_non_numbers(name: str, value: object) -> None:
    """No text and no booleans where numbers belong: numpy would read '30' as 30 and True as 1.

    Raises:
        ConfigError: `value` is (or holds) a string, bytes or a boolean.
    """
    if _not_number(value):
        raise ConfigError(f"{name} must be numeric, got {type(value).__name__} {value!r}")
    if not isinstance(value, np.ndarray | list | tuple):
        return
    try:
        kinds = np.asarray(value).dtype
    except (TypeError, ValueError):
        return  # ragged: the float conversion names the problem
    if kinds.kind in "USb" or (
        kinds.kind == "O" and any(_not_number(v) for v in np.asarray(value).flat)
    ):
        raise ConfigError(f"{name} must be numeric (numbers only), got {kinds} values")


def _not_number(value: object) -> bool:
    return isinstance(value, str | bytes | bool | np.bool_)


def broadcast(**arrays: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], ...]:
    """Broadcast the named arrays together (in keyword order).

    Raises:
        ConfigError: the shapes do not broadcast; the message lists each argument's shape.
    """
    try:
        return tuple(np.broadcast_arrays(*arrays.values()))
    except ValueError as exc:
        shapes = ", ".join(f"{name} {a.shape}" for name, a in arrays.items())
        raise ConfigError(
            f"argument shapes do not match: {shapes}; pass scalars or arrays of one shape"
        ) from exc

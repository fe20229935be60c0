"""The ``backprop`` command's option value types: each parses one option's text or raises
``argparse.ArgumentTypeError`` saying what was expected."""

from __future__ import annotations

import argparse

from .._registry import canonical_name


def number_type(convert, minimum=None, maximum=None, *, above_minimum=False, below_maximum=False,
                 what="a number"):
    """An argparse type: ``convert(text)`` within bounds, with a message saying what is expected."""
    bounds = [f"{'>' if above_minimum else '>='} {minimum}"] if minimum is not None else []
    bounds += [f"{'<' if below_maximum else '<='} {maximum}"] if maximum is not None else []
    expected = f"{what}{' ' + ' and '.join(bounds) if bounds else ''}"

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        too_high = maximum is not None and (value >= maximum if below_maximum else value > maximum)
        too_low = minimum is not None and (value <= minimum if above_minimum else value < minimum)
        if value != value or abs(value) == float("inf") or too_low or too_high:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


positive_int = number_type(int, 1, what="an integer")


def memory_size(text: str) -> int:
    """A size such as ``500M``, ``4G`` or ``2GB`` (or bytes), as bytes."""
    units = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    cleaned = text.strip().upper().removesuffix("B").removesuffix("I")
    number, unit = (cleaned[:-1], cleaned[-1]) if cleaned[-1:] in units and cleaned[-1:] else (cleaned, "")
    try:
        value = float(number) * units[unit]
    except (ValueError, KeyError):
        raise argparse.ArgumentTypeError(f"expected a size such as 500M or 4G, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a size above 0, got {text!r}")
    return int(value)


def choice_name(text: str) -> str:
    """A named choice as the command spells its names: any case, and a hyphen or a space for an
    underscore (``Log-Loss`` is ``log_loss``, ``flat-cosine`` is ``flat_cosine``, ``R²`` is
    ``r2``), as the Python API's registries read them (:func:`~backpropagation._registry.canonical_name`)."""
    return canonical_name(text)


count = number_type(int, 0, what="an integer")
positive_float = number_type(float, 0, above_minimum=True, what="a number")
nonnegative_float = number_type(float, 0.0, what="a number")
fraction = number_type(float, 0.0, 1.0, below_maximum=True, what="a fraction")
seed = number_type(int, 0, 2**63 - 1, what="an integer seed")


def parts_of(text: str, example: str) -> list[str]:
    """The comma-separated parts of ``text``, none of them empty (``5,,5`` is a typo, not ``5,5``)."""
    parts = [part.strip() for part in text.split(",")]
    if not text.strip() or "" in parts:
        raise argparse.ArgumentTypeError(f"expected comma-separated values such as {example}, with none empty, "
                                         f"got {text!r}")
    return parts


def layers(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in parts_of(text, "64,32")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated widths such as 64,32, got {text!r}") from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"layer widths must be >= 1, got {text!r}")
    return sizes


def unit(text: str) -> tuple[int, int]:
    """``--unit LAYER:UNIT`` (both numbered from 1, as the trace numbers them)."""
    try:
        layer, number = (int(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LAYER:UNIT such as 1:2 (both from 1), got {text!r}") from None
    if layer < 1 or number < 1:
        raise argparse.ArgumentTypeError(f"layers and units are numbered from 1, got {text!r}")
    return layer, number


def delimiter(text: str) -> str:
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}
    text = named.get(text.lower(), text)
    if len(text) != 1 or text in '"\r\n':
        raise argparse.ArgumentTypeError(f"expected one character such as ';', '|' or tab, got {text!r}")
    return text


def dropout(text: str) -> list[float] | float:
    """``--dropout``: one rate, or comma-separated rates (one per hidden layer)."""
    rate = number_type(float, 0.0, 1.0, below_maximum=True, what="a rate")
    rates = [rate(part) for part in parts_of(text, "0.2 or 0.3,0.1 (one per hidden layer)")]
    return rates[0] if len(rates) == 1 else rates


def spread(text: str) -> float | tuple[float, float] | str:
    """``--periodic-sigma``: one spread, LOW,HIGH (spreads log-spaced between them, LOW <= HIGH), or
    ``auto`` (each of ``table_defaults.AUTO_SPREADS`` tried, the lower validation loss kept)."""
    if text.strip().lower() == "auto":
        return "auto"
    parts = parts_of(text, "0.1 or 0.1,3")
    for part in parts:
        try:
            float(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a spread (0.1), LOW,HIGH (0.1,3) or auto, "
                                             f"got {text!r}") from None
    values = [positive_float(part) for part in parts]
    if len(values) > 2 or len(values) == 2 and values[0] > values[1]:
        raise argparse.ArgumentTypeError(f"expected one spread or LOW,HIGH with LOW <= HIGH, got {text!r}")
    return values[0] if len(values) == 1 else (values[0], values[1])


def spread_text(spread) -> str:
    """A periodic spread as ``--periodic-sigma`` spells it: ``0.1``, ``0.1,3`` or ``auto``."""
    if isinstance(spread, str):
        return spread
    return f"{spread:g}" if isinstance(spread, float) else ",".join(f"{s:g}" for s in spread)


def port(text: str) -> int:
    port = count(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}")
    return port


def embedding(text: str) -> tuple[str, int | None]:
    """``--embed COLUMN[:DIM]``: the column, and the width (None: the default rule)."""
    name, _, width = text.rpartition(":") if ":" in text else (text, "", "")
    if not name.strip():
        raise argparse.ArgumentTypeError(f"expected a column name, optionally :DIM, got {text!r}")
    if not width:
        return name, None
    return name, positive_int(width)


#: ``--label-smoothing``: a number in [0, 1).
smoothing = number_type(float, 0.0, 1.0, below_maximum=True, what="a number")

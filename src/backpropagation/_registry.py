"""Name → class look-up shared by activations, losses, optimizers, initializers, schedules.

Each building-block module owns one :class:`Registry` and exposes a small ``get()`` and
``register()`` built on it, so that every module resolves names the same way and reports an
unknown name with the list of valid ones.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")


class Component:
    """Base of every named building block: the config that rebuilds it, and a readable repr."""

    def get_config(self) -> dict:
        """Constructor arguments that rebuild this object (saved in the model file)."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def canonical_name(text: str) -> str:
    """A name as registries keep it: lower case, words joined by underscores (``Leaky-ReLU`` and
    ``leaky relu`` are ``leaky_relu``; ``R²`` is ``r2``)."""
    return "_".join(text.strip().lower().replace("²", "2").replace("-", " ").split())


class Registry(Generic[T]):
    """Map names (as :func:`canonical_name` spells them) to factories of one base class.

    Parameters
    ----------
    kind : str
        What the registry holds ("activation", "loss", ...), used in error messages.
    base : type
        The base class that every registered class and every accepted instance derives from.
    argument : str, optional
        The argument named in error messages (default: ``kind``).

    A building-block module exposes the registry's methods as its own API:
    ``register, get, names = registry.register, registry.get, registry.names``.
    """

    def __init__(self, kind: str, base: type, argument: str | None = None) -> None:
        self.kind = kind
        self.base = base
        self.argument = argument or kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str, factory: Callable[..., T] | None = None):
        """Register ``factory`` under ``name``; usable as a class decorator."""

        def add(obj):
            key = canonical_name(name)
            if key in self._factories:
                raise ValueError(f"{self.kind} name {name!r} is already registered")
            self._factories[key] = obj
            if isinstance(obj, type) and "name" not in vars(obj):
                obj.name = key  # the registered name is the class's name: stated once
            return obj

        return add if factory is None else add(factory)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a plug-in's name, when a program or a test is done with it); KeyError if
        it is not registered."""
        key = canonical_name(name)
        if key not in self._factories:
            raise KeyError(f"{self.kind} name {name!r} is not registered")
        del self._factories[key]

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._factories)

    def get(self, identifier: Any, argument: str | None = None, **kwargs: Any) -> T:
        """Return an instance for a name (built with ``kwargs``) or pass an instance through.

        Raises
        ------
        ValueError
            If ``identifier`` is a string that names nothing registered.
        TypeError
            If ``identifier`` is neither a string nor an instance of the base class.
        """
        argument = argument or self.argument
        if isinstance(identifier, self.base):
            return identifier
        if isinstance(identifier, type) and issubclass(identifier, self.base):
            return identifier(**kwargs)
        if isinstance(identifier, str):
            key = canonical_name(identifier)
            if key not in self._factories:
                raise ValueError(
                    f"{argument}: unknown {self.kind} {identifier!r}; "
                    f"expected one of {', '.join(self.names())} or {_a(self.base.__name__)} instance"
                )
            return self._factories[key](**kwargs)
        raise TypeError(
            f"{argument}: expected {_a(self.kind)} name (str) or {_a(self.base.__name__)} instance "
            f"(subclass {self.base.__name__}), got {type(identifier).__name__}"
        )

    def name_of(self, obj: T) -> str | None:
        """The registered name whose factory is ``type(obj)``, or None."""
        for name, factory in self._factories.items():
            if factory is type(obj):
                return name
        return None


def describe(obj: Any, registry: Registry) -> dict:
    """JSON-ready description of a building block: its registered name and its config.

    Raises
    ------
    ValueError
        If the object's class is not registered, so a saved model could not be rebuilt.
    """
    # Look up the exact class: an unregistered subclass must not be saved as its parent.
    name = registry.name_of(obj)
    if name is None:
        raise ValueError(
            f"cannot save {type(obj).__name__}: register it with "
            f"backpropagation.{registry.kind}s.register(name) so that load() can rebuild it"
        )
    config = obj.get_config()
    lost = [parameter for parameter in _constructor_parameters(type(obj)) if parameter not in config]
    if lost:
        raise ValueError(
            f"cannot save {type(obj).__name__}: its constructor takes {', '.join(lost)}, which "
            f"get_config() does not return, so load() would rebuild it with the default; define "
            f"get_config() returning {{{', '.join(f'{p!r}: self.{p}' for p in lost)}}}"
        )
    return {"name": name, "config": config}


def _constructor_parameters(cls: type) -> list[str]:
    """Named parameters of ``cls.__init__`` (not ``self``, ``*args`` or ``**kwargs``)."""
    try:
        signature = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in list(signature.parameters.values())[1:] if p.kind in kinds]


def rebuild(description: dict, registry: Registry):
    """Inverse of :func:`describe`."""
    return registry.get(description["name"], **description.get("config", {}))


def _a(noun: str) -> str:
    """``noun`` with its indefinite article."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun

"""A small timm-style model registry.

Models register themselves by name when their module is imported (``fklib.models`` imports all
of them), and are built by name::

    from fklib.models import create_model, list_models
    list_models()                                   # ['deeplabv3_resnet101', 'efficientnet_lite0_unet', ...]
    model = create_model("efficientnet_lite0_unet", pretrained=True, classifier=False)

``create_model`` passes its keyword arguments straight to the registered constructor, so an
unknown keyword raises the constructor's own ``TypeError``.
"""

from __future__ import annotations

import inspect
from typing import Callable, TypeVar, overload

from torch import nn

__all__ = ["register_model", "create_model", "list_models", "is_model", "accepts", "keyword_arguments",
           "min_input_size"]

ModelFactory = Callable[..., nn.Module]
F = TypeVar("F", bound=ModelFactory)

_MODELS: dict[str, ModelFactory] = {}


def _register(name: str, factory: F) -> F:
    if not name or not isinstance(name, str):
        raise ValueError(f"model name must be a non-empty string, got {name!r}")
    if name in _MODELS and _MODELS[name] is not factory:
        raise ValueError(f"model {name!r} is already registered (by {_MODELS[name]!r})")
    _MODELS[name] = factory
    return factory


@overload
def register_model(name: F) -> F: ...
@overload
def register_model(name: str | None = None) -> Callable[[F], F]: ...


def register_model(name=None):
    """Register a model factory (a class or a function returning an ``nn.Module``).

    Use it bare, ``@register_model`` (the registered name is the factory's ``__name__``), or with a
    name, ``@register_model("unet_small")``. Registering a different factory under a taken name
    raises ``ValueError``.
    """
    if callable(name):  # bare decorator
        return _register(name.__name__, name)

    def decorator(factory: F) -> F:
        return _register(name or factory.__name__, factory)

    return decorator


def list_models() -> list[str]:
    """The registered model names, sorted."""
    return sorted(_MODELS)


def is_model(name: str) -> bool:
    """Whether ``name`` is a registered model."""
    return name in _MODELS


def accepts(name: str, argument: str) -> bool:
    """Whether the constructor of registered model ``name`` takes keyword ``argument``."""

    if name not in _MODELS:
        return False
    factory = _MODELS[name]
    # a subclass whose __init__ forwards **kwargs accepts what its parents' __init__ accept
    for f in ([c.__init__ for c in factory.__mro__ if "__init__" in vars(c)] if inspect.isclass(factory) else [factory]):
        params = inspect.signature(f).parameters
        if argument in params:
            return True
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return False
    return False


def keyword_arguments(name: str) -> list[str]:
    """The keyword arguments the constructor of registered model ``name`` takes (through the ``**kwargs``
    of subclasses), sorted; ``[]`` for an unknown name."""

    if name not in _MODELS:
        return []
    factory = _MODELS[name]
    found: set[str] = set()
    for f in ([c.__init__ for c in factory.__mro__ if "__init__" in vars(c)] if inspect.isclass(factory) else [factory]):
        params = inspect.signature(f).parameters
        found |= {k for k, p in params.items() if k != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            break
    return sorted(found)


def min_input_size(name: str) -> int:
    """The smallest input side (px) registered model ``name`` takes: its factory's ``MIN_INPUT_SIZE``
    (e.g. 16 for a U-Net of 4 max-pools), else 1 (the model pads or resizes its input itself)."""
    return int(getattr(_MODELS.get(name), "MIN_INPUT_SIZE", 1))


def create_model(name: str, **kwargs) -> nn.Module:
    """Build the model registered as ``name`` with ``kwargs`` (the constructor's keyword arguments).

    Raises:
        ValueError: ``name`` is not registered; the message lists the known names.
    """
    try:
        factory = _MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}") from None
    return factory(**kwargs)

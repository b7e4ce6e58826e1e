"""Which plate formats a crop is read under: the global presets, its site's, or its camera's.

One flow serves sites in several countries, so ``flow.plates.presets`` alone cannot say which
formats a crop's plate may have. ``flow.plates.sites`` and ``flow.plates.cameras`` name the
presets (and, optionally, the own country: ``default_region``) of a site or a camera; a camera's
entry wins over its site's, and a crop of neither gets the global ones. :class:`Scoped` builds
one object (a decoder, a validator) per distinct :class:`Scope`, once, and hands each crop the one
of its scope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from config.flow import PlateRulesSettings, PlateScope

__all__ = ["Scope", "Scoped", "scope_of"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Scope:
    """What a crop is read under: the presets of its formats and its sites' own country
    (``flow.plates.default_region``, or its site's or camera's)."""

    presets: tuple[str, ...]
    default_region: str | None = None


class Scoped(Generic[T]):
    """One ``T`` per distinct :class:`Scope` of ``rules``, built eagerly by ``build(scope)``.

    Everything is built at construction, so an unknown preset fails at start-up with the setting
    that names it (``flow.plates.sites[lot-7]: ...``), never on the first crop of that site.
    """

    __slots__ = ("_cameras", "_sites", "built", "default")

    def __init__(self, rules: PlateRulesSettings, build: Callable[[Scope], T]) -> None:
        built: dict[Scope, T] = {}

        def get(scope: Scope, where: str) -> T:
            if scope not in built:
                try:
                    built[scope] = build(scope)
                except ValueError as exc:
                    raise ValueError(f"{where}: {exc}") from exc
            return built[scope]

        home = rules.default_region

        def own(entry: PlateScope) -> Scope:  # an entry without a region of its own keeps the global one
            return Scope(entry.presets, home if entry.default_region is None else entry.default_region)

        self.default: T = get(Scope(rules.presets, home), "flow.plates.presets")
        self._sites = {name: get(own(s), f"flow.plates.sites[{name}]") for name, s in rules.sites.items()}
        self._cameras = {name: get(own(c), f"flow.plates.cameras[{name}]") for name, c in rules.cameras.items()}
        self.built: tuple[T, ...] = tuple(built.values())  # one per distinct scope

    @property
    def uniform(self) -> bool:
        """Every crop gets :attr:`default` (no site or camera names presets of its own)."""
        return not self._sites and not self._cameras

    def of(self, site: str | None, camera: str | None) -> T:
        """The object of a crop from ``camera`` at ``site``: the camera's, else the site's, else the default."""
        if camera is not None and camera in self._cameras:
            return self._cameras[camera]
        if site is not None and site in self._sites:
            return self._sites[site]
        return self.default


def scope_of(rules: PlateRulesSettings, site: str | None, camera: str | None) -> Scope:
    """The scope a crop from ``camera`` at ``site`` is read under (camera, else site, else global)."""
    return Scoped(rules, lambda scope: scope).of(site, camera)

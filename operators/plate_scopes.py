"""Which plate formats a crop is read under: the global presets, its site's, or its camera's.

One flow serves sites in several countries, so ``flow.plates.presets`` alone cannot say which
formats a crop's plate may have. ``flow.plates.sites`` and ``flow.plates.cameras`` name the
presets of a site or a camera; a camera's entry wins over its site's, and a crop of neither
gets the global presets. :class:`Scoped` builds one object (a decoder, a validator) per distinct
preset list, once, and hands each crop the one of its scope.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from config.flow import PlateRulesSettings

__all__ = ["Scoped", "presets_of"]

T = TypeVar("T")
Presets = tuple[str, ...]


class Scoped(Generic[T]):
    """One ``T`` per distinct preset list of ``rules``, built eagerly by ``build(presets)``.

    Everything is built at construction, so an unknown preset fails at start-up with the setting
    that names it (``flow.plates.sites[lot-7]: ...``), never on the first crop of that site.
    """

    __slots__ = ("_cameras", "_sites", "default")

    def __init__(self, rules: PlateRulesSettings, build: Callable[[Presets], T]) -> None:
        built: dict[Presets, T] = {}

        def get(presets: Presets, where: str) -> T:
            if presets not in built:
                try:
                    built[presets] = build(presets)
                except ValueError as exc:
                    raise ValueError(f"{where}: {exc}") from exc
            return built[presets]

        self.default: T = get(rules.presets, "flow.plates.presets")
        self._sites = {name: get(s.presets, f"flow.plates.sites[{name}]") for name, s in rules.sites.items()}
        self._cameras = {name: get(c.presets, f"flow.plates.cameras[{name}]") for name, c in rules.cameras.items()}

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


def presets_of(rules: PlateRulesSettings, site: str | None, camera: str | None) -> Presets:
    """The presets a crop from ``camera`` at ``site`` is read under (camera, else site, else global)."""
    return Scoped(rules, lambda presets: presets).of(site, camera)

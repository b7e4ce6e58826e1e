"""Per-site and per-camera plate formats: which presets a crop is read under."""

from __future__ import annotations

import pytest

from config.flow import PlateRulesSettings
from operators.plate_formats import preset_formats
from operators.plate_scopes import Scope, Scoped, scope_of

RULES = PlateRulesSettings(
    presets=("US", "EU"),
    sites={"lot-7": {"presets": ["US"]}, "madrid": {"presets": ["ES"]}},
    cameras={"gate-3": {"presets": ["DE"]}, "gate-4": {"presets": ["US"]}},
)


@pytest.mark.parametrize(
    ("site", "camera", "presets"),
    [
        (None, None, ("US", "EU")),  # neither named: the global presets
        ("elsewhere", "cam-9", ("US", "EU")),
        ("lot-7", None, ("US",)),
        ("lot-7", "cam-9", ("US",)),  # a camera of no entry: its site's
        ("madrid", "gate-3", ("DE",)),  # the camera wins over its site
        (None, "gate-3", ("DE",)),
        ("lot-7", "gate-3", ("DE",)),
    ],
)
def test_the_camera_wins_over_the_site_over_the_global_presets(site, camera, presets):
    assert scope_of(RULES, site, camera) == Scope(presets)


def test_one_object_per_distinct_scope_built_at_construction():
    built: list[tuple[str, ...]] = []

    def build(scope: Scope) -> object:
        built.append(scope.presets)
        return object()

    scoped = Scoped(RULES, build)
    assert sorted(built) == sorted([("US", "EU"), ("US",), ("ES",), ("DE",)])  # gate-4 shares lot-7's
    assert scoped.of("lot-7", None) is scoped.of(None, "gate-4")
    assert scoped.of(None, None) is scoped.default
    assert not scoped.uniform
    assert Scoped(PlateRulesSettings(), build).uniform


def test_an_unknown_preset_fails_at_start_naming_the_setting():
    rules = PlateRulesSettings(sites={"lot-7": {"presets": ["US", "XX"]}})
    with pytest.raises(ValueError, match=r"flow.plates.sites\[lot-7\]: .*unknown preset 'XX'"):
        Scoped(rules, lambda scope: preset_formats(scope.presets))
    rules = PlateRulesSettings(cameras={"gate-3": {"presets": ["ZZ"]}})
    with pytest.raises(ValueError, match=r"flow.plates.cameras\[gate-3\]: .*unknown preset 'ZZ'"):
        Scoped(rules, lambda scope: preset_formats(scope.presets))


def test_a_site_s_own_country_is_part_of_its_scope_else_the_global_one():
    rules = PlateRulesSettings(
        presets=("US", "EU"),
        default_region="US",
        sites={"amsterdam": {"presets": ["US", "EU"], "default_region": "NL"}, "lot-7": {"presets": ["US"]}},
    )
    assert scope_of(rules, "amsterdam", None) == Scope(("US", "EU"), "NL")
    assert scope_of(rules, "lot-7", None) == Scope(("US",), "US")
    assert scope_of(rules, None, None) == Scope(("US", "EU"), "US")
    built: list[Scope] = []
    Scoped(rules, built.append)
    assert len(built) == 3  # amsterdam's presets are the global ones, its country is not

"""The crop source: built from settings without connecting."""

from __future__ import annotations

from config.settings import Settings
from flows.source import crop_source


def test_source_is_built_without_connecting():
    settings = Settings().model_copy(
        update={"kafka": Settings().kafka.model_copy(update={"bootstrap_servers": "127.0.0.1:1"})}
    )
    src = crop_source(settings)  # nothing listens on port 1: building must not connect
    assert src._topics == [settings.kafka.topics.crops]
    assert src._add_config["session.timeout.ms"] == "6000"
    assert src._raise_on_errors is False

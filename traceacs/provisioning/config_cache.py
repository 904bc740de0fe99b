"""Remembers the desired config built for a (profile, device target) pair.

Every BOOT and PERIODIC inform of a provisioned device rebuilds its desired config to
compare ParameterKeys; building means mapping the profile, checking every parameter
against the data model and hashing the result, which profiling showed was over a
quarter of the ACS's time under periodic load. Profiles and targets are frozen values,
so identical inputs give an identical config: a bounded dictionary keyed by them
answers most informs without rebuilding anything.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from traceacs.provisioning.config_types import ConfigTarget, DesiredConfig
from traceacs.provisioning.profile import ServiceProfile

Builder = Callable[[ServiceProfile, ConfigTarget], DesiredConfig]
_Key = tuple[ServiceProfile, str, str, str]


class ConfigCache:
    """A least-recently-used map from (profile, target) to the config built for them.

    Build errors are not cached: a failing build is rare and must be reported afresh.
    """

    def __init__(self, build: Builder, max_entries: int = 4096) -> None:
        self._build = build
        self._max = max_entries
        self._entries: OrderedDict[_Key, tuple[ServiceProfile, DesiredConfig, ConfigTarget]] = (
            OrderedDict()
        )
        """(profile, *target's fields) -> (the profile object keyed, its config, the
        target). The target is spelt as its fields: a tuple of strings hashes and
        compares in C, a `ConfigTarget` (new at every Inform) through generated Python
        ``__hash__``/``__eq__``."""
        self._by_key: dict[tuple[ConfigTarget, str], tuple[ServiceProfile, DesiredConfig]] = {}
        self.hits = 0
        self.misses = 0

    def get(self, profile: ServiceProfile, target: ConfigTarget) -> DesiredConfig:
        key = (profile, target.data_model_root, target.oui, target.product_class)
        entries = self._entries
        found = entries.get(key)
        if found is not None:
            self.hits += 1
            keyed, config, _ = found
            if keyed is profile:
                entries.move_to_end(key)
            else:
                # An equal profile read afresh (the profile source re-reads it when its
                # cache ages out): key the entry by the new object, so that the next
                # lookups match by identity instead of comparing every nested field.
                del entries[key]
                entries[key] = (profile, config, target)
                self._by_key[(target, config.parameter_key)] = (profile, config)
            return config
        self.misses += 1
        config = self._build(profile, target)
        entries[key] = (profile, config, target)
        self._by_key[(target, config.parameter_key)] = (profile, config)
        if len(entries) > self._max:
            _, (_, old, old_target) = entries.popitem(last=False)
            self._by_key.pop((old_target, old.parameter_key), None)
        return config

    def known(
        self, target: ConfigTarget, parameter_key: str
    ) -> tuple[ServiceProfile, DesiredConfig] | None:
        """The profile and config built here for ``target`` with that ParameterKey.

        A session resumed in this process finds its config here without fetching the
        profile again (the key is a hash of the whole config, secrets included).
        """
        return self._by_key.get((target, parameter_key))

    def __len__(self) -> int:
        return len(self._entries)

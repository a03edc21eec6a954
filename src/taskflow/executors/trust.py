"""Trust profiles: how far the executors go for a tree, depending on where trees come from.

Two profiles:

- ``local`` (the default: the ``taskflow`` CLI and the Python API): the person who runs
  taskflow wrote the trees, so executors that run code (``python.call``, ``shell.run``) may
  run anything, and ``http.request`` may reach the local network.
- ``server`` (trees come from others: the HTTP API, ``taskflow serve``, and a worker
  running trees that other people queue): executors that run code are refused unless an
  allowlist names what they may run, and requests to private, loopback and link-local
  addresses are refused.

The profile is chosen by ``$TASKFLOW_TRUST`` (``local`` or ``server``), or in Python with
`use_trust` (which wins over the environment). Executor packages read it with
`trust_settings` and declare their own settings (see `ExecutableTask.safety`); this module
holds the profile and the settings of the built-in ``python.call``.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import enum
import fnmatch
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from taskflow.exceptions import ConfigurationError

TRUST_VARIABLE = "TASKFLOW_TRUST"
PYTHON_CALL_ALLOW_VARIABLE = "TASKFLOW_PYTHON_CALL_ALLOW"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class TrustProfile(enum.StrEnum):
    """Where trees come from: ``local`` (their author runs them) or ``server`` (others)."""

    LOCAL = "local"
    SERVER = "server"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TrustSettings:
    """The trust profile, and what the built-in ``python.call`` may call under it.

    Attributes:
        profile: The trust profile.
        python_call_allow: ``module:function`` patterns (``fnmatch``, ``*`` matches any
            text) naming what ``python.call`` may call; ``None``: anything (no allowlist).
    """

    profile: TrustProfile = TrustProfile.LOCAL
    python_call_allow: tuple[str, ...] | None = None

    @classmethod
    def from_environment(
        cls,
        profile: TrustProfile | str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> TrustSettings:
        """The settings the environment asks for, under ``profile`` if given.

        ``$TASKFLOW_TRUST`` gives the profile (default ``local``); ``$TASKFLOW_PYTHON_CALL_ALLOW``
        the comma-separated ``python.call`` allowlist (unset: no allowlist under ``local``, an
        empty one under ``server``).

        Raises:
            ConfigurationError: a variable holds a value that means nothing.
        """
        env = os.environ if environ is None else environ
        chosen = parse_profile(profile if profile is not None else env.get(TRUST_VARIABLE))
        allow = env_patterns(PYTHON_CALL_ALLOW_VARIABLE, environ=env)
        if allow is None and chosen is TrustProfile.SERVER:
            allow = ()
        return cls(profile=chosen, python_call_allow=allow)

    def allows_call(self, function: str) -> bool:
        """Whether ``python.call`` may call ``function`` (``"module:qualified.name"``)."""
        return self.python_call_allow is None or matches_any(function, self.python_call_allow)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SafetySetting:
    """One safety setting of an executor, as ``taskflow executors show`` lists it.

    Attributes:
        name: The setting's name (e.g. ``allow_programs``).
        description: What it guards, in one sentence.
        local: Its default under the ``local`` profile (a JSON value).
        server: Its default under the ``server`` profile.
        current: Its value in this process now (environment and Python settings applied).
        env: The environment variable that sets it, if any.
    """

    name: str
    description: str
    local: Any
    server: Any
    current: Any
    env: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The setting as JSON."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(slots=True)
class _Chosen:
    settings: TrustSettings | None = None


_CHOSEN = _Chosen()  # what use_trust set, for the whole process


def use_trust(settings: TrustSettings | TrustProfile | str | None) -> None:
    """Set the process-wide trust settings (``None``: read the environment again).

    A profile alone (``use_trust("server")``) takes the other settings from the environment,
    with that profile's defaults.

    Raises:
        ConfigurationError: an unknown profile name.
    """
    if settings is None or isinstance(settings, TrustSettings):
        _CHOSEN.settings = settings
    else:
        _CHOSEN.settings = TrustSettings.from_environment(settings)


#: The profile of the tree whose task runs in this context (`tree_trust`): it can make the
#: process's profile stricter, never looser.
_TREE_TRUST: contextvars.ContextVar[TrustProfile | None] = contextvars.ContextVar(
    "taskflow_tree_trust", default=None
)

#: The task parameter that carries a tree's profile (set by the HTTP API on every task).
TRUST_PARAM = "trust"


def trust_settings() -> TrustSettings:
    """The trust settings in force: those set by `use_trust`, else the environment's — under
    the ``server`` profile (with the allowlist variables) while a task of a tree that came
    from others runs (`tree_trust`), whatever the process's profile.

    Raises:
        ConfigurationError: ``$TASKFLOW_TRUST`` or an allowlist variable is malformed.
    """
    chosen = _CHOSEN.settings
    settings = chosen if chosen is not None else TrustSettings.from_environment()
    if _TREE_TRUST.get() is TrustProfile.SERVER and settings.profile is TrustProfile.LOCAL:
        return TrustSettings.from_environment(TrustProfile.SERVER)
    return settings


@contextlib.contextmanager
def tree_trust(profile: TrustProfile | str | None) -> Iterator[None]:
    """Run what follows under the trust profile of a tree (its tasks' ``trust`` parameter):
    ``server`` makes `trust_settings` answer with the ``server`` profile here; ``None`` or
    ``local`` leave the process's profile as it is.

    Raises:
        ConfigurationError: an unknown profile name.
    """
    token = _TREE_TRUST.set(parse_profile(profile) if profile else None)
    try:
        yield
    finally:
        _TREE_TRUST.reset(token)


def parse_profile(value: TrustProfile | str | None) -> TrustProfile:
    """``value`` as a profile (``None`` or empty: ``local``).

    Raises:
        ConfigurationError: naming ``$TASKFLOW_TRUST`` and the known profiles.
    """
    if value is None or value == "":
        return TrustProfile.LOCAL
    try:
        return TrustProfile(str(value).strip().lower())
    except ValueError:
        known = ", ".join(p.value for p in TrustProfile)
        raise ConfigurationError(
            f"{TRUST_VARIABLE}: {value!r} is not a trust profile (known: {known})"
        ) from None


def env_patterns(
    variable: str, *, environ: Mapping[str, str] | None = None
) -> tuple[str, ...] | None:
    """The comma-separated patterns of ``variable`` (``None`` when it is not set at all).

    Set but empty means an empty list: nothing is allowed.
    """
    env = os.environ if environ is None else environ
    value = env.get(variable)
    if value is None:
        return None
    return tuple(part.strip() for part in value.split(",") if part.strip())


def env_flag(variable: str, default: bool, *, environ: Mapping[str, str] | None = None) -> bool:
    """``variable`` as a boolean (``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``).

    Raises:
        ConfigurationError: any other value, naming the variable.
    """
    env = os.environ if environ is None else environ
    value = env.get(variable)
    if value is None:
        return default
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise ConfigurationError(f"{variable}: {value!r} is not a boolean (use 1 or 0)")


def matches_any(name: str, patterns: Iterable[str]) -> bool:
    """Whether ``name`` matches one of the ``fnmatch`` patterns (case-sensitive)."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


__all__ = [
    "PYTHON_CALL_ALLOW_VARIABLE",
    "TRUST_VARIABLE",
    "SafetySetting",
    "TrustProfile",
    "TrustSettings",
    "env_flag",
    "env_patterns",
    "matches_any",
    "parse_profile",
    "trust_settings",
    "use_trust",
]

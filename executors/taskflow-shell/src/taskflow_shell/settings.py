"""Which programs ``shell.run`` may run: an allowlist, per trust profile.

Under the ``local`` profile (the CLI, the Python API) any program may run unless an allowlist
is set; under ``server`` (``taskflow serve``: trees come from others) only the programs the
allowlist names, and it is empty by default. Patterns are ``fnmatch`` patterns matched
against ``argv[0]`` as given and against the program's absolute path (``/bin/sh`` for
``shell: true``): ``git``, ``/usr/bin/*``, ``/opt/tools/*``.

With an allowlist, the program is looked up in the worker's own ``PATH`` (the task's ``env``
cannot choose another ``PATH``, nor set ``LD_*``/``DYLD_*`` variables that would load other
code into an allowed program), and run by its absolute path; ``pass_env`` is refused.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Mapping

from taskflow.executors import TrustProfile, trust_settings
from taskflow.executors.trust import env_patterns, matches_any

ALLOW_VARIABLE = "TASKFLOW_SHELL_ALLOW"
LOADER_VARIABLE_PREFIXES = ("LD_", "DYLD_")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ShellSettings:
    """The settings of ``shell.run``.

    Attributes:
        allow_programs: Patterns of the programs that may run (``None``: any program).
    """

    allow_programs: tuple[str, ...] | None = None

    @classmethod
    def from_environment(
        cls,
        profile: TrustProfile | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> ShellSettings:
        """``$TASKFLOW_SHELL_ALLOW`` (comma-separated), else the profile's default.

        Args:
            profile: The trust profile (default: the one in force, see `trust_settings`).
            environ: Where to read the variable (default: ``os.environ``).
        """
        chosen = profile if profile is not None else trust_settings().profile
        allow = env_patterns(ALLOW_VARIABLE, environ=environ)
        if allow is None and chosen is TrustProfile.SERVER:
            allow = ()
        return cls(allow_programs=allow)

    def program(self, argv0: str) -> str | None:
        """The absolute path to run for ``argv0``, or ``None`` if the allowlist refuses it.

        Without an allowlist, ``argv0`` is returned as it is (the command's ``PATH`` finds it).
        A relative path with a slash (``./x``) is refused under an allowlist: it would depend
        on the working directory.
        """
        if self.allow_programs is None:
            return argv0
        if "/" in argv0 and not os.path.isabs(argv0):
            return None
        found = shutil.which(argv0, path=os.environ.get("PATH", os.defpath))
        names = [argv0] if found is None else [argv0, os.path.realpath(found), found]
        if found is None or not any(matches_any(name, self.allow_programs) for name in names):
            return None
        return found

    def refused_variable(self, env: Mapping[str, str]) -> str | None:
        """A variable of the task's ``env`` that an allowlist does not let it set, if any."""
        if self.allow_programs is None:
            return None
        for name in env:
            if name == "PATH" or name.startswith(LOADER_VARIABLE_PREFIXES):
                return name
        return None


@dataclasses.dataclass(slots=True)
class _Chosen:
    settings: ShellSettings | None = None


_CHOSEN = _Chosen()


def use_settings(settings: ShellSettings | None) -> None:
    """Set the process-wide ``shell.run`` settings (``None``: read the environment again)."""
    _CHOSEN.settings = settings


def current_settings() -> ShellSettings:
    """The settings in force: those of `use_settings`, else the environment's and profile's."""
    chosen = _CHOSEN.settings
    return chosen if chosen is not None else ShellSettings.from_environment()

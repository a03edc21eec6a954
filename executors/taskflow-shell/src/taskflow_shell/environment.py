"""What a command sees of the worker's environment, and what of it never reaches a log.

By default a command starts from a minimal environment: ``PATH``, ``HOME`` and ``LANG`` from
the worker (``PATH`` falls back to the system default), the worker's variables the task names
in ``pass_env`` (their values are never in the tree), and the variables the task sets in
``env``. ``inherit_env: true`` starts from the worker's whole environment instead.

The values of variables whose names look secret (``TOKEN``, ``SECRET``, ``PASSWORD``,
``KEY``, ``CREDENTIAL``...) are replaced by ``[redacted]`` wherever the command's output is
kept: the task's log events, its result (``stdout``, ``stderr``) and its error message. The
environment itself is never stored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

MINIMAL_VARIABLES = ("PATH", "HOME", "LANG")
SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSW(?:OR)?D|PASSPHRASE|KEY|CREDENTIAL|AUTH(?!OR)|COOKIE|SESSION|PRIVATE",
    re.IGNORECASE,
)
REDACTED = "[redacted]"
MIN_REDACTED_CHARS = 4  # shorter values are not looked for (they would garble the output)


def child_environment(
    env: Mapping[str, str],
    *,
    inherit: bool,
    passed: Sequence[str] = (),
    worker: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment a command starts with: minimal (or the worker's), the worker's
    variables named in ``passed``, then ``env``."""
    source = os.environ if worker is None else worker
    if inherit:
        base = dict(source)
    else:
        names = (*MINIMAL_VARIABLES, *passed)
        base = {name: source[name] for name in names if name in source}
        base.setdefault("PATH", os.defpath)
    return {**base, **env}


def looks_secret(name: str) -> bool:
    """Whether a variable's name says its value is a secret."""
    return SECRET_NAME.search(name) is not None


class Redactor:
    """Replaces the values of secret-looking variables by ``[redacted]`` in text.

    Args:
        environment: The command's environment; the values of the variables whose names
            look secret (and that are at least `MIN_REDACTED_CHARS` long) are redacted.
    """

    def __init__(self, environment: Mapping[str, str]) -> None:
        secrets = {
            value
            for name, value in environment.items()
            if looks_secret(name) and len(value) >= MIN_REDACTED_CHARS
        }
        ordered = sorted(secrets, key=len, reverse=True)  # a longer secret may contain another
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        """``text`` with every secret value replaced."""
        if self._pattern is None:
            return text
        return self._pattern.sub(REDACTED, text)

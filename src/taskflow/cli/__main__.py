"""``python -m taskflow.cli`` (used by ``taskflow run --detach``)."""

from taskflow.cli import main

main()

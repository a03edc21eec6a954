"""``taskflow keys``: the HTTP API's keys — create (shown once), list, revoke."""

from __future__ import annotations

import click

from taskflow.cli.common import db_option, json_option, print_json, run_async, stdout

SCOPE_CHOICES = ("read", "write", "admin")


@click.group()
def keys() -> None:
    """The HTTP API's keys (stored hashed: a key is shown once, when it is made)."""


@keys.command("create")
@db_option
@click.option("--user", required=True, help="Whose trees the key sees and creates.")
@click.option("--name", required=True, help="What the key is for (e.g. ci).")
@click.option(
    "--scope", "scopes", type=click.Choice(SCOPE_CHOICES), multiple=True,
    help="read (GET), write (POST), admin (every user's trees). Repeatable; default: read, write.",
)  # fmt: skip
@json_option
def create(
    *, db_url: str | None, user: str, name: str, scopes: tuple[str, ...], as_json: bool
) -> None:
    """Make a key for USER and print it once (only its hash is stored)."""
    from taskflow.runtime import create_session
    from taskflow.storage.api_keys import DEFAULT_SCOPES, issue_key

    async def go() -> tuple[str, dict[str, object]]:
        repository = create_session(db_url)
        try:
            key, record = await issue_key(
                repository.storage.api_keys, user_id=user, name=name,
                scopes=scopes or DEFAULT_SCOPES,
            )  # fmt: skip
        finally:
            await repository.close()
        return key, record.to_dict()

    key, record = run_async(go())
    if as_json:
        print_json({**record, "key": key})
        return
    click.echo(key)
    click.echo(
        f"key {record['prefix']} ({name}) for {user}, scopes {', '.join(record['scopes'])}"  # type: ignore[arg-type]
        " — shown once: store it now",
        err=True,
    )


@keys.command("list")
@db_option
@click.option("--user", help="Only this user's keys.")
@json_option
def list_keys(*, db_url: str | None, user: str | None, as_json: bool) -> None:
    """List keys (their prefixes, never the keys), oldest first."""
    from rich.table import Table

    from taskflow.runtime import create_session

    async def go() -> list[dict[str, object]]:
        repository = create_session(db_url)
        try:
            return [k.to_dict() for k in await repository.storage.api_keys.list(user_id=user)]
        finally:
            await repository.close()

    found = run_async(go())
    if as_json:
        print_json(found)
        return
    table = Table(box=None, header_style="bold")
    for column in ("PREFIX", "NAME", "USER", "SCOPES", "CREATED", "REVOKED"):
        table.add_column(column)
    for key in found:
        table.add_row(
            str(key["prefix"]), str(key["name"]), str(key["user_id"]),
            ",".join(key["scopes"]),  # type: ignore[arg-type]
            str(key["created_at"])[:19], str(key["revoked_at"] or "")[:19],
        )  # fmt: skip
    stdout.print(table)


@keys.command("revoke")
@db_option
@click.argument("key_ref", metavar="PREFIX_OR_ID")
def revoke(*, db_url: str | None, key_ref: str) -> None:
    """Revoke a key (by its prefix, tf_..., or id): requests with it get 401 from now on."""
    from taskflow.models import utcnow
    from taskflow.runtime import create_session

    async def go() -> dict[str, object] | None:
        repository = create_session(db_url)
        try:
            found = await repository.storage.api_keys.revoke(key_ref, utcnow())
        finally:
            await repository.close()
        return found.to_dict() if found else None

    found = run_async(go())
    if found is None:
        raise click.BadParameter(f"no key with prefix or id {key_ref!r}", param_hint="PREFIX_OR_ID")
    click.echo(f"revoked {found['prefix']} ({found['name']}, {found['user_id']})", err=True)

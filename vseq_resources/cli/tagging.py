"""Tags and comments."""

from __future__ import annotations

from typing import Any

import click

from .base import UUID, CliState, echo_frame_tsv, known_archive, pass_state


@click.command("is-tagged")
@click.argument("uuid", type=UUID)
@click.argument("tag")
@pass_state
def is_tagged(state: CliState, uuid: Any, tag: str) -> None:
    """Print true if the sequence carries TAG, false otherwise."""
    click.echo("true" if known_archive(state, uuid, store=False).is_tagged(uuid, tag) else "false")


@click.command("tag")
@click.argument("uuid", type=UUID)
@click.argument("tags", nargs=-1, required=True)
@pass_state
def tag(state: CliState, uuid: Any, tags: tuple[str, ...]) -> None:
    """Add one or more tags to a sequence (tags it already has are kept once)."""
    known_archive(state, uuid, store=False).tag(uuid, *tags)


@click.command("untag")
@click.argument("uuid", type=UUID)
@click.argument("tag")
@pass_state
def untag(state: CliState, uuid: Any, tag: str) -> None:
    """Remove a tag from a sequence."""
    known_archive(state, uuid, store=False).untag(uuid, tag)


@click.command("comment")
@click.argument("uuid", type=UUID)
@click.argument("comment")
@click.option("--author", default=None, help="The author of the comment.")
@pass_state
def comment(state: CliState, uuid: Any, comment: str, author: str | None) -> None:
    """Attach a comment to a sequence."""
    known_archive(state, uuid, store=False).comment(uuid, comment, author=author)


@click.command("get-comments")
@click.argument("uuid", type=UUID)
@pass_state
def get_comments(state: CliState, uuid: Any) -> None:
    """Print the comments of a sequence as TSV with a header (nothing when there are none)."""
    comments = known_archive(state, uuid, store=False).metadata.get_comments(uuid)
    if len(comments):
        # The reference printed the whole comments row, sequence UUID first.
        comments.insert(0, "visitseq_uuid", str(uuid))
    echo_frame_tsv(comments)


def register(group: click.Group) -> None:
    for command in (is_tagged, tag, untag, comment, get_comments):
        group.add_command(command)

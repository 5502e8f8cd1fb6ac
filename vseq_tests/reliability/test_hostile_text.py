"""Text that misleads (issue 19, point 10): labels, tags, comments and authors with
bidirectional overrides, C1 controls or nothing visible.

The rule (``vseq_resources/text.py``, ``docs/reliability.md``): such text is refused when written,
in one line naming the field and the character; ordinary text in any script is stored as given;
text already stored (by production, or before the rule) is read without failing and printed
escaped by every command that prints it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from vseq_resources.archive import VisitSequenceArchive
from vseq_resources.cli import cli
from vseq_resources.errors import InvalidInputError
from vseq_resources.text import displayed
from vseq_tests.reliability.support import small_visits, snapshot

NIGHT = "2026-04-11"
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE
HOSTILE = {
    "label with a right-to-left override": ("label", f"nominal {RLO}lanimon"),
    "label with a left-to-right isolate": ("label", "a \u2066b\u2069 c"),
    "label with a C1 CSI": ("label", "a\u009b31mred"),
    "label with ESC": ("label", "a\x1b[31mred"),
    "label of zero-width spaces": ("label", "\u200b\u200b"),
    "label of Hangul fillers": ("label", "\u3164\u3164"),
    "label of a BOM and spaces": ("label", " \ufeff "),
    "tag with an override": ("tag", f"ideal{RLO}"),
    "tag of word joiners": ("tag", "\u2060"),
    "tag with a C1 control": ("tag", "x\u0085y"),
    "comment with an override": ("comment", f"looks fine {RLO}"),
    "comment of invisible characters": ("comment", "\u200b \u200c"),
    "author with a C1 control": ("author", "op\u0090s"),
    "file type with an embedding": ("file_type", "notes\u202b"),
}


def _write(archive: VisitSequenceArchive, seq: Any, field: str, value: str) -> None:
    if field == "label":
        archive.record_sequence("simulations", small_visits(NIGHT), label=value, telescope="simonyi")
    elif field == "tag":
        archive.tag(seq, value)
    elif field == "comment":
        archive.comment(seq, value, author="me")
    elif field == "author":
        archive.comment(seq, "fine", author=value)
    else:
        archive.archive_file(seq, b"notes", value, name="notes.txt")


def test_hostile_text_is_refused_by_the_api(file_archive: VisitSequenceArchive) -> None:
    seq = file_archive.record_sequence("simulations", small_visits(NIGHT), label="ok", telescope="simonyi")
    before = snapshot(file_archive)
    for name, (field, value) in HOSTILE.items():
        with pytest.raises(InvalidInputError) as caught:
            _write(file_archive, seq.uuid, field, value)
        message = str(caught.value)
        assert "\n" not in message and message.split()[0] in (field.replace("_", " "), "file"), (
            name,
            message,
        )
        assert RLO not in message and "\x1b" not in message and "\u009b" not in message, (name, message)
        assert snapshot(file_archive) == before, name
    # Through the metadata layer too (what update-visitseq-metadata uses).
    with pytest.raises(InvalidInputError, match="visitseq_label"):
        file_archive.metadata.update_metadata(seq.uuid, "visitseq_label", f"x{RLO}")
    with pytest.raises(InvalidInputError, match="scheduler_version"):
        file_archive.metadata.update_metadata(seq.uuid, "scheduler_version", "4.6\x1b[2J")
    assert snapshot(file_archive) == before


def test_hostile_text_is_refused_by_the_cli(
    file_archive: VisitSequenceArchive, pg_url: str, tmp_path
) -> None:
    from vseq_resources.visits import write_visits_h5

    seq = str(
        file_archive.record_sequence("simulations", small_visits(NIGHT), label="ok", telescope="simonyi").uuid
    )
    visits = str(write_visits_h5(tmp_path / "v.h5", small_visits(NIGHT)))
    env = {
        "VSEQ_DATABASE_URL": pg_url,
        "VSARCHIVE_PGSCHEMA": file_archive.metadata.schema,
        "VSEQ_ARCHIVE_URI": str(file_archive.store.base),
    }
    before = snapshot(file_archive)
    cases = [
        ["record-visitseq-metadata", "simulations", visits, f"label {RLO}"],
        ["tag", seq, f"t{RLO}"],
        ["comment", seq, "x\u009by"],
        ["comment", seq, "\u200b"],
        ["update-visitseq-metadata", seq, "visitseq_label", "\u2067x"],
    ]
    for args in cases:
        result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
        lines = result.stderr.splitlines()
        assert result.exit_code == 1 and len(lines) == 1, (args, result.output)
        assert lines[0].startswith("vseqarchive: error: ") and "internal error" not in lines[0]
        assert RLO not in result.output and "\u009b" not in result.output and not result.stdout
        assert snapshot(file_archive) == before, args


ORDINARY = [
    "תחזית לילה \u200fנומינלית",  # Hebrew with a right-to-left mark
    "محاكاة \u061c2026",  # Arabic with the Arabic letter mark
    "family 👩\u200d👩\u200d👧 run",  # emoji joined by ZWJ
    "Ångström e\u0301te\u0301 夜の観測",  # combining accents, CJK
    "tabs\tand\nnewlines",
]


def test_ordinary_text_in_any_script_is_stored_as_given(file_archive: VisitSequenceArchive) -> None:
    for text in ORDINARY:
        seq = file_archive.record_sequence(
            "simulations",
            small_visits(NIGHT),
            label=text,
            telescope="simonyi",
            tags=[text.split()[0]],
            comments=[("auteur \u00e9", text)],
        )
        assert file_archive.get_metadata(seq.uuid)["visitseq_label"] == text
        assert file_archive.metadata.get_tags(seq.uuid) == [text.split()[0]]
        assert file_archive.metadata.get_comments(seq.uuid)["comment"].tolist() == [text]
        assert displayed(text) == text  # printed unchanged


def test_stored_hostile_text_is_read_and_printed_escaped(
    file_archive: VisitSequenceArchive, pg_url: str
) -> None:
    """Text written before the rule (or by production, which has none) is still read, and every
    command prints it escaped; --json keeps the exact value (JSON escapes it)."""
    seq = file_archive.record_sequence("simulations", small_visits(NIGHT), label="ok", telescope="simonyi")
    label, tag, comment, author = f"nominal {RLO}lanimon", f"evil{RLO}", "x\x1b[2Jy", "\u200b"
    with file_archive.metadata.transaction() as conn:  # as production or an old vseq wrote it
        conn.execute(
            sa.text("UPDATE visitseq SET visitseq_label = :l WHERE visitseq_uuid = :u"),
            {"l": label, "u": seq.uuid},
        )
        conn.execute(
            sa.text("INSERT INTO tags (visitseq_uuid, tag) VALUES (:u, :t)"), {"u": seq.uuid, "t": tag}
        )
        conn.execute(
            sa.text(
                "INSERT INTO comments (visitseq_uuid, comment_time, author, comment)"
                " VALUES (:u, now(), :a, :c)"
            ),
            {"u": seq.uuid, "a": author, "c": comment},
        )
    env = {
        "VSEQ_DATABASE_URL": pg_url,
        "VSARCHIVE_PGSCHEMA": file_archive.metadata.schema,
        "VSEQ_ARCHIVE_URI": str(file_archive.store.base),
    }
    raw = (RLO, "\x1b", "\u200b")
    outputs = {}
    for args in (
        ["search"],
        ["show", str(seq.uuid)],
        ["get-comments", str(seq.uuid)],
        ["get-visitseq-metadata", str(seq.uuid)],
    ):
        result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
        assert result.exit_code == 0, (args, result.output)
        assert not any(ch in result.stdout for ch in raw), (args, result.stdout)
        outputs[args[0]] = result.stdout
    assert "nominal \\u202elanimon" in outputs["search"] and "evil\\u202e" in outputs["search"]
    assert "\\x1b[2Jy" in outputs["show"] and "\\u200b" in outputs["show"]
    assert "\\x1b[2Jy" in outputs["get-comments"]
    assert "nominal \\u202elanimon" in outputs["get-visitseq-metadata"]
    found = json.loads(CliRunner().invoke(cli, ["search", "--json"], env=env).stdout)
    assert [row["visitseq_label"] for row in found] == [label] and found[0]["tags"] == [tag]

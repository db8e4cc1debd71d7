"""Core errors name CLI options; the import form says them in its own field labels."""

from __future__ import annotations

from studio.ui.common import in_form_words
from studio.ui.datasets_tab import IMPORT_FIELDS


def test_cli_options_in_an_error_read_as_the_form_s_fields() -> None:
    message = (
        "no databases next to q.csv; pass --db-dir with <db_id>/<db_id>.sqlite, or `--name` "
        "another; --names and --db-dirs are other words"
    )
    assert in_form_words(message, IMPORT_FIELDS) == (
        "no databases next to q.csv; pass **Database folder (SQLite)** with "
        "<db_id>/<db_id>.sqlite, or **Name** another; --names and --db-dirs are other words"
    )

"""BIRD description CSVs as they really are: BOM, cp1252, blank and ragged rows."""

from __future__ import annotations

from pathlib import Path

from studio.data.descriptions import ColumnDescription, read_bird_descriptions, read_description_csv

HEADER = "original_column_name,column_name,column_description,data_format,value_description\r\n"


def test_utf8_bom_file(tmp_path: Path) -> None:
    path = tmp_path / "frpm.csv"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + (HEADER + "CDSCode,,CDSCode,integer,\r\nCounty Code,,County Code,integer ,\r\n").encode()
    )
    assert read_description_csv(path) == {
        "cdscode": ColumnDescription("CDSCode", None),
        "county code": ColumnDescription("County Code", None),
    }


def test_cp1252_file_with_blank_and_ragged_rows(tmp_path: Path) -> None:
    body = (
        HEADER
        + "\r\n,,,,\r\nlink_to_event,link,the event \u2013 id,text,\u2022 one\r\nshort,only\r\n"
        "extra,x,desc,text,values,surplus\r\n"
    )
    path = tmp_path / "budget.csv"
    path.write_bytes(body.encode("cp1252"))
    assert read_description_csv(path) == {
        "link_to_event": ColumnDescription("the event \u2013 id", "\u2022 one"),
        "short": ColumnDescription("only", None),
        "extra": ColumnDescription("desc", "values"),
    }


def test_real_bird_files_all_read(bird_minidev: Path) -> None:
    # student_club/budget.csv is cp1252, california_schools files start with a BOM
    budget = read_bird_descriptions(bird_minidev / "student_club")["budget"]
    assert "\ufffd" not in "".join(str(d) for d in budget.values())
    schools = read_bird_descriptions(bird_minidev / "california_schools")
    assert set(schools) == {"frpm", "satscores", "schools"}
    assert "cdscode" in schools["frpm"]  # the BOM did not stick to the first header cell
    described = sum(
        len(read_bird_descriptions(folder)) for folder in bird_minidev.iterdir() if folder.is_dir()
    )
    assert described == 24  # tables described in the slice's four databases


def test_folder_without_descriptions(tmp_path: Path) -> None:
    assert read_bird_descriptions(tmp_path) == {}

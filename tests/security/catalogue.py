"""The hostile statements, by category: what each engine must refuse, and what it must bound.

`{tmp}` stands for a folder the test watches for files, `{db}` for the database's name.
Expectations: "refused" (the guard or the engine refuses it) or "bounded" (it may run, but
ends within its timeout and bounds with whatever verdict: rows, timeout, too_large, an error).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

BOTH = ("sqlite", "mysql")
SQLITE = ("sqlite",)
MYSQL = ("mysql",)


@dataclass(frozen=True)
class Attack:
    category: str
    sql: str
    engines: tuple[str, ...]
    expect: str

    def label(self) -> str:
        text = self.sql.encode("unicode_escape").decode("ascii")
        return f"{self.category}:{text[:60]}"


def _spaces() -> list[str]:
    """Every character Python reads as a space that is not an ASCII space, plus the
    zero-width and byte-order marks that render as nothing."""
    found = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace() and c > 0x20]
    return [*found, "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u180e"]


UNICODE_SPACES = _spaces()

WRITES = [
    Attack("write", s, BOTH, "refused")
    for s in (
        "INSERT INTO singer (singer_id, name, country, gender, genre) "
        "VALUES (999, 'e', 'e', 'e', 'e')",
        "UPDATE singer SET name = 'evil'",
        "DELETE FROM singer",
        "REPLACE INTO singer (singer_id, name) VALUES (1, 'evil')",
        "INSERT INTO singer SELECT * FROM singer",
        (
            "WITH d AS (SELECT singer_id FROM singer) DELETE FROM singer WHERE singer_id IN "
            "(SELECT singer_id FROM d)"
        ),
        "WITH x AS (SELECT 1) UPDATE singer SET name = 'evil'",
        "update singer set age = age + 1 where singer_id = 1",
    )
] + [
    Attack(
        "write",
        "INSERT OR REPLACE INTO singer (singer_id, name) VALUES (1, 'evil')",
        SQLITE,
        "refused",
    ),
    Attack(
        "write",
        "INSERT INTO singer (singer_id, name) VALUES (1, 'e') ON CONFLICT DO NOTHING",
        SQLITE,
        "refused",
    ),
    Attack(
        "write",
        "INSERT INTO singer (singer_id, name) VALUES (1, 'e') ON DUPLICATE KEY UPDATE "
        "name = 'evil'",
        MYSQL,
        "refused",
    ),
    Attack("write", "DELETE singer FROM singer JOIN concert ON 1 = 1", MYSQL, "refused"),
    Attack("write", "UPDATE singer, concert SET singer.name = 'evil'", MYSQL, "refused"),
]

DDL = [
    Attack("ddl", s, BOTH, "refused")
    for s in (
        "CREATE TABLE evil (a INT)",
        "DROP TABLE singer",
        "DROP TABLE IF EXISTS singer",
        "ALTER TABLE singer ADD COLUMN evil INT",
        "ALTER TABLE singer RENAME TO evil",
        "CREATE VIEW evil AS SELECT * FROM singer",
        "CREATE INDEX evil ON singer (name)",
        "DROP VIEW IF EXISTS evil",
    )
] + [
    Attack("ddl", "CREATE TEMP TABLE evil AS SELECT * FROM singer", SQLITE, "refused"),
    Attack(
        "ddl",
        "CREATE TRIGGER evil AFTER INSERT ON singer BEGIN DELETE FROM singer; END",
        SQLITE,
        "refused",
    ),
    Attack("ddl", "VACUUM", SQLITE, "refused"),
    Attack("ddl", "REINDEX", SQLITE, "refused"),
    Attack("ddl", "CREATE TEMPORARY TABLE evil AS SELECT * FROM singer", MYSQL, "refused"),
    Attack("ddl", "TRUNCATE TABLE singer", MYSQL, "refused"),
    Attack("ddl", "RENAME TABLE singer TO evil", MYSQL, "refused"),
    Attack("ddl", "CREATE DATABASE evil_{db}", MYSQL, "refused"),
    Attack("ddl", "DROP DATABASE {db}", MYSQL, "refused"),
    Attack("ddl", "CREATE PROCEDURE evil() SELECT 1", MYSQL, "refused"),
    Attack("ddl", "CREATE FUNCTION evil() RETURNS INT RETURN 1", MYSQL, "refused"),
    Attack("ddl", "OPTIMIZE TABLE singer", MYSQL, "refused"),
]

FILES = [
    Attack("file", "SELECT * FROM singer INTO OUTFILE '{tmp}/outfile.txt'", MYSQL, "refused"),
    Attack("file", "SELECT * INTO DUMPFILE '{tmp}/dump.txt' FROM singer", MYSQL, "refused"),
    Attack(
        "file",
        "select name from singer into outfile '{tmp}/lower.txt' fields terminated by ','",
        MYSQL,
        "refused",
    ),
    Attack("file", "SELECT name FROM singer INTO OUTFILE 'relative_evil.txt'", MYSQL, "refused"),
    Attack("file", "SELECT LOAD_FILE('/etc/passwd')", MYSQL, "refused"),
    Attack(
        "file", "SELECT name FROM singer WHERE name = load_file('/etc/hostname')", MYSQL, "refused"
    ),
    Attack("file", "LOAD DATA INFILE '/etc/passwd' INTO TABLE singer", MYSQL, "refused"),
    Attack("file", "LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE singer", MYSQL, "refused"),
    Attack("file", "SELECT name INTO @stolen FROM singer LIMIT 1", MYSQL, "refused"),
    Attack("file", "SELECT * FROM mysql.user", MYSQL, "refused"),
    Attack("file", "SELECT * FROM information_schema.processlist", MYSQL, "refused"),
    Attack("file", "ATTACH DATABASE '{tmp}/evil.sqlite' AS evil", SQLITE, "refused"),
    Attack("file", "VACUUM INTO '{tmp}/copy.sqlite'", SQLITE, "refused"),
    Attack("file", "SELECT load_extension('{tmp}/evil.so')", SQLITE, "refused"),
    Attack("file", "SELECT readfile('/etc/passwd')", SQLITE, "refused"),
    Attack("file", "SELECT writefile('{tmp}/written.txt', 'x')", SQLITE, "refused"),
    Attack("file", "SELECT fts3_tokenizer('simple')", SQLITE, "refused"),
    Attack("file", "DETACH DATABASE main", SQLITE, "refused"),
]

LOCKS = [
    Attack("lock", "SELECT GET_LOCK('studio', 10)", MYSQL, "refused"),
    Attack("lock", "SELECT RELEASE_ALL_LOCKS()", MYSQL, "refused"),
    Attack("lock", "SELECT IS_USED_LOCK('studio')", MYSQL, "refused"),
    Attack("lock", "SELECT * FROM singer FOR UPDATE", MYSQL, "refused"),
    Attack("lock", "SELECT * FROM singer LOCK IN SHARE MODE", MYSQL, "refused"),
    Attack("lock", "SELECT * FROM singer FOR SHARE", MYSQL, "refused"),
    Attack("lock", "LOCK TABLES singer WRITE", MYSQL, "refused"),
    Attack("lock", "UNLOCK TABLES", MYSQL, "refused"),
    Attack("lock", "HANDLER singer OPEN", MYSQL, "refused"),
    Attack("lock", "SELECT MASTER_POS_WAIT('log', 4)", MYSQL, "refused"),
    Attack("lock", "BEGIN EXCLUSIVE", SQLITE, "refused"),
    Attack("lock", "PRAGMA locking_mode = EXCLUSIVE", SQLITE, "refused"),
]

EXECUTABLE_COMMENTS = (
    [
        Attack(
            "comment",
            f"SELECT name --{space}/*! INTO OUTFILE '{{tmp}}/space_{index}.txt' */\nFROM singer",
            BOTH,
            "refused",
        )
        for index, space in enumerate(UNICODE_SPACES)
    ]
    + [
        Attack(
            "comment",
            f"SELECT name --{space}, LOAD_FILE('/etc/passwd')\nFROM singer",
            MYSQL,
            "refused",
        )
        for space in ("\u00a0", "\u3000", "\u2028")
    ]
    + [
        Attack("comment", s, BOTH, "refused")
        for s in (
            "SELECT 1 /*! , LOAD_FILE('/etc/passwd') */",
            "SELECT 1 /*!50000 , (SELECT 1) */ FROM singer",
            "/*!DROP TABLE singer*/",
            "SELECT 1 /*M!100000 ; DELETE FROM singer */",
            "SELECT /*+ MAX_EXECUTION_TIME(100000000) */ COUNT(*) FROM singer",
            "SELECT name FROM singer -- plain comment /*! INTO OUTFILE '{tmp}/in_comment.txt' */",
            "SELECT name FROM singer WHERE name = '/*!' OR 1 = 1",
            "SELECT name\u00a0FROM singer",
            "SELECT name FROM singer\u3000WHERE 1 = 1",
        )
    ]
    + [
        Attack("comment", "SELECT 1 --1, LOAD_FILE('/etc/passwd')", MYSQL, "refused"),
        Attack("comment", "SELECT 1 --", MYSQL, "refused"),
        Attack(
            "comment",
            "SELECT 1 #\u00a0x\n, 2 /* a /* nested */ DROP TABLE singer */",
            MYSQL,
            "refused",
        ),
    ]
)

STACKED = [
    Attack("stacked", s, BOTH, "refused")
    for s in (
        "SELECT 1; DROP TABLE singer",
        "SELECT 1; DELETE FROM singer;",
        "SELECT * FROM singer;\nUPDATE singer SET age = 0",
        "SELECT 1 /* ; */; DROP TABLE singer -- ",
        "BEGIN; DELETE FROM singer; COMMIT",
        "SELECT 1;;DROP TABLE singer",
        "SELECT 1; SELECT 2",
        "-- SELECT\nDELETE FROM singer",
    )
] + [Attack("stacked", "START TRANSACTION; DELETE FROM singer", MYSQL, "refused")]

SETTINGS = [
    Attack("settings", s, MYSQL, "refused")
    for s in (
        "SET GLOBAL max_connections = 1",
        "SET @a = 1",
        "SET SESSION sql_mode = 'ANSI_QUOTES'",
        "KILL 1",
        "SHUTDOWN",
        "FLUSH PRIVILEGES",
        "GRANT ALL ON *.* TO 'evil'@'%'",
        "CREATE USER evil",
        "CALL mysql.evil()",
        "DO SLEEP(1)",
        "SHOW DATABASES",
        "PREPARE s FROM 'DELETE FROM singer'",
    )
] + [
    Attack("settings", s, SQLITE, "refused")
    for s in (
        "PRAGMA user_version = 7",
        "PRAGMA journal_mode = DELETE",
        "PRAGMA writable_schema = ON",
        "PRAGMA query_only = 0",
    )
]

SLOW = [
    Attack(
        "slow",
        "SELECT COUNT(*) FROM singer a, singer b, singer c, singer d, singer e, singer f",
        BOTH,
        "bounded",
    ),
    Attack(
        "slow",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT COUNT(*) FROM r",
        BOTH,
        "bounded",
    ),
    Attack("slow", "SELECT SLEEP(100)", MYSQL, "bounded"),
    Attack("slow", "SELECT BENCHMARK(100000000000, MD5('studio'))", MYSQL, "bounded"),
    Attack("slow", "SELECT name FROM singer WHERE SLEEP(1) = 0", MYSQL, "bounded"),
    Attack(
        "slow",
        "SELECT COUNT(*) FROM singer a, singer b, singer c, singer d, singer e "
        "WHERE a.name LIKE '%a%b%c%d%e%'",
        SQLITE,
        "bounded",
    ),
]

RECURSION = [
    Attack(
        "recursion",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r",
        BOTH,
        "bounded",
    ),
    Attack(
        "recursion",
        "WITH RECURSIVE r(s) AS (SELECT 'x' UNION ALL SELECT s || s FROM r) "
        "SELECT length(s) FROM r",
        SQLITE,
        "bounded",
    ),
    Attack(
        "recursion",
        "WITH RECURSIVE r(n, s) AS (SELECT 1, CAST('x' AS CHAR(1000000)) UNION ALL "
        "SELECT n + 1, CONCAT(s, s) FROM r WHERE n < 40) SELECT n, LENGTH(s) FROM r",
        MYSQL,
        "bounded",
    ),
    Attack(
        "recursion",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r, singer) "
        "SELECT COUNT(*) FROM r",
        BOTH,
        "bounded",
    ),
]

MEMORY = [
    Attack("memory", s, SQLITE, "bounded")
    for s in (
        "SELECT printf('%.*c', 900000000, 'x')",
        "SELECT randomblob(1000000000)",
        "SELECT zeroblob(1000000000)",
        "SELECT group_concat(hex(randomblob(1000000))) FROM singer a, singer b, singer c",
        "SELECT hex(randomblob(1000000)) FROM singer a, singer b",
        "SELECT replace(hex(zeroblob(10000000)), '0', 'xx')",
        "SELECT a.*, b.*, c.*, d.* FROM singer a, singer b, singer c, singer d",
    )
] + [
    Attack("memory", s, MYSQL, "bounded")
    for s in (
        "SELECT REPEAT('a', 16000000) FROM singer a, singer b, singer c",
        "SELECT REPEAT('a', 1000000000)",
        "SELECT GROUP_CONCAT(REPEAT('x', 1000000)) FROM singer a, singer b",
        "SELECT LPAD('x', 1000000000, 'y')",
        "SELECT SPACE(100000000)",
        "SELECT a.*, b.*, c.*, d.* FROM singer a, singer b, singer c, singer d",
    )
]

DEEP = [
    Attack("deep", s, BOTH, "refused")
    for s in (
        "SELECT " + "(" * 48 + "1" + ")" * 48,
        "SELECT " + "(" * 1000 + "1" + ")" * 1000,
        "SELECT " + "CASE WHEN 1 = 1 THEN " * 100 + "1" + " END" * 100,
        "SELECT " + "NOT " * 2000 + "1",
        "SELECT " + "- " * 5000 + "1",
        "SELECT name FROM singer WHERE name IN "
        + "(SELECT name FROM singer WHERE name IN " * 30
        + "('x')"
        + ")" * 30,
        "SELECT " + "abs(" * 60 + "1" + ")" * 60,
    )
]

HUGE = [
    Attack("huge", s, BOTH, "refused")
    for s in (
        "SELECT name FROM singer WHERE name IN ("
        + ", ".join(f"'{i:05}'" for i in range(8_500))
        + ")",
        "SELECT " + " + ".join(["1"] * 100_000),
        "SELECT name FROM singer WHERE name IN ("
        + ", ".join(f"'n{i}'" for i in range(20_000))
        + ")",
        "SELECT '" + "x" * 500_000 + "'",
        "SELECT name FROM singer /* " + "c" * 1_000_000 + " */",
        " UNION ".join(["SELECT 1"] * 10_000),
    )
]

ATTACKS = (
    WRITES
    + DDL
    + FILES
    + LOCKS
    + EXECUTABLE_COMMENTS
    + STACKED
    + SETTINGS
    + SLOW
    + RECURSION
    + MEMORY
    + DEEP
    + HUGE
)


def attacks_for(engine: str) -> list[Attack]:
    """The catalogue's statements that apply to `engine`."""
    return [attack for attack in ATTACKS if engine in attack.engines]

#!/usr/bin/env bash
# Set up what the test suite needs on a Debian/Ubuntu machine, then run it:
#   - MariaDB at 127.0.0.1:3306 (root, empty password): installed with apt-get when absent,
#     started when down;
#   - Debian's chromium for the browser tests (Playwright drives it; no browser download);
#   - a virtual environment in .venv with requirements-dev.txt installed.
# Arguments go to pytest:  scripts/test.sh -m "not builtin"   or   scripts/test.sh tests/sql -q
# (two workers unless the arguments say otherwise, e.g. -n 0 or -p no:xdist; see the end).
# apt-get and the MariaDB server run as root (through sudo when this script is not root).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  if [ -z "${APT_UPDATED:-}" ]; then
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

mariadb_alive() {
  mysqladmin --protocol=tcp -h127.0.0.1 -uroot ping >/dev/null 2>&1
}

root_login_works() {
  mysql --protocol=tcp -h127.0.0.1 -uroot -e "SELECT 1" >/dev/null 2>&1
}

# MariaDB: install it when absent, start it when down, and wait until it answers.
installed_mariadb=""
if [ ! -x /usr/sbin/mariadbd ]; then
  apt_install mariadb-server
  installed_mariadb=1
fi
if ! mariadb_alive; then
  as_root install -d -o mysql -g mysql /run/mysqld
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  for _ in $(seq 1 60); do
    mariadb_alive && break
    sleep 1
  done
fi
if ! mariadb_alive; then
  echo "MariaDB did not start: see its error log (journalctl or /var/log/mysql/)" >&2
  exit 1
fi
if ! root_login_works; then
  if [ -z "$installed_mariadb" ]; then
    echo "MariaDB runs, but root cannot log in over TCP with an empty password, which the tests" >&2
    echo "use. On a test machine, allow it with:" >&2
    echo "  sudo mysql -e \"ALTER USER root@localhost IDENTIFIED VIA mysql_native_password" \
      "USING PASSWORD('') OR unix_socket\"" >&2
    exit 1
  fi
  # A server this script just installed: give root the empty password the tests use.
  as_root mysql -e "ALTER USER root@localhost IDENTIFIED VIA mysql_native_password \
    USING PASSWORD('') OR unix_socket"
fi

# Debian's chromium for the browser tests.
if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium
fi

# The virtual environment (created once, kept between runs) with the test dependencies.
if [ ! -x .venv/bin/python ]; then
  python3 -c "import ensurepip" 2>/dev/null || apt_install python3-venv
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
.venv/bin/python -m pip install --quiet -r requirements-dev.txt

# The whole suite runs on two pytest-xdist workers (it waits on browsers, jobs and MariaDB as
# much as it computes): `--dist loadgroup` keeps each test file on one worker and every MariaDB
# test on the same one (tests/conftest.py says why). Arguments that name tests (a file, a folder,
# FILE::TEST) run in one process, which starts faster; arguments that choose for themselves
# (-n N, -n 0, --numprocesses, --dist, -p no:xdist) are passed to pytest unchanged.
xdist=(-n 2 --dist loadgroup)
for arg in "$@"; do
  case "$arg" in
    -n | -n* | --numprocesses* | --dist* | no:xdist | -pno:xdist) xdist=() ;;
    -*) ;;
    *) if [ -e "${arg%%::*}" ]; then xdist=(); fi ;;
  esac
done
exec .venv/bin/python -m pytest "${xdist[@]}" "$@"

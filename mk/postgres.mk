# PostgreSQL server binaries for the label-store tests (tests/test_labels.py).
#
# Only the binaries: the tests start their own throwaway server (initdb + pg_ctl in a temp
# dir, loopback, a free port) and stop it again, so nothing is started here. Debian keeps
# initdb/pg_ctl in /usr/lib/postgresql/<version>/bin (not on PATH); the version is whatever
# the distribution ships, so it is looked up, never hard-coded.

PG_FIND_BINDIR := ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1

.PHONY: deps-postgres
deps-postgres: ## install PostgreSQL server binaries (Debian package) for the label-store tests
	@if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then \
	   echo "==> PostgreSQL: $$(command -v initdb) (on PATH)"; exit 0; fi; \
	 bindir=$$($(PG_FIND_BINDIR)); \
	 if [ -n "$$bindir" ] && [ -x "$$bindir/initdb" ] && [ -x "$$bindir/pg_ctl" ]; then \
	   echo "==> PostgreSQL: $$bindir"; exit 0; fi; \
	 command -v apt-get >/dev/null || { echo "error: initdb/pg_ctl not found and apt-get is not available;" \
	   "install the PostgreSQL server (initdb, pg_ctl) by hand — the label-store tests need a real server"; exit 1; }; \
	 sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	 echo "==> Installing PostgreSQL (Debian package 'postgresql') for the label-store tests"; \
	 $$sudo mkdir -p /etc/postgresql-common/createcluster.d; \
	 echo "# The sidecar's tests run their own throwaway server; no system cluster wanted." \
	   | $$sudo tee /etc/postgresql-common/createcluster.d/50-no-main-cluster.conf >/dev/null; \
	 echo "create_main_cluster = false" \
	   | $$sudo tee -a /etc/postgresql-common/createcluster.d/50-no-main-cluster.conf >/dev/null; \
	 $$sudo apt-get update -qq; \
	 $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	 bindir=$$($(PG_FIND_BINDIR)); \
	 if [ -z "$$bindir" ] || [ ! -x "$$bindir/initdb" ] || [ ! -x "$$bindir/pg_ctl" ]; then \
	   echo "error: installed 'postgresql' but found no initdb/pg_ctl under /usr/lib/postgresql/*/bin"; exit 1; fi; \
	 echo "==> PostgreSQL: $$bindir"

TEST_DEPS += deps-postgres

# Soak test (issue 6). Not part of `make test`: it runs for minutes.
#   make soak                          16 clients for 180 s, OPA restarted twice
#   make soak SOAK_ARGS="--duration 60 --clients 8"
# Exit 1 when a protected response was released without allow records, a request has no
# record, or `sidecar records verify` fails. See docs/soak.md.

SOAK_ARGS ?=

.PHONY: soak
soak: venv tools ## soak: concurrent clients while OPA restarts twice; checks records (SOAK_ARGS=--duration N)
	$(PY) -m tests.soak $(SOAK_ARGS)

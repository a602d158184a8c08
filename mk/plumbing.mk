# Per-step CPU of the sidecar's plumbing (issue 16), in-process, no network: records' JCS form,
# the warm relation map, gunicorn's access-log call, the request log line, a read's metrics.
#   make bench-plumbing                       µs of CPU per step (best of 5 rounds)
#   make bench-plumbing BENCH_ARGS="--only record_jcs --scale 0.2"

.PHONY: bench-plumbing
bench-plumbing: venv ## CPU µs per plumbing step (records, relations, logs, metrics), in-process (~30 s)
	$(PY) -m bench.plumbing $(BENCH_ARGS)

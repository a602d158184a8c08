# Benchmark (issue 7). Not part of `make test`: it takes minutes and wants a quiet machine.
#   make bench          stack + open-loop load + one request at a time, writes bench/results/<date>.json,
#                       docs/benchmarks.md + PNG: the speed targets (ratios to the pass-through floor and the
#                       policy's batch evaluation) and need-to-know costs (relation caches warm and cold)
#   make bench-quick    the same with short rounds, to try the harness (rough figures)
#   make bench-report   regenerate docs/benchmarks.md from the newest results file
#   make bench-profile  pyinstrument profile of the hot path (in-process sidecar, real OPA + upstream)
#   make bench-cpu      CPU per request of each process (sidecar warm and cold, OPA, upstream, floor), one at a time

BENCH_ARGS ?=

# wrk (closed loop, C) measures maximum throughput with less client overhead than Python.
# Optional: without it bench/loadgen.py's closed loop is used. Latencies never come from wrk
# (it is closed-loop and would hide queueing).
.PHONY: bench-tools
bench-tools:
	@command -v wrk >/dev/null || { echo "==> installing wrk (apt-get) for the max-throughput runs"; \
	  { apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq wrk >/dev/null 2>&1; }; } \
	  || echo "    wrk not installed; the Python closed loop measures max throughput instead"; }

.PHONY: bench
bench: venv tools bench-tools ## benchmark: direct vs through the sidecar (~8 min), docs/benchmarks.md
	$(PY) -m bench.run $(BENCH_ARGS)

.PHONY: bench-quick
bench-quick: venv tools bench-tools ## short benchmark run to try the harness (rough figures)
	$(PY) -m bench.run --quick --out $(CURDIR)/.tools/bench-quick.json --no-report $(BENCH_ARGS)

.PHONY: bench-report
bench-report: venv ## regenerate docs/benchmarks.md + PNG from the newest bench/results file
	$(PY) -m bench.report

.PHONY: bench-profile
bench-profile: venv tools ## pyinstrument profile of the sidecar hot path -> bench/results/profile-<date>.*
	$(PY) -m bench.profile

.PHONY: bench-cpu
bench-cpu: venv tools ## CPU per request of sidecar (relations warm, cold), OPA, upstream, floor (~2 min)
	$(PY) -m bench.cpu $(BENCH_ARGS)

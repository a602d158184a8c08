# The policies compiled to WebAssembly, for the in-process engine (opa.engine: wasm).
#
#   make wasm-bundle                                       .tools/wasm/bundle.tar.gz, unsigned
#   make wasm-bundle WASM_SIGNING_KEY=/secure/key.pem      signed (set opa.wasm_bundle_public_key)
#   make bench-engines                                     CPU per decision: REST vs wasm
#
# Only the decision is an entrypoint: wams/profile/errors builds its messages with sprintf, a
# builtin the engine does not provide (the engine refuses a module that needs one). Keep the
# entrypoint and the ignore list in step with build_wasm_bundle in sidecar/devtools/demo.py.

WASM_BUNDLE_OUT   ?= $(CURDIR)/.tools/wasm/bundle.tar.gz
WASM_SIGNING_KEY  ?=
WASM_SIGNING_ALG  ?= RS256
# The same revision rule as `make bundle` (mk/ops.mk): the commit, -dirty with local policy edits.
WASM_REVISION     ?= $(BUNDLE_REVISION)

.PHONY: wasm-bundle
wasm-bundle: $(if $(filter $(TOOLS)/opa,$(OPA)),$(TOOLS)/opa) ## policies compiled to Wasm (.tools/wasm/bundle.tar.gz)
	@test -n "$(WASM_REVISION)" || { echo "error: could not determine a bundle revision (set WASM_REVISION=…)"; exit 1; }
	@mkdir -p $(dir $(WASM_BUNDLE_OUT))
	$(OPA) build -b -t wasm -e wams/authz/decision policies/ \
	  --ignore '*_test.rego' --ignore testdata --ignore .regal --ignore '*.md' \
	  --revision $(WASM_REVISION) \
	  $(if $(WASM_SIGNING_KEY),--signing-key $(WASM_SIGNING_KEY) --signing-alg $(WASM_SIGNING_ALG)) \
	  -o $(WASM_BUNDLE_OUT)
	@echo "    $(WASM_BUNDLE_OUT): revision $(WASM_REVISION), $(if $(WASM_SIGNING_KEY),signed ($(WASM_SIGNING_ALG)),unsigned)"

.PHONY: bench-engines
bench-engines: venv tools ## CPU per decision and per 50-item batch: OPA over REST vs the wasm engine
	$(PY) -m bench.engines $(BENCH_ARGS)

# Operations: signed policy bundles, and the Debian tools the deploy/ tests need.
#
#   make bundle                          signed bundle build/bundle.tar.gz (dev key when none is given)
#                                        and its signed Wasm twin build/bundle-wasm.tar.gz (same key, revision)
#   make bundle BUNDLE_SIGNING_KEY=/secure/bundle-signing.key.pem   sign with the real key
#   make deps-prometheus                 promtool + prometheus (Debian package), for the tests

BUNDLE_OUT          ?= build/bundle.tar.gz
# The signed Wasm bundle of the same policies (same key and revision), published beside it for the
# sidecar's in-process engine (opa.wasm_bundle_url); file name bundle-wasm.tar.gz on the server.
BUNDLE_WASM_OUT     ?= $(dir $(BUNDLE_OUT))bundle-wasm.tar.gz
BUNDLE_SIGNING_ALG  ?= RS256
# The dev key lives under .tools/ (git-ignored) so that a throw-away key is never committed.
BUNDLE_DEV_KEY_DIR  := $(CURDIR)/.tools/bundle-signing
BUNDLE_SIGNING_KEY  ?= $(BUNDLE_DEV_KEY_DIR)/dev.key.pem
# Revision: the commit when policies/ is in git (with -dirty when policies/ has local edits),
# else the content hash the demo uses, so every decision record names a reproducible revision.
BUNDLE_REVISION     ?= $(shell \
  if git rev-parse --short HEAD >/dev/null 2>&1; then \
    rev=$$(git rev-parse --short HEAD); \
    if [ -n "$$(git status --porcelain -- policies/ 2>/dev/null)" ]; then rev="$$rev-dirty"; fi; \
    echo "$$rev"; \
  else \
    $(PY) -c 'from pathlib import Path; from sidecar.devtools.demo import policy_revision; print(policy_revision(Path("policies")))' 2>/dev/null; \
  fi)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

$(BUNDLE_DEV_KEY_DIR)/dev.key.pem:
	@echo "==> No BUNDLE_SIGNING_KEY given: generating a DEV signing key pair in $(BUNDLE_DEV_KEY_DIR) (never use it in production)"
	@mkdir -p $(BUNDLE_DEV_KEY_DIR) && chmod 700 $(BUNDLE_DEV_KEY_DIR)
	@openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out $@ 2>/dev/null
	@chmod 600 $@
	@openssl pkey -in $@ -pubout -out $(BUNDLE_DEV_KEY_DIR)/dev.pub.pem

.PHONY: bundle
bundle: $(if $(filter $(TOOLS)/opa,$(OPA)),$(TOOLS)/opa) $(if $(filter $(BUNDLE_DEV_KEY_DIR)/dev.key.pem,$(BUNDLE_SIGNING_KEY)),$(BUNDLE_DEV_KEY_DIR)/dev.key.pem) ## signed policy bundles for the bundle server (build/bundle.tar.gz, build/bundle-wasm.tar.gz)
	@test -n "$(BUNDLE_REVISION)" || { echo "error: could not determine a bundle revision (set BUNDLE_REVISION=…)"; exit 1; }
	@test -r "$(BUNDLE_SIGNING_KEY)" || { echo "error: BUNDLE_SIGNING_KEY=$(BUNDLE_SIGNING_KEY) is not a readable PEM file"; exit 1; }
	@mkdir -p $(dir $(BUNDLE_OUT))
	$(OPA) build -b policies/ --ignore '*_test.rego' --ignore testdata --ignore .regal --ignore '*.md' \
	  --revision $(BUNDLE_REVISION) --signing-alg $(BUNDLE_SIGNING_ALG) --signing-key $(BUNDLE_SIGNING_KEY) \
	  -o $(BUNDLE_OUT)
	@echo "    $(BUNDLE_OUT): revision $(BUNDLE_REVISION), signed ($(BUNDLE_SIGNING_ALG)) with $(BUNDLE_SIGNING_KEY)"
	@$(MAKE) --no-print-directory wasm-bundle WASM_BUNDLE_OUT=$(abspath $(BUNDLE_WASM_OUT)) \
	  WASM_REVISION=$(BUNDLE_REVISION) WASM_SIGNING_KEY=$(BUNDLE_SIGNING_KEY) WASM_SIGNING_ALG=$(BUNDLE_SIGNING_ALG)

# Debian's prometheus package ships both promtool (rule checks and rule unit tests) and the
# server (tests/test_e2e_prometheus.py). Its service is not started in containers, where
# policy-rc.d forbids it; on a full Debian host it is, and `systemctl disable --now prometheus`
# turns it off again.
.PHONY: deps-prometheus
deps-prometheus: ## install promtool + prometheus (Debian package) when missing
	@if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then :; else \
	  echo "==> apt-get install prometheus (promtool and the server, for the deploy tests)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  command -v promtool >/dev/null || { echo "error: promtool still missing after apt-get install prometheus"; exit 1; }; \
	fi

TEST_DEPS += deps-prometheus

# A real headless browser for the FG console's test (tests/test_console.py): Debian's chromium
# and chromium-driver, driven from Python with Selenium (pyproject's dev extras).
#
# Only the packages: the test starts its own browser (headless, a profile in the test's temp
# folder) and stops it again.

.PHONY: deps-browser
deps-browser: ## install Debian's chromium and chromium-driver for the FG console's browser test
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then \
	   echo "==> Browser: $$(/usr/bin/chromium --version 2>/dev/null | head -1) with chromedriver"; exit 0; fi; \
	 command -v apt-get >/dev/null || { echo "error: chromium/chromedriver not found and apt-get is not available;" \
	   "install Debian's chromium and chromium-driver by hand — the console's browser test needs them"; exit 1; }; \
	 sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	 echo "==> Installing chromium and chromium-driver (Debian packages) for the FG console's browser test"; \
	 $$sudo apt-get update -qq; \
	 $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; \
	 if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	   echo "error: installed chromium and chromium-driver but found no /usr/bin/chromium or /usr/bin/chromedriver"; exit 1; fi; \
	 echo "==> Browser: $$(/usr/bin/chromium --version 2>/dev/null | head -1) with chromedriver"

TEST_DEPS += deps-browser

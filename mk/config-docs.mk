# docs/configuration.md is generated from the settings model (sidecar/settings.py): every setting,
# its type, default, environment variable and description. tests/test_config_reference.py fails
# when it is stale.

.PHONY: config-docs
config-docs: venv ## regenerate docs/configuration.md from the settings model
	$(PY) -m sidecar.devtools.config_reference

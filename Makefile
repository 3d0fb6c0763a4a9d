# Every target runs inside the project's virtualenv (.venv), made by `make setup`.
VENV   := .venv
BIN    := $(abspath $(VENV)/bin)
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(abspath ansible.cfg)

.PHONY: setup lint test unit integration molecule demo

setup:
	scripts/setup.sh

lint:
	ruff check .
	ansible-lint --profile production $(wildcard playbooks roles)

unit:
	pytest -q tests/unit

integration:
	pytest -q tests/integration

molecule:
	@if [ -d molecule/default ]; then molecule test; else echo "molecule: no scenario yet"; fi

test: lint
	pytest -q -n 2 --dist loadgroup tests
	$(MAKE) molecule

demo:
	scripts/demo.sh

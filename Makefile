# Every target runs inside the project's virtualenv (.venv), made by `make setup`.
VENV   := .venv
BIN    := $(abspath $(VENV)/bin)
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(abspath ansible.cfg)

.PHONY: setup lint sanity test unit integration molecule demo

setup:
	scripts/setup.sh

lint:
	ruff check .
	ansible-lint --profile production $(wildcard playbooks roles)

# ansible-test sanity on the built and installed collection (scripts/sanity.sh): ~1.5 min with
# its per-test virtualenvs cached in .cache/ansible-test-home, about 3 min on a cold cache.
sanity:
	scripts/sanity.sh

unit:
	pytest -q tests/unit

integration:
	pytest -q tests/integration

molecule:
	@if [ -d molecule/default ]; then molecule test; else echo "molecule: no scenario yet"; fi

test: lint sanity
	pytest -q -n 2 tests
	$(MAKE) molecule

demo:
	scripts/demo.sh

# Every target runs inside the project's virtualenv (.venv), made by `make setup`. The targets a
# newcomer runs (demo, test, ...) do the set-up first when it was never done or is out of date:
# the stamp below is older than one of the files that decide what set-up installs.
VENV   := .venv
BIN    := $(abspath $(VENV)/bin)
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(abspath ansible.cfg)

SETUP_STAMP  := $(VENV)/.setup-done
SETUP_INPUTS := requirements.txt scripts/setup.sh scripts/tools.sha256 $(wildcard scripts/setup.d/*)
# The checkout used in place as the collection (scripts/setup.d/collection.sh makes the link).
COLLECTION_LINK := .cache/collections/ansible_collections/tekton_cd/pipeline

.PHONY: setup lint sanity test unit integration molecule demo docs ee bench

# Always runs (safe to re-run: each step skips what is already done).
setup:
	scripts/setup.sh
	touch $(SETUP_STAMP)

$(SETUP_STAMP): $(SETUP_INPUTS)
	scripts/setup.sh
	touch $@

# A removed .cache (make clean by hand, say) loses the link but not the virtualenv.
$(COLLECTION_LINK):
	bash scripts/setup.d/collection.sh

lint: $(SETUP_STAMP) $(COLLECTION_LINK)
	ruff check .
	ansible-lint --profile production

# ansible-test sanity on the built and installed collection (scripts/sanity.sh): ~1.5 min with
# its per-test virtualenvs cached in .cache/ansible-test-home, about 3 min on a cold cache.
sanity: $(SETUP_STAMP) $(COLLECTION_LINK)
	scripts/sanity.sh

unit: $(SETUP_STAMP) $(COLLECTION_LINK)
	pytest -q tests/unit

integration: $(SETUP_STAMP) $(COLLECTION_LINK)
	pytest -q tests/integration

molecule: $(SETUP_STAMP) $(COLLECTION_LINK)
	@if [ -d molecule/default ]; then molecule test; else echo "molecule: no scenario yet"; fi

test: lint sanity
	pytest -q -n 2 --dist loadgroup tests
	$(MAKE) molecule

demo: $(SETUP_STAMP) $(COLLECTION_LINK)
	scripts/demo.sh

# Regenerates docs/variables.md from the roles' meta/argument_specs.yml and docs/pipeline-dag.svg
# from the health-cd Pipeline's definition (unit tests check both are current).
docs: $(SETUP_STAMP) $(COLLECTION_LINK)
	python scripts/role_docs.py
	python scripts/pipeline_picture.py

# The execution environment for AWX / Automation Platform (execution-environment.yml): the collection
# packed by ansible-galaxy, then ansible-builder (needs podman or docker).
ee: $(SETUP_STAMP)
	rm -rf build/ee && mkdir -p build/ee
	ansible-galaxy collection build --force --output-path build/ee .
	mv build/ee/tekton_cd-pipeline-*.tar.gz build/ee/tekton_cd-pipeline.tar.gz
	ansible-builder build -f execution-environment.yml --context build/ee/context -t tekton-cd-ee

# Measure provision.yml against kubernetes.core and kubectl, scaling to 1, 10 and 50 tenants, and the
# run-wait latency (emulated cluster; also TEST_KUBECONFIG's cluster when set), and write
# docs/benchmarks.md with its plots. Installs .cache/bench-venv on first use. On a quiet 2-CPU
# machine the default run takes ~15 min, ~75 min with TEST_KUBECONFIG set (25 of them waiting for
# the real cluster to finalize the 100 namespaces of each N = 50 repetition).
bench: $(SETUP_STAMP) $(COLLECTION_LINK)
	python -m benchmarks

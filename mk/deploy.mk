# Deployment to separate hosts with Ansible (issue 12): scripts/hosts.sh
# makes hosts with their own file systems and sshd in the test fabric;
# tests/e2e_deploy deploys the full topology onto them with `emailng deploy`.
# `make bench-deploy` (not part of `make test`; root, 15-25 minutes):
# bench/deploy/run.py times the first deploy, the second run and a rolling
# upgrade under load beside the same load with no roll
# (BENCH_ARGS="--filter" deploys the content filter too).
# Included by the top Makefile; only appends to its variables.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

EXTRA_TESTS += e2e-deploy

.PHONY: e2e-deploy bench-deploy

e2e-deploy: $(BUILD)/emailng $(BUILD)/emailng-policyd $(BUILD)/emailng-healthd $(BUILD)/emailng-syncwatch
	EMAILNG=$(CURDIR)/$(BUILD)/emailng EMAILNG_DATADIR=$(CURDIR) \
	  /usr/bin/python3 -m pytest -v --durations=0 --durations-min=5 tests/e2e_deploy

bench-deploy: $(BUILD)/emailng $(EXTRA_BINS)
	EMAILNG=$(CURDIR)/$(BUILD)/emailng EMAILNG_DATADIR=$(CURDIR) \
	  /usr/bin/python3 bench/deploy/run.py $(BENCH_ARGS)

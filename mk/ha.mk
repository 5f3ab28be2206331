# The full topology (issue 4, docs/architecture.md): its end-to-end tests
# start examples/ha-site.yaml in the test fabric (one network namespace per
# host). Included by the top Makefile; only appends to its variables.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

EXTRA_TESTS += e2e-ha

.PHONY: e2e-ha

e2e-ha: $(BUILD)/emailng $(BUILD)/emailng-policyd $(BUILD)/emailng-healthd $(BUILD)/emailng-syncwatch
	EMAILNG=$(CURDIR)/$(BUILD)/emailng EMAILNG_DATADIR=$(CURDIR) \
	  /usr/bin/python3 -m pytest -v --durations=0 --durations-min=5 tests/e2e_ha

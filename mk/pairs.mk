# Several store pairs (issue 15, A2): the full topology grown by a second
# pair while it runs, placement of new users and `emailng user move`
# (tests/e2e_pairs, its own fabric so that tests/e2e_ha keeps its seven
# hosts). Included by the top Makefile; only appends to its variables.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

EXTRA_TESTS += e2e-pairs

.PHONY: e2e-pairs

e2e-pairs: $(BUILD)/emailng $(BUILD)/emailng-policyd $(BUILD)/emailng-healthd $(BUILD)/emailng-syncwatch
	EMAILNG=$(CURDIR)/$(BUILD)/emailng EMAILNG_DATADIR=$(CURDIR) \
	  /usr/bin/python3 -m pytest -v --durations=0 --durations-min=5 tests/e2e_pairs

# The internet tests (issue 11): EmailNG's one-host site at a public
# address of the test fabric, beside an outside world it does not
# configure (tests/e2e_internet/conftest.py). Included by the top Makefile;
# only appends to its variables.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

EXTRA_TESTS += e2e-internet

.PHONY: e2e-internet

e2e-internet: $(BUILD)/emailng $(BUILD)/emailng-policyd $(BUILD)/emailng-fromcheck
	EMAILNG=$(CURDIR)/$(BUILD)/emailng EMAILNG_DATADIR=$(CURDIR) \
	  /usr/bin/python3 -m pytest -v --durations=0 --durations-min=5 tests/e2e_internet

# The long fault campaign on separate hosts (issue 12, "Measure";
# bench/ha/campaign.py): 10,000 messages by MX and submission through every
# fault kind and a rolling upgrade. Root; 30-50 minutes on a loaded machine.
# Not part of `make test`. Options through BENCH_ARGS, e.g.
#   make bench-ha-campaign BENCH_ARGS="--messages 500"
.PHONY: bench-ha-campaign

bench-ha-campaign: $(BUILD)/emailng $(EXTRA_BINS)
	EMAILNG=$(CURDIR)/$(BUILD)/emailng EMAILNG_DATADIR=$(CURDIR) \
	  /usr/bin/python3 bench/ha/campaign.py $(BENCH_ARGS)

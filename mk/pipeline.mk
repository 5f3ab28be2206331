# Pipeline throughput bench (issue 14): raw Postfix -> LMTP -> Dovecot beside
# EmailNG's small site with filtering off and on, in one run (needs root;
# several minutes; not part of `make test`). Options through BENCH_ARGS, e.g.
#   make bench-pipeline BENCH_ARGS="--modes raw,off,off+nocache --rounds 5"
.PHONY: bench-pipeline

bench-pipeline: $(BUILD)/emailng
	EMAILNG=$(CURDIR)/$(BUILD)/emailng /usr/bin/python3 bench/pipeline/run.py $(BENCH_ARGS)

# make bench / make bench-smoke: latch beside nginx, on SQLite and PostgreSQL, and an Express
# app (issues 6, 14).
# The Makefile includes this file; bench/run.sh does the work (see bench/run.sh --help).
#   make bench         full run (about 30 minutes: 9 rounds): writes docs/benchmarks.md and .png
#   make bench-smoke   a few seconds per case (under 5 minutes): proves the harness works;
#                      the report goes to a temp dir unless BENCH_OUT=dir is given
# BENCH_LATCH=path measures a binary built elsewhere instead of building this tree;
# BENCH_ARGS passes more options to bench/run.sh.
BENCH_BUILD ?= build-bench
BENCH_LATCH ?= $(BENCH_BUILD)/release/latch
BENCH_OUT   ?=
BENCH_ARGS  ?=

.PHONY: bench bench-smoke bench-latch

bench-latch:
ifeq ($(BENCH_LATCH),$(BENCH_BUILD)/release/latch)
	@scripts/deps.sh build
	@$(MAKE) --no-print-directory BUILD=$(BENCH_BUILD) $(BENCH_LATCH)
endif

bench: bench-latch
	bench/run.sh --latch $(BENCH_LATCH) --duration 10 --rounds 9 --tokens 10000 --users 1000 \
	    --idle-conns 10000 --startup-runs 11 --argon2-runs 21 --title "make bench" \
	    --out $(if $(BENCH_OUT),$(BENCH_OUT),docs) $(BENCH_ARGS)

bench-smoke: bench-latch
	bench/run.sh --latch $(BENCH_LATCH) --duration 2 --rounds 3 --tokens 10000 --users 200 \
	    --idle-conns 10000 --startup-runs 5 --argon2-runs 5 --title "make bench-smoke" \
	    $(if $(BENCH_OUT),--out $(BENCH_OUT)) $(BENCH_ARGS)

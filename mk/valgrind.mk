# mk/valgrind.mk - the whole test suite under valgrind (memcheck), included by the Makefile.
#
#   make test-valgrind                  unit tests, then the integration suite with every
#                                       `latch serve` of the harness under valgrind
#   make test-valgrind T=test_tls       a subset (unit-test filter and integration substring)
#   make test-valgrind VG_LOG_DIR=dir   keep valgrind's logs there (default: a temp dir,
#                                       kept and named when something failed)
#
# Valgrind needs a build without sanitizers: $(BUILD)/valgrind/ holds latch and the unit
# tests compiled with -O1 -g.  The unit tests run under
#   valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
# and the integration harness (tests/integration/harness.py) wraps each server in the same
# valgrind when LATCH_VALGRIND=1: one log per server process, checked at stop() for errors
# and definite leaks; start/stop/HTTP timeouts are scaled and timed assertions are skipped
# or scaled (harness.TIME_SCALE, harness.skip_if_valgrind).
# The last line of the run reads "N passed, N failed".

# Read before the Makefile's first target: keep 'all' the default goal.
vg_saved_default_goal := $(.DEFAULT_GOAL)

VALGRIND     ?= valgrind
VG_CFLAGS     = -O1 -g -fno-omit-frame-pointer
VG_DIR        = $(BUILD)/valgrind
VG_OPTS       = --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
                --show-leak-kinds=definite --track-origins=yes --num-callers=30
VG_LOG_DIR   ?=

.PHONY: test-valgrind valgrind-build valgrind-unit valgrind-integration valgrind-tool

valgrind-tool:
	@command -v $(VALGRIND) >/dev/null 2>&1 || \
	    { echo "test-valgrind: '$(VALGRIND)' not found; run 'make test-deps' or" \
	           "'apt-get install valgrind'" >&2; exit 1; }

valgrind-build: $(VG_DIR)/latch $(VG_DIR)/unit-tests

$(VG_DIR)/latch: $(SRC) $(HDRS) $(GEN_SRC) Makefile mk/valgrind.mk
	@mkdir -p $(@D)
	$(CC) $(BASE) $(VG_CFLAGS) $(PKG_CFLAGS) -o $@ $(SRC) $(GEN_SRC) $(BIN_LIBS)

$(VG_DIR)/unit-tests: $(LIB_SRC) $(UNIT_SRC) $(HDRS) $(GEN_SRC) Makefile mk/valgrind.mk
	@mkdir -p $(@D)
	$(CC) $(BASE) -iquote tests/unit $(VG_CFLAGS) $(PKG_CFLAGS) -o $@ $(LIB_SRC) $(GEN_SRC) \
	    $(UNIT_SRC) $(PKG_LIBS)

# The recipe uses pipefail: bash, for this target only.
test-valgrind: SHELL := /bin/bash

# Each part prints its own "N passed, N failed" line; test-valgrind sums them the way
# scripts/run-tests.sh does (a runner that died before its summary counts as a failure).
test-valgrind: valgrind-tool valgrind-build
	@set -u -o pipefail; \
	logs=$$(mktemp -d); trap 'rm -rf "$$logs"' EXIT; \
	vglogs="$(VG_LOG_DIR)"; [ -n "$$vglogs" ] || vglogs=$$(mktemp -d /tmp/latch-vg-XXXXXX); \
	mkdir -p "$$vglogs"; \
	counts() { sed -n 's/^\(.*: \)\{0,1\}\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*$$/\2 \3/p' "$$1" | tail -n 1; }; \
	echo "== unit tests under valgrind (log: $$vglogs/unit.log)"; \
	$(VALGRIND) $(VG_OPTS) --log-file="$$vglogs/unit.log" $(VG_DIR)/unit-tests $(T) 2>&1 | tee "$$logs/unit"; \
	unit_rc=$$?; \
	if [ "$$unit_rc" -eq 99 ]; then \
	    echo "valgrind: errors in the unit tests:"; \
	    grep -E '^==[0-9]+== ' "$$vglogs/unit.log" | sed -n '/ERROR SUMMARY\|definitely lost\|Invalid\|uninitialised\|Mismatched\|overlap\|at 0x\|by 0x/p' | head -60; \
	fi; \
	echo "== integration tests, latch under valgrind (logs: $$vglogs)"; \
	LATCH_VALGRIND=1 LATCH_VALGRIND_LOG_DIR="$$vglogs" LATCH_VALGRIND_CMD="$(VALGRIND)" \
	    LATCH_BIN=$(VG_DIR)/latch /usr/bin/python3 tests/integration/run.py $(T) 2>&1 | tee "$$logs/integ"; \
	integ_rc=$$?; \
	set -- $$(counts "$$logs/unit");  up=$${1:-0}; uf=$${2:-1}; \
	set -- $$(counts "$$logs/integ"); ip=$${1:-0}; if_=$${2:-1}; \
	passed=$$((up + ip)); failed=$$((uf + if_)); \
	[ "$$unit_rc" -ne 0 ] && [ "$$uf" -eq 0 ] && failed=$$((failed + 1)); \
	[ "$$integ_rc" -ne 0 ] && [ "$$if_" -eq 0 ] && failed=$$((failed + 1)); \
	if [ "$$failed" -eq 0 ] && [ -z "$(VG_LOG_DIR)" ]; then rm -rf "$$vglogs"; \
	else echo "valgrind logs kept in $$vglogs"; fi; \
	echo "$$passed passed, $$failed failed"; \
	[ "$$failed" -eq 0 ]

.DEFAULT_GOAL := $(vg_saved_default_goal)

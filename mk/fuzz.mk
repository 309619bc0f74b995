# mk/fuzz.mk - libFuzzer targets (tests/fuzz/fuzz_*.c), included by the Makefile.
#
#   make fuzz                    build every target, run each for FUZZ_TIME seconds
#   make fuzz FUZZ_TIME=10 FUZZ_TARGETS=fuzz_jws
#   make fuzz FUZZ_ARGS=-only_ascii=1    more libFuzzer flags
#   make fuzz-build              build only, into $(BUILD)/fuzz/
#   make fuzz-regress            run each target once over its committed corpus (seconds)
#
# The library sources are compiled with clang and -fsanitize=fuzzer-no-link so
# that libFuzzer sees their coverage; each target links with -fsanitize=fuzzer.
# Objects live in $(BUILD)/fuzz/obj, apart from the gcc builds, because they
# are instrumented differently.  See tests/fuzz/README.md.

# This file is read before the Makefile's own first target: keep 'all' the
# default goal by restoring .DEFAULT_GOAL (empty = "the next target parsed").
fuzz_saved_default_goal := $(.DEFAULT_GOAL)

FUZZ_CC      ?= clang
FUZZ_TIME    ?= 60
FUZZ_MAX_LEN ?= 8192
FUZZ_ALL     := $(sort $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c))))
FUZZ_TARGETS ?= $(FUZZ_ALL)

# -fno-sanitize-recover=all: UBSan findings abort, so libFuzzer records them as crashes.
FUZZ_COMMON  = -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_LIB_SAN = -fsanitize=fuzzer-no-link,address,undefined
FUZZ_BIN_SAN = -fsanitize=fuzzer,address,undefined

# The parsers under test live in these parts of src/ (ARCHITECTURE.md: arrows
# point down, so they need nothing from api/, store/ or work/; of mail/ the
# targets use message.c, smtp.c is compiled but never linked in).  Of http/ only
# the pure parts (framing.c, parse.c): the rest of it is the event loop and
# TLS.  Add a directory or file here when a new target needs one.
# The outbox sender (src/mail/outbox.c) needs the store: no parser there.
FUZZ_LIB_SRC = $(filter-out src/mail/outbox.c,$(filter src/auth/% src/util/% src/mail/% \
                   src/config.c src/http/framing.c src/http/parse.c,$(LIB_SRC)))

FUZZ_DIR     = $(BUILD)/fuzz
FUZZ_LIB_OBJ = $(patsubst src/%.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_LIB_SRC))
FUZZ_BINS    = $(addprefix $(FUZZ_DIR)/,$(FUZZ_ALL))

.PHONY: fuzz fuzz-build fuzz-regress fuzz-toolchain

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@BUILD=$(BUILD) FUZZ_TIME=$(FUZZ_TIME) FUZZ_MAX_LEN=$(FUZZ_MAX_LEN) FUZZ_ARGS="$(FUZZ_ARGS)" \
	    tests/fuzz/run.sh fuzz $(FUZZ_TARGETS)

fuzz-regress: fuzz-build
	@BUILD=$(BUILD) tests/fuzz/run.sh regress $(FUZZ_TARGETS)

# clang and libFuzzer come with the test dependencies (scripts/deps.sh test).
fuzz-toolchain:
	@printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d[0] && n; }\n' | \
	    $(FUZZ_CC) -fsanitize=fuzzer -x c -o /dev/null - >/dev/null 2>&1 || \
	    { echo "fuzz: '$(FUZZ_CC) -fsanitize=fuzzer' does not link; run 'make test-deps'" \
	           "(clang, libclang-rt-14-dev)" >&2; exit 1; }

$(FUZZ_DIR)/obj/%.o: src/%.c Makefile mk/fuzz.mk | fuzz-toolchain
	@mkdir -p $(@D)
	$(FUZZ_CC) $(BASE) $(FUZZ_COMMON) $(FUZZ_LIB_SAN) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

# An archive, so each target pulls in only the objects it needs.
$(FUZZ_DIR)/liblatch-fuzz.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DIR)/liblatch-fuzz.a Makefile mk/fuzz.mk
	@mkdir -p $(@D)
	$(FUZZ_CC) $(BASE) $(FUZZ_COMMON) $(FUZZ_BIN_SAN) $(PKG_CFLAGS) -MMD -MP -MF $@.d -o $@ $< \
	    $(FUZZ_DIR)/liblatch-fuzz.a $(PKG_LIBS)

-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_BINS:=.d)

.DEFAULT_GOAL := $(fuzz_saved_default_goal)

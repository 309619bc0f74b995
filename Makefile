# latch - build, run, test.  The two commands a newcomer needs: make run, make test.
.SUFFIXES:
.DEFAULT_GOAL := all

ifeq ($(origin CC),default)
CC = cc
endif
PKGS     = libmicrohttpd openssl libsodium jansson sqlite3
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
           -Wno-missing-field-initializers
BASE     = -std=c11 -D_GNU_SOURCE -iquote src $(WARN) -pthread
RELEASE  = -O2 -g -DNDEBUG -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
SANITIZE = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all

BUILD   ?= build
SRC      = $(shell find src -name '*.c' | sort)
LIB_SRC  = $(filter-out src/main.c,$(SRC))
UNIT_SRC = $(shell find tests/unit -name '*.c' | sort)
HDRS     = $(shell find src tests/unit -name '*.h')

# pkg-config is asked only when building, so 'make deps' works on a bare machine.
PKG_CFLAGS = $$(pkg-config --cflags $(PKGS))
PKG_LIBS   = $$(pkg-config --libs $(PKGS)) -lm

-include mk/*.mk

.PHONY: all latch deps test-deps run test unit integration clean format

all: latch

deps:
	@scripts/deps.sh build

test-deps:
	@scripts/deps.sh test

latch: $(BUILD)/release/latch
	@cp $(BUILD)/release/latch latch

$(BUILD)/release/latch: $(SRC) $(HDRS) Makefile
	@mkdir -p $(@D)
	$(CC) $(BASE) $(RELEASE) $(CFLAGS) $(PKG_CFLAGS) -o $@ $(SRC) -pie $(PKG_LIBS) $(LDFLAGS)

# The test build: -Werror, AddressSanitizer + UndefinedBehaviorSanitizer.
$(BUILD)/asan/latch: $(SRC) $(HDRS) Makefile
	@mkdir -p $(@D)
	$(CC) $(BASE) -Werror $(SANITIZE) $(PKG_CFLAGS) -o $@ $(SRC) $(PKG_LIBS)

$(BUILD)/asan/unit-tests: $(LIB_SRC) $(UNIT_SRC) $(HDRS) Makefile
	@mkdir -p $(@D)
	$(CC) $(BASE) -Werror -iquote tests/unit $(SANITIZE) $(PKG_CFLAGS) -o $@ $(LIB_SRC) $(UNIT_SRC) \
	    $(PKG_LIBS)

run: deps latch
	./latch serve

# make test [T=name] runs unit tests, then integration tests against the
# real binary; the last line reads "total: N passed, N failed".
test: test-deps $(BUILD)/asan/latch $(BUILD)/asan/unit-tests
	@BUILD=$(BUILD) T="$(T)" scripts/run-tests.sh

unit: $(BUILD)/asan/unit-tests
	@$(BUILD)/asan/unit-tests $(T)

integration: $(BUILD)/asan/latch
	@LATCH_BIN=$(BUILD)/asan/latch /usr/bin/python3 tests/integration/run.py $(T)

format:
	clang-format -i $(SRC) $(HDRS) $(UNIT_SRC)

clean:
	rm -rf $(BUILD) latch

# latch - build, run, test.  The two commands a newcomer needs: make run, make test.
.SUFFIXES:
.DEFAULT_GOAL := all

ifeq ($(origin CC),default)
CC = cc
endif
PKGS     = openssl libsodium jansson sqlite3 libpq libxcrypt libqrencode libcurl
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
           -Wno-missing-field-initializers
# The version lives in src/latch_version.h; the commit is what git says of
# this tree ("unknown" outside a checkout), for latch --version and /metrics.
VERSION := $(shell sed -n 's/^\#define LATCH_VERSION "\(.*\)"/\1/p' src/latch_version.h)
COMMIT  := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
BASE     = -std=c11 -D_GNU_SOURCE -iquote src $(WARN) -pthread -DLATCH_COMMIT='"$(COMMIT)"'
RELEASE  = -O2 -g -DNDEBUG -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
RELRO    = -Wl,-z,relro -Wl,-z,now
SANITIZE = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all

BUILD   ?= build
SRC      = $(shell find src -name '*.c' | sort)
# The command line (main.c and src/cli/) is not part of the unit-tested library.
LIB_SRC  = $(filter-out src/main.c src/cli/%,$(SRC))
UNIT_SRC = $(shell find tests/unit -name '*.c' | sort)
HDRS     = $(shell find src tests/unit -name '*.h')

# The lesson page (LATCH_UI=1), compiled into every build as C arrays
# (src/ui/ui_assets.h).  A file added here also needs its URL in src/api/ui.c.
UI_FILES = src/ui/index.html src/ui/app.js src/ui/style.css src/ui/icon.svg
UI_GEN   = $(BUILD)/gen/ui_assets.c

# The OpenAPI document (GET /openapi.json): docs/openapi.yaml converted to JSON
# by Debian's python3-yaml, then compiled in the same way (src/api/openapi.h).
OPENAPI_YAML = docs/openapi.yaml
OPENAPI_JSON = $(BUILD)/gen/openapi.json
OPENAPI_GEN  = $(BUILD)/gen/openapi_doc.c

# Every generated source, compiled into every build that has src/api/.
GEN_SRC  = $(UI_GEN) $(OPENAPI_GEN)

# pkg-config is asked only when building, so 'make deps' works on a bare machine.
PKG_CFLAGS = $$(pkg-config --cflags $(PKGS))
PKG_LIBS   = $$(pkg-config --libs $(PKGS)) -lm
# The server binary does not link libpq or libcurl: it opens them only when
# PostgreSQL or mail is configured (src/util/dynlib.h), which keeps their
# dependency trees out of a default server's memory.  The unit tests, the
# probe and the fuzz targets link every library.
BIN_LIBS   = $$(pkg-config --libs $(filter-out libpq libcurl,$(PKGS))) -lm

-include mk/*.mk

.PHONY: all latch deps test-deps run test unit integration clean format

all: latch

deps:
	@scripts/deps.sh build

test-deps:
	@scripts/deps.sh test

latch: $(BUILD)/release/latch
	@cp $(BUILD)/release/latch latch

$(UI_GEN): $(UI_FILES) scripts/embed-ui.sh Makefile
	@mkdir -p $(@D)
	scripts/embed-ui.sh $@ $(UI_FILES)

$(OPENAPI_JSON): $(OPENAPI_YAML) scripts/openapi-json.py Makefile
	@mkdir -p $(@D)
	/usr/bin/python3 scripts/openapi-json.py $(OPENAPI_YAML) $@

$(OPENAPI_GEN): $(OPENAPI_JSON) scripts/embed-ui.sh Makefile
	scripts/embed-ui.sh --table openapi_assets --include api/openapi.h $@ $(OPENAPI_JSON)

$(BUILD)/release/latch: $(SRC) $(HDRS) $(GEN_SRC) Makefile
	@mkdir -p $(@D)
	$(CC) $(BASE) $(RELEASE) $(CFLAGS) $(PKG_CFLAGS) -o $@ $(SRC) $(GEN_SRC) -pie $(RELRO) \
	    $(BIN_LIBS) $(LDFLAGS)

# The test build: -Werror, AddressSanitizer + UndefinedBehaviorSanitizer.
$(BUILD)/asan/latch: $(SRC) $(HDRS) $(GEN_SRC) Makefile
	@mkdir -p $(@D)
	$(CC) $(BASE) -Werror $(SANITIZE) $(PKG_CFLAGS) -o $@ $(SRC) $(GEN_SRC) $(BIN_LIBS)

$(BUILD)/asan/unit-tests: $(LIB_SRC) $(UNIT_SRC) $(HDRS) $(GEN_SRC) Makefile
	@mkdir -p $(@D)
	$(CC) $(BASE) -Werror -iquote tests/unit $(SANITIZE) $(PKG_CFLAGS) -o $@ $(LIB_SRC) $(GEN_SRC) \
	    $(UNIT_SRC) $(PKG_LIBS)

# The integration tests' driver for the mail, TOTP and QR modules (issue 11):
# tests/tools/probe.c and the library files it needs, sanitizer build.
PROBE_SRC = src/util/base32.c src/util/num.c src/util/fsutil.c src/util/cidr.c \
            src/auth/credentials.c src/auth/totp.c src/auth/qrsvg.c src/mail/message.c \
            src/mail/smtp.c src/util/dynlib.c
$(BUILD)/asan/latch-probe: tests/tools/probe.c $(PROBE_SRC) $(HDRS) Makefile
	@mkdir -p $(@D)
	$(CC) $(BASE) -Werror $(SANITIZE) $(PKG_CFLAGS) -o $@ tests/tools/probe.c $(PROBE_SRC) \
	    $(PKG_LIBS)

# make run serves the lesson page too (LATCH_UI=0 make run turns it off);
# latch prints its address.  `./latch serve` alone keeps it off.
run: deps latch
	LATCH_UI=$${LATCH_UI:-1} exec ./latch serve

# make test [T=name] runs unit tests, then integration tests against the
# real binary; the last line reads "total: N passed, N failed".
test: test-deps $(BUILD)/asan/latch $(BUILD)/asan/unit-tests $(BUILD)/asan/latch-probe
	@BUILD=$(BUILD) T="$(T)" scripts/run-tests.sh

unit: $(BUILD)/asan/unit-tests
	@$(BUILD)/asan/unit-tests $(T)

integration: $(BUILD)/asan/latch $(BUILD)/asan/latch-probe
	@LATCH_BIN=$(BUILD)/asan/latch /usr/bin/python3 tests/integration/run.py $(T)

format:
	clang-format -i $(SRC) $(HDRS) $(UNIT_SRC)

clean:
	rm -rf $(BUILD) latch

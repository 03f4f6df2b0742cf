# medley - build, test and demo.
#
#   make          build build/medley
#   make demo     install what is missing, build, run the demo
#   make test     install what is missing, build, run every test
#                 (unit + integration, again under ASan+UBSan, integration
#                 again under valgrind)
#   make asan     sanitizer build in build-asan/
#   make fuzz     libFuzzer drivers in build-fuzz/ (clang)
#   make bench    side-by-side benchmark (bench/README.md)
#   make test-npm the independent connector validators (swagger-parser,
#                 spectral) on the home-feed example's exported connector

CC      ?= cc
BUILD   ?= build
OPT     ?= -O2
SAN     ?=
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wpointer-arith \
           -Wstrict-prototypes -Wmissing-prototypes -fno-strict-aliasing -pthread \
           -Isrc $(SAN)
LDFLAGS += -pthread $(SAN)
LDLIBS  += -lyaml -lz -lhiredis -lssl -lcrypto -lcrypt -lm

SRC     := $(shell find src -name '*.c' ! -path 'src/main.c' | sort)
OBJ     := $(SRC:%.c=$(BUILD)/obj/%.o)
LIB     := $(BUILD)/libmedley.a
BIN     := $(BUILD)/medley

UNIT_SRC := $(shell find tests/unit -name 'test_*.c' 2>/dev/null | sort)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

SUMMARY := build/test-summary.txt
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CFLAGS  += -DMD_VERSION='"$(VERSION)"'

.PHONY: all deps npm-deps demo test test-npm unit integration asan test-asan test-valgrind fuzz fuzz-corpus bench clean format

all: $(BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/obj/src/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB) tests/unit/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

deps:
	@scripts/install-deps.sh

# The connector validators of tests/npm, installed exactly as the lockfile
# says, and again only when package.json or the lockfile is newer than
# what node_modules holds (npm ci writes node_modules/.package-lock.json).
NPM_DIR   := tests/npm
NPM_STAMP := $(NPM_DIR)/node_modules/.package-lock.json

$(NPM_STAMP): $(NPM_DIR)/package.json $(NPM_DIR)/package-lock.json
	cd $(NPM_DIR) && npm ci --no-audit --no-fund
	@touch $@

npm-deps: $(NPM_STAMP)

# Exports the home-feed connector (tests/npm/home-feed.yaml), then checks
# the package with medley's own lint and with the independent validators
# (swagger-parser, spectral + the Power Platform ruleset, package checks).
NPM_PKG := $(BUILD)/connector/home-feed
test-npm: $(BIN) npm-deps
	rm -rf $(NPM_PKG) && mkdir -p $(dir $(NPM_PKG))
	$(BIN) connector export -c $(NPM_DIR)/home-feed.yaml --out $(NPM_PKG)
	$(BIN) connector lint $(NPM_PKG)
	node $(NPM_DIR)/validate.js $(NPM_PKG)

demo: deps
	$(MAKE) all
	$(BIN) demo $(if $(PORT),--port $(PORT),)

unit: $(UNIT_BIN)
	@scripts/run-unit.sh $(UNIT_BIN)

integration: $(BIN) npm-deps
	@python3 tests/integration/run.py --binary $(BIN)

# The whole suite once normally, once under AddressSanitizer + UBSan.
# Closing line "total: N passed, N failed" sums unit + integration, normal and ASan/UBSan.
test: deps npm-deps
	@rm -f $(SUMMARY); mkdir -p build
	$(MAKE) all
	MD_TEST_SUMMARY=$(CURDIR)/$(SUMMARY) $(MAKE) unit
	MD_TEST_SUMMARY=$(CURDIR)/$(SUMMARY) $(MAKE) integration
	MD_TEST_SUMMARY=$(CURDIR)/$(SUMMARY) $(MAKE) test-asan
	MD_TEST_SUMMARY=$(CURDIR)/$(SUMMARY) $(MAKE) test-valgrind
	$(MAKE) fuzz-corpus
	@awk '{p+=$$1; f+=$$2} END {printf "total: %d passed, %d failed\n", p, f; exit f > 0}' $(SUMMARY)

asan:
	$(MAKE) BUILD=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" all

test-asan:
	$(MAKE) BUILD=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" all unit
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  python3 tests/integration/run.py --binary build-asan/medley --sanitizer

# The integration suite with medley under valgrind memcheck (errors and
# definite/indirect leaks fail the test).
test-valgrind: $(BIN)
	@python3 tests/integration/run.py --binary $(BIN) --valgrind

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined
# libFuzzer drivers (clang), one per parser: build-fuzz/fuzz_*.
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang OPT=-O1 SAN="$(FUZZ_SAN)" build-fuzz/libmedley.a
	for f in $(FUZZ_SRC); do \
	  clang -O1 -g -std=c11 -D_GNU_SOURCE -Isrc -fsanitize=fuzzer,address,undefined \
	    -o build-fuzz/$$(basename $$f .c) $$f build-fuzz/libmedley.a $(LDLIBS) -pthread || exit 1; \
	done

# Replays every fuzz corpus (regression inputs) through its driver: no fuzzing.
fuzz-corpus: fuzz
	for f in $(FUZZ_SRC); do n=$$(basename $$f .c); d=tests/fuzz/corpus/$${n#fuzz_}; \
	  [ -d $$d ] || continue; build-fuzz/$$n -runs=0 $$d >/dev/null 2>&1 || { echo "$$n: corpus replay failed"; exit 1; }; \
	  echo "$$n: corpus $$d replayed"; done

bench: all
	bench/run.sh

format:
	clang-format -i $$(find src tests -name '*.[ch]')

clean:
	rm -rf build build-asan build-fuzz

-include $(OBJ:.o=.d) $(BUILD)/obj/src/main.d

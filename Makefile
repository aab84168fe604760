# Makefile - builds tandem, its library, tests, sanitizer and fuzz builds.
#
#   make deps      install what a fresh Debian machine lacks (apt-get)
#   make           build/tandem and build/libtandem.a
#   make test      every test; ends with "N passed, N failed"
#   make asan      the same suite under AddressSanitizer + UBSan
#   make fuzz      libFuzzer over the front end, the program loader and the
#                  page scanner (FUZZ_SECONDS each)
#   make docs      regenerate docs/opcodes.md from src/opcodes.def
#   make soak      kill -9 at every write of every shipped rule file, then
#                  the reruns must settle as an uninterrupted run does; and
#                  every rule test case's plan, run live, is what it does
#   make bench     benchmarks against jq, Python and hand-written cJSON C
#                  (bench/README.md); N=1000000 for the full scale (default
#                  N=10000); writes bench/results.md; reports, never fails on a time
#   make install   PREFIX=/usr/local DESTDIR=
#
# The lexer (grammar/lexer.re) and parser (grammar/parser.y) are generated
# into $(BUILD)/gen at build time; generated C is never committed.

PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
CC       ?= cc
RE2C     ?= re2c
LEMON    ?= lemon
LEMPAR   ?= $(firstword $(wildcard /usr/share/lemon/lempar.c /usr/local/share/lemon/lempar.c) lempar.c)
CFLAGS   ?= -O2 -g
SAN      ?=
FUZZ_SECONDS ?= 60

VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GEN      := $(BUILD)/gen
OBJDIR   := $(BUILD)/obj
STDLIB_DIR := $(PREFIX)/share/tandem/stdlib

WARN     := -Wall -Wextra -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
CJSON_CFLAGS ?= $(shell pkg-config --cflags libcjson 2>/dev/null || echo -I/usr/include/cjson)
CPPFLAGS += -Isrc -Iinclude -I$(GEN) $(CJSON_CFLAGS) -DTD_VERSION='"$(VERSION)"' -DTD_STDLIB_DIR='"$(STDLIB_DIR)"'
ALLCFLAGS = $(WARN) $(CFLAGS) $(SAN) $(CPPFLAGS)
LDLIBS   += -lsqlite3 -lcurl -lcjson -lm

CLI_SRC  := src/cli.c
LIB_SRC  := $(filter-out $(CLI_SRC),$(wildcard src/*.c src/codecs/*.c src/connectors/*.c))
LIB_OBJ  := $(LIB_SRC:src/%.c=$(OBJDIR)/%.o) $(OBJDIR)/lexer.o $(OBJDIR)/parser.o
HDRS     := $(wildcard src/*.h src/*/*.h src/*.def include/*.h) $(GEN)/parser.h

.PHONY: all deps test asan fuzz install uninstall clean docs bench soak
all: $(BUILD)/tandem $(BUILD)/libtandem.a

deps:
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	need=; for p in build-essential re2c lemon libsqlite3-dev libcurl4-openssl-dev libcjson-dev clang python3 jq; do \
	  dpkg -s $$p >/dev/null 2>&1 || need="$$need $$p"; done; \
	if [ -n "$$need" ]; then \
	  echo "installing:$$need"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$need; \
	else echo "all build dependencies present"; fi

$(GEN) $(OBJDIR):
	@mkdir -p $@

$(GEN)/parser.c $(GEN)/parser.h: grammar/parser.y | $(GEN)
	$(LEMON) -q -T$(LEMPAR) -d$(GEN) grammar/parser.y
	@# lemon rewrites parser.h even when unchanged; keep it newer than .y
	@touch $(GEN)/parser.h

$(GEN)/lexer.c: grammar/lexer.re $(GEN)/parser.h src/keywords.def | $(GEN)
	$(RE2C) -W --no-generation-date -o $@ grammar/lexer.re

$(OBJDIR)/%.o: src/%.c $(HDRS) | $(OBJDIR)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -c -o $@ $<

$(OBJDIR)/lexer.o: $(GEN)/lexer.c $(HDRS) | $(OBJDIR)
	$(CC) $(ALLCFLAGS) -c -o $@ $<

# lemon's driver template trips -Wunused-parameter in code we do not own.
$(OBJDIR)/parser.o: $(GEN)/parser.c $(HDRS) | $(OBJDIR)
	$(CC) $(ALLCFLAGS) -Wno-unused-parameter -c -o $@ $<

$(BUILD)/libtandem.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/tandem: $(OBJDIR)/cli.o $(BUILD)/libtandem.a
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

$(BUILD)/test-runner: tests/runner.c $(BUILD)/libtandem.a $(HDRS)
	$(CC) $(ALLCFLAGS) -o $@ tests/runner.c $(BUILD)/libtandem.a $(LDLIBS)

$(BUILD)/unit-tests: $(wildcard tests/unit/*.c) $(BUILD)/libtandem.a $(HDRS)
	$(CC) $(ALLCFLAGS) -o $@ $(wildcard tests/unit/*.c) $(BUILD)/libtandem.a $(LDLIBS)

# The short fuzz run joins `make test` where clang is installed.
FUZZ ?= $(if $(shell command -v clang 2>/dev/null),$(BUILD)/fuzz-front $(BUILD)/fuzz-load $(BUILD)/fuzz-scan)

test: all $(BUILD)/test-runner $(BUILD)/unit-tests $(FUZZ)
	@sh tests/run.sh $(BUILD)

# Every write point (make test runs a sample): tests/live/soak.py.
soak: all
	python3 tests/live/soak.py $(BUILD)
	python3 tests/live/equivalence.py $(BUILD)

# UBSan's inserted null checks make GCC see a null format string on paths
# that cannot happen (-Wformat-truncation); the normal build keeps the warning.
# GCC leaves a double cast to an integer it cannot hold out of 'undefined'.
asan:
	$(MAKE) BUILD=build/asan FUZZ= CFLAGS="-O1 -g -fno-omit-frame-pointer -Wno-format-truncation" \
	  SAN="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=undefined,float-cast-overflow" test

# libFuzzer needs clang.  fuzz-front drives lexer, parser, checker and fmt;
# fuzz-load the program loader and the VM on whatever it accepts; fuzz-scan
# the Salesforce and ActiveCampaign page scanners against cJSON, and the
# replay source's reading of an outbox's effects.
FUZZ_LIB := $(LIB_SRC) $(GEN)/lexer.c $(GEN)/parser.c
# Undefined behaviour stops the fuzzer as a crash would (by default UBSan
# only prints, and the run goes on and passes).
FUZZ_CC = clang -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(CPPFLAGS) \
	  -Wno-unused-parameter -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
$(BUILD)/fuzz-front: $(FUZZ_LIB) tests/fuzz/fuzz_front.c $(HDRS)
	$(FUZZ_CC) -o $@ $(FUZZ_LIB) tests/fuzz/fuzz_front.c $(LDLIBS)
$(BUILD)/fuzz-load: $(FUZZ_LIB) tests/fuzz/fuzz_load.c $(HDRS)
	$(FUZZ_CC) -o $@ $(FUZZ_LIB) tests/fuzz/fuzz_load.c $(LDLIBS)
$(BUILD)/fuzz-scan: $(FUZZ_LIB) tests/fuzz/fuzz_scan.c $(HDRS)
	$(FUZZ_CC) -o $@ $(FUZZ_LIB) tests/fuzz/fuzz_scan.c $(LDLIBS)

fuzz: $(BUILD)/fuzz-front $(BUILD)/fuzz-load $(BUILD)/fuzz-scan all
	sh tests/fuzz/short.sh $(BUILD) $(FUZZ_SECONDS)

# docs/opcodes.md is generated from src/opcodes.def (a test checks it is current).
docs: $(BUILD)/tandem
	$(BUILD)/tandem explain --opcodes > docs/opcodes.md

# Benchmarks (issue 6): N leads at most; data and programs go to $(BUILD)/bench;
# BENCH_FLAGS passes options to bench/bench.py (--runs R, --no-callgrind, ...).
N ?= 10000
bench: $(BUILD)/tandem
	python3 bench/bench.py --n $(N) --build $(BUILD) $(BENCH_FLAGS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(STDLIB_DIR) $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/tandem $(DESTDIR)$(PREFIX)/bin/tandem
	install -m 644 stdlib/*.sync $(DESTDIR)$(STDLIB_DIR)/
	install -m 644 docs/tandem.1 $(DESTDIR)$(PREFIX)/share/man/man1/tandem.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/tandem $(DESTDIR)$(PREFIX)/share/man/man1/tandem.1
	rm -rf $(DESTDIR)$(PREFIX)/share/tandem

clean:
	rm -rf build

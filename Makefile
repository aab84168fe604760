# Makefile - builds tandem, its library, tests, sanitizer and fuzz builds.
#
#   make deps      install what a fresh Debian machine lacks (apt-get)
#   make           build/tandem and build/libtandem.a
#   make test      every test; ends with "N passed, N failed"
#   make asan      the same suite under AddressSanitizer + UBSan
#   make fuzz      libFuzzer over lexer, parser and checker (FUZZ_SECONDS)
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
CPPFLAGS += -Isrc -Iinclude -I$(GEN) -DTD_VERSION='"$(VERSION)"' -DTD_STDLIB_DIR='"$(STDLIB_DIR)"'
ALLCFLAGS = $(WARN) $(CFLAGS) $(SAN) $(CPPFLAGS)
LDLIBS   += -lm

CLI_SRC  := src/cli.c
LIB_SRC  := $(filter-out $(CLI_SRC),$(wildcard src/*.c))
LIB_OBJ  := $(LIB_SRC:src/%.c=$(OBJDIR)/%.o) $(OBJDIR)/lexer.o $(OBJDIR)/parser.o
HDRS     := $(wildcard src/*.h src/*.def include/*.h) $(GEN)/parser.h

.PHONY: all deps test asan fuzz install uninstall clean check-rules
all: $(BUILD)/tandem $(BUILD)/libtandem.a

deps:
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	need=; for p in build-essential re2c lemon libsqlite3-dev libcurl4-openssl-dev libcjson-dev clang python3; do \
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
FUZZ ?= $(if $(shell command -v clang 2>/dev/null),$(BUILD)/fuzz-front)

test: all $(BUILD)/test-runner $(BUILD)/unit-tests $(FUZZ)
	@sh tests/run.sh $(BUILD)

asan:
	$(MAKE) BUILD=build/asan FUZZ= CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" test

# libFuzzer needs clang; the target drives lexer, parser and checker.
FUZZ_SRC := $(LIB_SRC) $(GEN)/lexer.c $(GEN)/parser.c tests/fuzz/fuzz_front.c
$(BUILD)/fuzz-front: $(FUZZ_SRC) $(HDRS)
	clang -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(CPPFLAGS) \
	  -Wno-unused-parameter -fsanitize=fuzzer,address,undefined -o $@ $(FUZZ_SRC) -lm

fuzz: $(BUILD)/fuzz-front
	sh tests/fuzz/short.sh $(BUILD) $(FUZZ_SECONDS)

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

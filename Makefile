# One top-level GNU Makefile for the whole tree. Objects go under $(BUILD);
# `make SAN=1 ...` builds the AddressSanitizer + UBSan variant in build/asan.
# Parallel-safe: every object depends only on its source and headers.

SAN ?= 0
ifeq ($(SAN),1)
BUILD ?= build/asan
else
BUILD ?= build
endif

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := openssl libpq libmicrohttpd jansson libseccomp libcap-ng

WARN := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wpointer-arith \
	-Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CPPFLAGS += -D_GNU_SOURCE -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED \
	-I. -I/usr/include/p11-kit-1 $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
CFLAGS += -std=c11 -g $(WARN) -fstack-protector-strong -fPIE
# C++ for sign/memcap.cc only (qpdf's new-handler): the warnings that apply.
CXXFLAGS += -std=c++17 -g $(filter-out -Wstrict-prototypes -Wmissing-prototypes,$(WARN)) \
	-fstack-protector-strong -fPIE
LDFLAGS += -pie -Wl,-z,relro,-z,now
LDLIBS += $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lldap -llber -ldl -lpthread
# rad's KYC image header check (ra/image.c): libpng and libjpeg-turbo, for
# rad and what links its sources (tests/unit/ra/, the fuzz harnesses).
IMAGE_PKGS := libpng libjpeg
CPPFLAGS += $(shell $(PKG_CONFIG) --cflags $(IMAGE_PKGS) 2>/dev/null)
IMAGE_LIBS := $(shell $(PKG_CONFIG) --libs $(IMAGE_PKGS) 2>/dev/null)

ifeq ($(SAN),1)
CFLAGS += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
CXXFLAGS += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
else
CFLAGS += -O2
CXXFLAGS += -O2
CPPFLAGS += -D_FORTIFY_SOURCE=2
endif

# --- sources, per library and program ---------------------------------------
# Libraries take every .c in their folder; daemons' main.c files live in subfolders.
LIB_SRCS := $(sort $(wildcard lib/*.c))
HSM_SRCS := $(sort $(wildcard hsm/*.c))
# ca/worker/lint.c: cad's subject lint, which `pkictl cert issue` applies to a CSR's subject.
PKICTL_SRCS := ca/pkictl.c ca/ceremony.c ca/profile.c ca/certstore.c ca/certcmd.c ca/arl.c \
	ca/ordercmd.c ca/officercmd.c ca/sigservicecmd.c ca/auditcmd.c ca/kyccmd.c ca/purgecmd.c ra/policy.c \
	ca/worker/lint.c
# Daemons: every .c of their folder (main.c holds main()).
TSAD_SRCS := $(sort $(wildcard tsa/*.c))
OCSPD_SRCS := $(sort $(wildcard ocsp/*.c))
CRLD_SRCS := $(sort $(wildcard crl/*.c))
# cad, the CA issuance worker: its folder plus the profile and certificate
# store code it shares with pkictl.
CAD_SRCS := $(sort $(wildcard ca/worker/*.c)) ca/profile.c ca/certstore.c
RAD_SRCS := $(sort $(wildcard ra/*.c))
# signd, the remote-signing service (CSC API v2): worker and SAM (hsm/signd/).
SIGND_SRCS := $(sort $(wildcard hsm/signd/*.c))
# pkisign, the PAdES document signer (sign/): a library (every .c but main.c,
# shared with its unit tests and fuzz harnesses) and the CLI in main.c;
# sign/memcap.cc is C++ (the new-handler of the memory cap's reserve).
SIGN_SRCS := $(sort $(wildcard sign/*.c sign/*.cc))
SIGN_LIB_SRCS := $(filter-out sign/main.c,$(SIGN_SRCS))
SIGN_LIBS := -lqpdf -lqrencode -lcurl -lstdc++

LIBPKI := $(BUILD)/libpki.a
LIBHSM := $(BUILD)/libpkihsm.a
PKICTL := $(BUILD)/pkictl
TSAD := $(BUILD)/tsad
OCSPD := $(if $(OCSPD_SRCS),$(BUILD)/ocspd)
CRLD := $(if $(CRLD_SRCS),$(BUILD)/crld)
CAD := $(BUILD)/cad
RAD := $(if $(RAD_SRCS),$(BUILD)/rad)
SIGND := $(if $(SIGND_SRCS),$(BUILD)/signd)
PKISIGN := $(if $(filter sign/main.c,$(SIGN_SRCS)),$(BUILD)/pkisign)
# pkiaudit, the auditor's offline verifier of exported, sealed audit trails.
PKIAUDIT_SRCS := $(sort $(wildcard audit/*.c))
PKIAUDIT := $(BUILD)/pkiaudit

obj = $(patsubst %.cc,$(BUILD)/obj/%.o,$(patsubst %.c,$(BUILD)/obj/%.o,$(1)))

# Unit tests: every tests/unit/<module>/test_*.c is one program linking the real sources.
UNIT_SRCS := $(sort $(wildcard tests/unit/*/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
# Helper programs used by integration tests (not installed).
TOOL_SRCS := $(sort $(wildcard tests/tools/*.c))
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(TOOL_SRCS))
# LD_PRELOAD shims for tests (tests/preload/), never sanitized: loaded first.
PRELOAD_SRCS := $(sort $(wildcard tests/preload/*.c))
PRELOAD_LIBS := $(patsubst tests/preload/%.c,$(BUILD)/tests/preload/%.so,$(PRELOAD_SRCS))
# Benchmark programs, built by `make bench` only.
BENCH_SRCS := $(sort $(wildcard tests/bench/*.c))
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/tests/bench/%,$(BENCH_SRCS))

PROGRAMS := $(PKICTL) $(TSAD) $(OCSPD) $(CRLD) $(CAD) $(RAD) $(SIGND) $(PKISIGN) $(PKIAUDIT)

# libFuzzer harnesses: tests/fuzz/fuzz_*.c, each built with clang against the
# library sources and run for FUZZ_SECONDS by `make fuzz` (part of `make check`).
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRCS))
# 5 s each in make check (37 harnesses, two at a time, while the suites
# run); `make fuzz FUZZ_SECONDS=600` for longer.
FUZZ_SECONDS ?= 5
# Daemon sources a harness may drive (everything but the daemons' main.c),
# and the subject lint pkictl applies to a CSR (ca/worker/lint.c, with the
# profile code it reads).
FUZZ_COMPONENT_SRCS := $(filter-out %/main.c,$(TSAD_SRCS) $(OCSPD_SRCS) $(CRLD_SRCS) $(RAD_SRCS) \
	$(SIGND_SRCS)) $(SIGN_LIB_SRCS) ca/profile.c ca/worker/lint.c

.PHONY: all deps build up down check test unit integration clean bench fuzz fuzz-build install
.DEFAULT_GOAL := all

all: $(PROGRAMS) $(UNIT_BINS) $(TOOL_BINS) $(PRELOAD_LIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -MMD -MP -c $< -o $@

$(LIBPKI): $(call obj,$(LIB_SRCS))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIBHSM): $(call obj,$(HSM_SRCS))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(PKICTL): $(call obj,$(PKICTL_SRCS)) $(LIBHSM) $(LIBPKI)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -largon2 -o $@

$(BUILD)/tsad: $(call obj,$(TSAD_SRCS)) $(LIBHSM) $(LIBPKI)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/ocspd: $(call obj,$(OCSPD_SRCS)) $(LIBHSM) $(LIBPKI)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/crld: $(call obj,$(CRLD_SRCS)) $(LIBHSM) $(LIBPKI)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/cad: $(call obj,$(CAD_SRCS)) $(LIBHSM) $(LIBPKI)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/rad: $(call obj,$(RAD_SRCS)) $(LIBHSM) $(LIBPKI)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) $(IMAGE_LIBS) -largon2 -lcurl -o $@

$(BUILD)/signd: $(call obj,$(SIGND_SRCS)) $(LIBHSM) $(LIBPKI)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -largon2 -o $@

$(BUILD)/pkisign: $(call obj,$(SIGN_SRCS)) $(LIBHSM) $(LIBPKI)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) $(SIGN_LIBS) -o $@

$(PKIAUDIT): $(call obj,$(PKIAUDIT_SRCS)) $(LIBPKI)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# -largon2: lib/factor.c's PIN check (test_factor).
$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(LIBHSM) $(LIBPKI)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -largon2 -lcmocka -lcurl -o $@

# tests/unit/ra/: rad's sources too (all but main.c), as the fuzz rule does.
$(BUILD)/tests/unit/ra/%: $(BUILD)/obj/tests/unit/ra/%.o $(call obj,$(filter-out ra/main.c,$(RAD_SRCS))) $(LIBHSM) $(LIBPKI)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) $(IMAGE_LIBS) -largon2 -lcmocka -lcurl -o $@

# tests/unit/ca/: cad's sources too (all but its main.c).
$(BUILD)/tests/unit/ca/%: $(BUILD)/obj/tests/unit/ca/%.o $(call obj,$(filter-out ca/worker/main.c,$(CAD_SRCS))) $(LIBHSM) $(LIBPKI)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

# tests/unit/tsa/: tsad's sources too (all but main.c).
$(BUILD)/tests/unit/tsa/%: $(BUILD)/obj/tests/unit/tsa/%.o $(call obj,$(filter-out tsa/main.c,$(TSAD_SRCS))) $(LIBHSM) $(LIBPKI)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

# tests/unit/sign/: the signer library too.
$(BUILD)/tests/unit/sign/%: $(BUILD)/obj/tests/unit/sign/%.o $(call obj,$(SIGN_LIB_SRCS)) $(LIBHSM) $(LIBPKI)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) $(SIGN_LIBS) -lcmocka -o $@

$(BUILD)/tests/preload/%.so: tests/preload/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -fPIC -shared \
		-I$(shell $(PKG_CONFIG) --variable=includedir libpq 2>/dev/null) $< -o $@ -ldl

$(BUILD)/tests/tools/%: $(BUILD)/obj/tests/tools/%.o $(LIBHSM) $(LIBPKI)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# sam_worker plays a compromised signd worker: signd's sources too (all but main.c).
$(BUILD)/tests/tools/sam_worker: $(BUILD)/obj/tests/tools/sam_worker.o $(call obj,$(filter-out hsm/signd/main.c,$(SIGND_SRCS))) $(LIBHSM) $(LIBPKI)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -largon2 -o $@

# Benchmarks: bench_signd is a libcurl load generator.
$(BUILD)/tests/bench/%: $(BUILD)/obj/tests/bench/%.o $(LIBHSM) $(LIBPKI)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcurl -o $@

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
-include $(shell find build/fuzz/obj -name '*.d' 2>/dev/null)

# --- the two commands of the README -------------------------------------------
deps:
	@./deploy/deps.sh

# Builds and fuzz runs use every core (CI and the README call plain `make`).
NPROC := $(shell nproc 2>/dev/null || echo 2)

build: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all

up: build
	@./deploy/stack.sh up --build $(BUILD)

down:
	@./deploy/stack.sh down

# A production host's files: binaries, data, systemd units, sysusers.d and
# tmpfiles.d (deploy/README.md "Running in production"). Starts nothing,
# and installs no package and creates no user (not `deps`, which is for the
# local stack and the tests: slapd without a configuration, nginx, chromium,
# the pki user ...): only the programs are built, when out of date.
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
STATEDIR ?= /var/lib/pki
RUNDIR ?= /run/pki
install: $(PROGRAMS)
	@./deploy/install.sh --build $(BUILD) --prefix $(PREFIX) --sysconfdir $(SYSCONFDIR) \
		--statedir $(STATEDIR) --rundir $(RUNDIR) $(if $(DESTDIR),--destdir $(DESTDIR))

# make check: everything, twice (plain build and ASan+UBSan), the two test
# suites side by side, each in two lanes (tests/run_both.sh): 10m44s on
# 2 vCPUs on 2026-12-07, against 16m30s with one lane a build. The fuzz
# harnesses compile and run meanwhile at the lowest priority, in the CPU
# time the lanes leave while they wait on daemons. Their output is in
# build/fuzz/check.log, shown when a harness fails.
check: deps
	@rm -f build/tests/summary* build/asan/tests/summary* build/fuzz/check.rc \
		build/tests/failures* build/asan/tests/failures*
	@$(MAKE) --no-print-directory -j$(NPROC) all
	@$(MAKE) --no-print-directory -j$(NPROC) all SAN=1
	@mkdir -p build/fuzz; \
	{ nice -n 19 $(MAKE) --no-print-directory -j$(NPROC) fuzz-build && \
		nice -n 19 $(MAKE) --no-print-directory -j$(NPROC) fuzz; \
		echo $$? >build/fuzz/check.rc; } >build/fuzz/check.log 2>&1 & \
	./tests/run_both.sh build build/asan; rc=$$?; wait; \
	[ "$$(cat build/fuzz/check.rc 2>/dev/null)" = 0 ] || \
		{ echo "check: fuzzing failed (build/fuzz/check.log):"; tail -60 build/fuzz/check.log; exit 1; }; \
	grep '^fuzz: .* harness' build/fuzz/check.log; \
	for b in build build/asan; do \
		cat $$b/tests/failures-* 2>/dev/null | sed "s|^|check: failed in $$b: |"; \
	done; \
	exit $$rc
	@echo "check: plain and ASan+UBSan builds, $(words $(FUZZ_BINS)) fuzz harnesses"
	@cat build/tests/summary-* build/asan/tests/summary-* | \
		awk -v z=$(words $(FUZZ_BINS)) '{ p += $$1; f += $$2 } END { printf "check: %d passed, %d failed\n", p + z, f }'

test: all
	@./tests/run.sh $(BUILD)

unit: all
	@./tests/run.sh $(BUILD) unit

integration: all
	@./tests/run.sh $(BUILD) integration

bench: build
	@./deploy/deps.sh deploy/packages-bench.txt
	@$(MAKE) --no-print-directory $(BENCH_BINS)
	@./tests/bench/run.sh $(BUILD)

# Each library and component source is compiled once for every harness
# (fuzzer-no-link instrumentation), then each harness links them.
FUZZ_CFLAGS := -std=c11 -g -O1 -Wall -Wextra -Werror -Wno-unused-parameter
FUZZ_OBJS := $(patsubst %.cc,build/fuzz/obj/%.o,$(patsubst %.c,build/fuzz/obj/%.o,$(LIB_SRCS) $(HSM_SRCS) \
	$(FUZZ_COMPONENT_SRCS)))
.SECONDARY: $(FUZZ_OBJS)

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -MMD -MP -c $< -o $@

# (vptr: its checks need the C++ sanitizer runtime, which linking with clang leaves out.)
build/fuzz/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	clang++ $(CPPFLAGS) $(subst -std=c11,-std=c++17,$(FUZZ_CFLAGS)) \
		-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=vptr -MMD -MP -c $< -o $@

build/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJS) $(wildcard tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined $(filter-out %.h,$^) $(LDLIBS) $(IMAGE_LIBS) -largon2 $(SIGN_LIBS) -o $@

# The harnesses alone (make check builds them while the suites run).
fuzz-build: $(FUZZ_BINS)

# One run per harness, as targets so that `make -j` runs them side by side.
# (Not .PHONY: make skips pattern rules for phony targets; no such file exists.)
FUZZ_RUNS := $(patsubst build/fuzz/%,fuzz-run/%,$(FUZZ_BINS))
fuzz: $(FUZZ_RUNS)
	@echo "fuzz: $(words $(FUZZ_BINS)) harness(es), no crash"

fuzz-run/%: build/fuzz/%
	@mkdir -p build/fuzz/corpus/$*
	@echo "fuzz: $* for $(FUZZ_SECONDS) s"
	@$< -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 \
		-artifact_prefix=build/fuzz/$*- build/fuzz/corpus/$* \
		$$(test -d tests/fixtures/$* && echo tests/fixtures/$*) \
		>build/fuzz/$*.log 2>&1 || { tail -40 build/fuzz/$*.log; exit 1; }

clean:
	rm -rf build

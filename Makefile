# otp-labs: see README.md. `make`, `make test`, `make bench`, `make install`.
VERSION   := 0.1.0
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
LIBDIR    ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR    ?= $(PREFIX)/share/man
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
SOVERSION := 0
DESTDIR   ?=
N         ?= 3
PKGS      := libczmq libzmq libsodium libmicrohttpd

ifeq ($(SANITIZE),1)
BUILD     ?= build-san
SANFLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT       := -O1
else
BUILD     ?= build
SANFLAGS  :=
OPT       := -O2
endif

CC        ?= cc
CFLAGS    ?= $(OPT) -g
CFLAGS    += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
             -Ilib $(SANFLAGS) $(shell pkg-config --cflags $(PKGS)) -DOTP_VERSION='"$(VERSION)"'
LDFLAGS   += $(SANFLAGS)
LDLIBS    += $(shell pkg-config --libs $(PKGS))

BINARIES  := otp-epmd otp-node otp-ctl otp-reg otp-sup
EXAMPLES  := otp-chat
LIB_SRC   := $(filter-out lib/otp_selftest.c,$(wildcard lib/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB       := $(BUILD)/libotp.a
SOLIB     := $(BUILD)/libotp.so.$(SOVERSION).$(VERSION:$(SOVERSION).%=%)
MANPAGES  := $(BINARIES:%=$(BUILD)/man/%.1)
BINS      := $(BINARIES:%=$(BUILD)/bin/%)
SELFTEST  := $(BUILD)/bin/otp-selftest
PROBE     := $(BUILD)/bin/otp-probe
SLOWDNS   := $(BUILD)/lib/libslowdns.so
ECHO      := $(BUILD)/bin/otp-echo
GOSSIPTOOL := $(BUILD)/bin/otp-gossip-tool
FLOOD     := $(BUILD)/bin/otp-flood
ZMTPATTACK := $(BUILD)/bin/otp-zmtp-attack
SQUAT     := $(BUILD)/bin/otp-squat
BLAST     := $(BUILD)/bin/otp-blast
BENCH     := $(BUILD)/bin/otp-bench
EXAMPLE_BINS := $(EXAMPLES:otp-%=$(BUILD)/bin/otp-%)

.SECONDARY:
.PHONY: man all test check unit bench bench-hosts scale chaos run run-multi stop install uninstall clean fuzz
all: $(BINS) $(SELFTEST) $(PROBE) $(ECHO) $(GOSSIPTOOL) $(FLOOD) $(ZMTPATTACK) $(SQUAT) $(BLAST) $(BENCH) $(SLOWDNS) $(EXAMPLE_BINS)

# Objects depend on the Makefile too: a change of flags (-fPIC, say) rebuilds them.
$(BUILD)/%.o: %.c $(wildcard lib/*.h) $(wildcard cmd/*/*.h) Makefile
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(CFLAGS) -I$(dir $<) -c $< -o $@

# The library's objects are position-independent: the same ones make
# libotp.a (the binaries link it) and libotp.so (make install).
$(LIB_OBJ): CFLAGS += -fPIC

$(LIB): $(LIB_OBJ)
	$(AR) rcs $@ $^

$(SOLIB): $(LIB_OBJ)
	@echo "  LINK  $@"
	@$(CC) -shared -Wl,-soname,libotp.so.$(SOVERSION) $(LDFLAGS) $^ $(LDLIBS) -o $@

# Man pages, from each program's --help (scripts/make-man).
$(BUILD)/man/%.1: $(BUILD)/bin/% scripts/make-man
	@scripts/make-man $(BUILD)/bin $(BUILD)/man $(VERSION) $*
man: $(MANPAGES)

cmd_objs = $(patsubst %.c,$(BUILD)/%.o,$(wildcard cmd/$(1)/*.c))
.SECONDEXPANSION:
$(BUILD)/bin/%: $$(call cmd_objs,$$*) $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK  $@"
	@$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(SELFTEST): $(BUILD)/lib/otp_selftest.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK  $@"
	@$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(PROBE): $(BUILD)/test/tools/otp-probe.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK  $@"
	@$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(ECHO): $(BUILD)/test/tools/otp-echo.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK  $@"
	@$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(GOSSIPTOOL): $(BUILD)/test/tools/otp-gossip-tool.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK  $@"
	@$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

#  A raw-socket attacker: needs nothing of ours.
$(FLOOD): $(BUILD)/test/tools/otp-flood.o
	@mkdir -p $(dir $@)
	@echo "  LINK  $@"
	@$(CC) $(LDFLAGS) $^ -o $@

$(ZMTPATTACK): $(BUILD)/test/tools/otp-zmtp-attack.o
	@mkdir -p $(dir $@)
	@echo "  LINK  $@"
	@$(CC) $(LDFLAGS) $^ -o $@

$(SQUAT): $(BUILD)/test/tools/otp-squat.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK  $@"
	@$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BLAST): $(BUILD)/test/tools/otp-blast.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK  $@"
	@$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BENCH): $(BUILD)/bench/otp-bench.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK  $@"
	@$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# Examples: examples/NAME/*.c -> otp-NAME, built on lib/ like the daemons.
$(BUILD)/bin/otp-chat: $(patsubst %.c,$(BUILD)/%.o,$(wildcard examples/chat/*.c)) $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK  $@"
	@$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# A test shim (LD_PRELOAD): never sanitized, it only wraps getaddrinfo.
$(SLOWDNS): test/tools/slowdns.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) -std=c11 -Wall -Wextra -Werror -shared -fPIC $< -ldl -o $@

# The whole suite: C self-tests, then every bats file, through the real binaries.
test: all
	OTP_BIN=$(abspath $(BUILD)/bin) test/run

unit: $(SELFTEST)
	$(SELFTEST)

bench: all
	OTP_BIN=$(abspath $(BUILD)/bin) bench/run

# The long scale runs (issue 11): t0027 with the 100-node mesh held for
# SCALE_HOLD seconds (default 60; the suite holds it 20), then the scale
# figures with Erlang/OTP beside them (bench/scale, its 100 nodes held as long).
SCALE_HOLD ?= 60
scale: all
	OTP_BIN=$(abspath $(BUILD)/bin) OTP_SCALE_HOLD=$(SCALE_HOLD) bats test/t0027-scale.bats
	OTP_BIN=$(abspath $(BUILD)/bin) SCALE_HOLD=$(SCALE_HOLD) bench/scale

# The chaos suite (test/t0032-chaos.bats, root: network namespaces) over
# many seeds: make chaos SEEDS="1 2 3 4 5" CHAOS_SECONDS=60. The default
# suite runs seed 1 for 20 s.
SEEDS ?= 1 2 3 4 5 6 7 8 9 10
CHAOS_SECONDS ?= 60
chaos: all
	OTP_BIN=$(abspath $(BUILD)/bin) OTP_CHAOS_SEEDS="$(SEEDS)" OTP_CHAOS_SECONDS=$(CHAOS_SECONDS) \
	    bats test/t0032-chaos.bats

# Several hosts on network namespaces (root): formation, cut and restore
# under each strategy (STRATEGIES="gossip epmd" by default).
bench-hosts: all
	OTP_BIN=$(abspath $(BUILD)/bin) bench/hosts $(STRATEGIES)

run: all
	OTP_BIN=$(abspath $(BUILD)/bin) scripts/start-cluster 1

run-multi: all
	OTP_BIN=$(abspath $(BUILD)/bin) scripts/start-cluster $(N)

stop:
	OTP_BIN=$(abspath $(BUILD)/bin) scripts/stop-cluster

# The image, a node in it, minikube, the manifests (README: "The image",
# "Makefile tasks"). Each task first checks its tool: a missing one stops make with
# one line naming it (not under make -n, which only shows the commands).
CONTAINER   ?= docker
IMAGE       ?= otp-labs:$(VERSION)
BASE_IMAGE  ?=
IMAGE_FLAGS ?=
KUBECTL     ?= kubectl
MINIKUBE    ?= minikube
dry_run = $(findstring n,$(firstword -$(MAKEFLAGS)))
need = $(if $(dry_run),,$(if $(shell command -v $(1) 2>/dev/null),,$(error $(1) not found ($(2)))))
need_container = $(call need,$(CONTAINER),set CONTAINER=podman or buildah or install docker)
.PHONY: image docker-run minikube-load deploy undeploy image-rm remove

image:
	$(need_container)
	$(CONTAINER) $(if $(filter buildah,$(notdir $(CONTAINER))),bud,build) $(strip $(IMAGE_FLAGS) \
	    $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE))) -t $(IMAGE) .

# One node, its ports published, named so that the host's otp-ctl reaches it;
# every OTP_* variable of make's command line or environment goes in too. A
# stop waits 45 s before SIGKILL (docker's default, 10 s, would cut the 30 s
# drain short), as the Deployment's grace period does.
docker-run:
	$(need_container)
	$(CONTAINER) run --rm --name otp-labs --stop-timeout 45 -p 4369:4369 -p 9100:9100 -p 8080:8080 \
	    -e OTP_NODE_NAME=$(or $(OTP_NODE_NAME),otp-labs@127.0.0.1) \
	    -e OTP_NODE_PORT=$(or $(OTP_NODE_PORT),9100) -e OTP_HTTP_PORT=$(or $(OTP_HTTP_PORT),8080) \
	    $(foreach v,$(sort $(filter-out OTP_NODE_NAME OTP_NODE_PORT OTP_HTTP_PORT,$(filter OTP_%,$(.VARIABLES)))),-e $(v)) \
	    $(IMAGE)

minikube-load:
	$(call need,$(MINIKUBE),install minikube or set MINIKUBE)
	$(MINIKUBE) image load $(IMAGE)

# The cookie Secret is made once, random; a redeploy keeps it.
deploy:
	$(call need,$(KUBECTL),install kubectl or set KUBECTL)
	@$(KUBECTL) get secret otp-labs-cookie >/dev/null 2>&1 || \
	    $(KUBECTL) create secret generic otp-labs-cookie \
	        --from-literal=cookie=$$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
	$(KUBECTL) apply -f k8s/

undeploy:
	$(call need,$(KUBECTL),install kubectl or set KUBECTL)
	$(KUBECTL) delete -f k8s/ --ignore-not-found

image-rm:
	$(need_container)
	$(CONTAINER) rmi $(IMAGE)

remove: undeploy image-rm

# The release tarball: $(BUILD)/otp-labs-$(VERSION).tar.gz, relocatable (the
# binaries, the shared libraries they need beyond the C library, rel/'s
# launcher and default settings; README: "The release").
.PHONY: release
release: $(BINS)
	scripts/make-release $(BUILD) $(VERSION)

# make install PREFIX=... DESTDIR=...: the five programs, the library
# (libotp.so with its soname, libotp.a), its headers, libotp.pc for
# pkg-config, man pages and otp-ctl's bash completion.
install: $(BINS) $(LIB) $(SOLIB) $(MANPAGES)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/otp-labs \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(COMPLETIONDIR)
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 0644 $(LIB) $(DESTDIR)$(LIBDIR)
	install -m 0755 $(SOLIB) $(DESTDIR)$(LIBDIR)
	ln -sf $(notdir $(SOLIB)) $(DESTDIR)$(LIBDIR)/libotp.so.$(SOVERSION)
	ln -sf libotp.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libotp.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' lib/libotp.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/libotp.pc
	install -m 0644 lib/*.h $(DESTDIR)$(INCLUDEDIR)/otp-labs
	install -m 0644 $(MANPAGES) $(DESTDIR)$(MANDIR)/man1
	install -m 0644 scripts/otp-ctl.bash-completion $(DESTDIR)$(COMPLETIONDIR)/otp-ctl

uninstall:
	rm -f $(BINARIES:%=$(DESTDIR)$(BINDIR)/%) $(BINARIES:%=$(DESTDIR)$(MANDIR)/man1/%.1)
	rm -f $(DESTDIR)$(LIBDIR)/libotp.a $(DESTDIR)$(LIBDIR)/libotp.so* $(DESTDIR)$(LIBDIR)/pkgconfig/libotp.pc
	rm -rf $(DESTDIR)$(INCLUDEDIR)/otp-labs
	rm -f $(DESTDIR)$(COMPLETIONDIR)/otp-ctl

# Coverage-guided fuzzing of the wire parsers (needs clang): FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(basename $(notdir $(wildcard test/fuzz/fuzz_*.c)))
fuzz:
	@for target in $(FUZZ_TARGETS); do \
	    mkdir -p build-fuzz/corpus-$$target && \
	    clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Ilib \
	        $(shell pkg-config --cflags $(PKGS)) test/fuzz/$$target.c $(LIB_SRC) \
	        $(LDLIBS) -o build-fuzz/$$target && \
	    build-fuzz/$$target -max_total_time=$(FUZZ_SECONDS) -max_len=4096 build-fuzz/corpus-$$target \
	    || exit 1; \
	done

clean:
	rm -rf build build-san build-fuzz

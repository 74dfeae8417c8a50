# Makefile: builds ./luaha (and an ASan/UBSan variant), runs the tests, the demo and the benchmarks.
# SPDX-License-Identifier: GPL-2.0-or-later

# The version's one home: luaha --version, luaha.version and the trial Debian package's check take it from here.
VERSION	 = 0.1.0
PKGS	 = lua5.4 libevent libevent_openssl openssl libedit libnl-3.0 libnl-genl-3.0 libnl-route-3.0 libsodium

# A packager's CC, CFLAGS, CPPFLAGS and LDFLAGS are honoured (make CFLAGS=-O0 builds); what luaha needs is
# added after them with override. libnet-config's -D_BSD_SOURCE is deprecated by glibc (an error under -Werror):
# its modern equivalents.
CC	?= cc
CFLAGS	?= -O2 -g
WARN	 = -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes
override CFLAGS   += -std=gnu11 $(WARN)
override CPPFLAGS += -D_GNU_SOURCE -D_DEFAULT_SOURCE -DHAVE_NET_ETHERNET_H \
	   -DLUAHA_VERSION='"$(VERSION)"'
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
# OpenSSL and libedit are not linked: runtime/dynlib.c loads them when first needed.
PKG_LIBS   = $(shell pkg-config --libs $(filter-out libevent_openssl openssl libedit,$(PKGS))) -lnet -lm
SANITIZE = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

SRCS	 = $(wildcard runtime/*.c)
LIBSRCS	 = $(filter-out runtime/main.c,$(SRCS))
OBJS	 = $(SRCS:runtime/%.c=build/%.o)
ASANOBJS = $(SRCS:runtime/%.c=build/asan/%.o)
ASANLIB	 = $(LIBSRCS:runtime/%.c=build/asan/%.o)
UNITS	 = $(patsubst tests/unit/%.c,build/unit/%.test,$(wildcard tests/unit/*.c))

# The Lua library, the shipped policies and the web UI's assets (lua/luaha/web/), compiled in (runtime/embed.c): remade when one of them changes,
# or when one comes or goes (build/embed.list, rewritten only when the list differs).
EMBED	 = $(sort $(wildcard lua/*.lua lua/*/*.lua policies/*.lua lua/luaha/web/*.js lua/luaha/web/*.css))
OBJS	+= build/embed-files.o
ASANOBJS += build/embed-files.o
ASANLIB	+= build/embed-files.o

build/embed.list: FORCE | build
	@echo $(EMBED) | cmp -s - $@ || echo $(EMBED) > $@

build/embed-files.c: runtime/embed.sh build/embed.list $(EMBED)
	runtime/embed.sh $(EMBED) > $@.tmp && mv $@.tmp $@

build/embed-files.o: build/embed-files.c runtime/luaha.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -Iruntime -c -o $@ $<

FORCE:

.PHONY: all asan units test fuzz demo bench bench-heartbeat chaos deps lint install uninstall clean print-version

all: luaha

luaha: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(OBJS) $(PKG_LIBS)

build/%.o: runtime/%.c runtime/luaha.h | build
	$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

asan: build/luaha-asan

build/luaha-asan: $(ASANOBJS)
	$(CC) $(CFLAGS) $(SANITIZE) $(LDFLAGS) -o $@ $(ASANOBJS) $(PKG_LIBS)

build/asan/%.o: runtime/%.c runtime/luaha.h | build
	$(CC) $(CPPFLAGS) $(CFLAGS) $(SANITIZE) $(PKG_CFLAGS) -c -o $@ $<

# The IPVS files share a header of their own,
$(filter build/ipvs%.o build/asan/ipvs%.o,$(OBJS) $(ASANOBJS)): runtime/ipvs.h
# And the HTTP server, the rtnetlink files, the half-open check and the tasks theirs.
$(filter build/http%.o build/asan/http%.o,$(OBJS) $(ASANOBJS)): runtime/http.h
$(filter %/link.o %/route.o %/sysctl.o %/linkwatch.o,$(OBJS) $(ASANOBJS)): runtime/link.h
$(filter %/halfopen.o %/prober.o %/checker.o %/checkrun.o,$(OBJS) $(ASANOBJS)): runtime/halfopen.h
$(filter %/checker.o %/checkrun.o,$(OBJS) $(ASANOBJS)): runtime/checker.h
$(filter %/task.o %/wait.o,$(OBJS) $(ASANOBJS)): runtime/task.h

units: $(UNITS)

build/unit/%.test: tests/unit/%.c tests/unit/unit.h $(ASANLIB) | build
	$(CC) $(CPPFLAGS) $(CFLAGS) $(SANITIZE) $(PKG_CFLAGS) -Iruntime $(LDFLAGS) -o $@ $< $(ASANLIB) $(PKG_LIBS)

build:
	mkdir -p build/asan build/unit

# Every suite, ending with the line "N passed, N failed, N skipped".
test: luaha asan units lint
	tests/run

# The fuzz drivers on the ASan build, long (FUZZ_TIME s each) with a random seed they print; FUZZ_SEED=N replays one.
FUZZ_TIME ?= 600
fuzz: asan
	@seed=$${FUZZ_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; echo "fuzz seed $$seed (replay: make fuzz FUZZ_SEED=$$seed)"; \
	for f in tests/fuzz/*.lua; do \
		FUZZ_SEED=$$seed FUZZ_TIME=$(FUZZ_TIME) build/luaha-asan $$f || exit 1; \
	done

# The chaos suite's random schedule in UML: CHAOS_SECONDS (1800) of faults drawn from CHAOS_SEED (printed first).
CHAOS_SECONDS ?= 1800
chaos: luaha
	CHAOS_SECONDS=$(CHAOS_SECONDS) UML_MEM=512M UML_TIMEOUT=$$(($(CHAOS_SECONDS) + 900)) \
	    UML_MODULES="sch_netem sch_prio cls_u32" UML_PASSENV="CHAOS_SEED CHAOS_SECONDS CHAOS_RELOAD" \
	    tests/uml/run tests/chaos/long.sh

# Installs what is missing (Debian 12, as root), builds, and runs the main job: the seed topology in UML.
demo: deps luaha
	UML_TIMEOUT=300 tests/uml/run examples/demo.sh

deps:
	@missing=$$(grep -v '^#' .ci/packages | while read -r p; do \
		[ -n "$$p" ] && ! dpkg -s "$$p" >/dev/null 2>&1 && echo "$$p"; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive \
		    apt-get install -y -q --no-install-recommends $$missing; \
	fi

# The peers measured in the same run: Python's asyncio, ipvsadm, keepalived. bench/webui-task.sh times the web
# UI's fifteen-minute task in headless Chromium (target under 60 s); bench/webui-status.sh its status pages at
# 1000 x 10 and the heartbeat's largest gap meanwhile (target keepalive + 20 ms); bench/memory.sh where the
# work part's memory goes. bench/anycast.sh: issue 16's anycast directors (a death and a drain as the upstream
# router sees them, flows kept) against the pair's failover. bench/coldstart.sh: start to the whole table at
# 2300 / 37 000 against keepalived with and without checkers (GROWTH=1: 10x, with UML_MEM raised to fit).
bench: deps luaha
	@for p in python3 keepalived; do command -v $$p > /dev/null || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$p; done
	./luaha bench/tcp-roundtrip.lua
	UML_MEM=512M tests/uml/run bench/ipvs-apply.sh
	UML_MEM=512M UML_TIMEOUT=600 tests/uml/run bench/checks.sh
	bench/checks-10k.sh
	bench/webui-task.sh
	UML_MEM=1G UML_TIMEOUT=2400 bench/hostload.sh tests/uml/run bench/webui-status.sh
	bench/memory.sh
	UML_MEM=512M UML_TIMEOUT=1800 bench/hostload.sh tests/uml/run bench/reload.sh
	UML_PASSENV="GROWTH SERVICES SERVERS KA_CHECK" UML_MEM=1G UML_TIMEOUT=2400 bench/hostload.sh tests/uml/run bench/coldstart.sh
	UML_PASSENV="ANYCAST_TRIALS PAIR_TRIALS AC_BFD_MS AC_BFD_MULT AC_HOLD" UML_MEM=512M UML_TIMEOUT=1800 \
		bench/hostload.sh tests/uml/run bench/anycast.sh
	@$(MAKE) --no-print-directory bench-heartbeat

# The heartbeat's benchmarks alone (issue 12), each against keepalived in the same run: failover time and
# false failovers (bench/failover.sh), the heartbeat's gaps under disturbances (bench/heartbeat-gaps.sh).
# About 30 minutes on 2 cores with the defaults (half of it starting the 37 000-server pairs). Their
# variables (each script's header says what they do) pass into UML: make bench-heartbeat GAP_SECS=100
# FALSE_SECS=300. bench/hostload.sh keeps the host's load where the scripts print it with their figures:
# UML's CPU is one host thread, its timings follow the host's.
BENCH_VARS = LUAHA_TRIALS KA_TRIALS KA1_TRIALS FALSE_SECS IDLE_SECS KA_FALSE FALSE_DEADTIME SLOW_SECS KA_SLOW \
	BUSY PROBE_INTERVAL GAP_SECS WINDOWS KA LOGIN_RATE FLOOD_RATE STATUS_EVERY RELOAD_EVERY \
	STATUS_SERVICES STATUS_SERVERS RELOAD_SERVICES RELOAD_SERVERS
bench-heartbeat: luaha
	@command -v python3 > /dev/null && command -v keepalived > /dev/null || \
		{ echo "bench-heartbeat needs python3 and keepalived (make bench installs them)"; exit 1; }
	@echo "host before bench/failover.sh: $$(uptime)"
	UML_PASSENV="$(BENCH_VARS)" UML_MEM=512M UML_TIMEOUT=2400 bench/hostload.sh tests/uml/run bench/failover.sh
	@echo "host before bench/heartbeat-gaps.sh: $$(uptime)"
	UML_PASSENV="$(BENCH_VARS)" UML_MEM=1G UML_TIMEOUT=3600 bench/hostload.sh tests/uml/run bench/heartbeat-gaps.sh
	@echo "host after: $$(uptime)"

lint:
	luacheck -q $(wildcard lua policies examples tests/lua tests/fuzz/*.lua tests/uml/lua tests/lib tests/chaos bench)
	mandoc -T lint -W warning doc/*.[0-9]

# Installation. The binary carries its Lua library and policies (runtime/embed.c): no Lua file is installed,
# `make && make install PREFIX=/usr` needs no rebuild, and DESTDIR stages it. The unit goes where systemd
# says (UNITDIR), with its paths under PREFIX; the hardening drop-in, /etc/default/luaha and the lvs.cf
# samples are examples in DOCDIR.
PREFIX	?= /usr/local
SBINDIR	 = $(PREFIX)/sbin
MANDIR	 = $(PREFIX)/share/man
DOCDIR	 = $(PREFIX)/share/doc/luaha
UNITDIR	?= $(shell pkg-config --variable=systemdsystemunitdir systemd 2> /dev/null || echo /lib/systemd/system)

install: luaha
	install -d $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(DOCDIR)/examples/lvs.cf.d $(DESTDIR)$(DOCDIR)/examples/luaha-piranha.service.d
	install -m 755 luaha $(DESTDIR)$(SBINDIR)/luaha
	sed 's|/usr/local|$(PREFIX)|g' contrib/luaha-piranha.service > $(DESTDIR)$(UNITDIR)/luaha-piranha.service
	install -m 644 doc/luaha.8 doc/luaha-piranha.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 644 doc/luaha-lua.7 doc/luaha-policy.7 $(DESTDIR)$(MANDIR)/man7/
	install -m 644 doc/lvs.cf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 644 README.md NEWS $(DESTDIR)$(DOCDIR)/
	install -m 644 examples/lvs.cf examples/lvs.lua examples/careful-takeover.lua \
	    examples/gateway-handover.lua contrib/default-luaha $(DESTDIR)$(DOCDIR)/examples/
	install -m 644 examples/lvs.cf.d/*.cf $(DESTDIR)$(DOCDIR)/examples/lvs.cf.d/
	install -m 644 contrib/luaha-piranha.service.d/hardening.conf \
	    $(DESTDIR)$(DOCDIR)/examples/luaha-piranha.service.d/

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/luaha $(DESTDIR)$(MANDIR)/man8/luaha.8 $(DESTDIR)$(MANDIR)/man8/luaha-piranha.8 \
	    $(DESTDIR)$(MANDIR)/man7/luaha-lua.7 $(DESTDIR)$(MANDIR)/man7/luaha-policy.7 \
	    $(DESTDIR)$(MANDIR)/man5/lvs.cf.5 $(DESTDIR)$(UNITDIR)/luaha-piranha.service
	rm -rf $(DESTDIR)$(DOCDIR)

# For the tests and the trial Debian package: the version, alone.
print-version:
	@echo $(VERSION)

clean:
	rm -rf build luaha tests/out

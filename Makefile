# candystore: PGXS build.  `make` builds, `make install` installs into the
# PostgreSQL named by PG_CONFIG, `make test` runs the whole suite against a
# throwaway cluster, `make test-long` the longer suites (the Debian package
# installed into the system), `make demo` shows the sample flow.  See README.md.

EXTENSION   = candystore
EXTVERSION  = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" candystore.control)

MODULE_big  = candystore
OBJS        = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/*/*.c worker/*.c)))

# The install script is assembled from sql/install/*.sql, in name order, so
# each concern keeps its own file.
INSTALL_PARTS = $(sort $(wildcard sql/install/*.sql))
# The shipped JSON Schemas (schemas/{domain}/{name}.v{N}.schema.json) become
# the last install part: CREATE EXTENSION registers them.
SCHEMA_FILES = $(sort $(wildcard schemas/*/*.schema.json))
INSTALL_PARTS += candystore-schemas.sql
# The upgrade script to this version is sql/upgrade/'s, followed by the same
# shipped-schemas part as the install script (idempotent: an upgrade
# registers the schemas this version adds).
UPGRADE_SRC = $(wildcard sql/upgrade/candystore--*--$(EXTVERSION).sql)
UPGRADE     = $(notdir $(UPGRADE_SRC))
DATA_built  = candystore--$(EXTVERSION).sql $(UPGRADE)
# Released versions' install and upgrade scripts, frozen as released: an
# installation of an old version is installed and upgraded from them.
DATA        = $(wildcard sql/released/candystore--*.sql)

# pg_regress tests: every sql/*.sql is a test, run in name order, after the
# one that cuts event_log into partitions of 100 positions, so that every
# later test's events, links and walks cross partition boundaries.
REGRESS_FIRST = partitions_of_a_hundred_events_for_the_suite
REGRESS      = $(REGRESS_FIRST) $(filter-out $(REGRESS_FIRST),$(sort $(basename $(notdir $(wildcard sql/*.sql)))))
REGRESS_OPTS = --inputdir=. --load-extension=candystore

# PostgreSQL's headers are included as system headers: they are not written
# for -Wextra, and our own code is held to it in full.
PG_CPPFLAGS = -I$(srcdir)/src -isystem $(shell $(PG_CONFIG) --includedir-server)
PG_CFLAGS   = -Wall -Wextra -Werror
# the workers check that the SQL objects are this version (worker/extension_version.c)
PG_CPPFLAGS += -DCANDYSTORE_VERSION='"$(EXTVERSION)"'
# libidn2: IDNA2008 checks for the JSON Schema hostname formats.  PCRE2:
# the ECMA-262 patterns.  OpenSSL: the trust store and verification of
# amqps:// brokers (worker/amqp_tls.c).  libsodium: Ed25519 of signed events (src/signing.c).
SHLIB_LINK  = -lrabbitmq -lidn2 -lpcre2-8 -lssl -lcrypto -lsodium -lz
ifneq (,$(findstring clang,$(CC)))
# pg_config records a gcc build: clang does not know some of its flags, nor
# the gnu_printf format archetype PostgreSQL's printf attribute names.
PG_CFLAGS += -Wno-unknown-warning-option -Wno-ignored-optimization-argument -Wno-ignored-attributes
endif

EXTRA_CLEAN = results regression.diffs regression.out tmp_check log candystore-schemas.sql

# No JIT bitcode: it needs a matching clang and buys nothing for these
# functions.  Set before PGXS, which reads it as it is included; `override`
# because PGXS's Makefile.global assigns the server's own setting.
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)


candystore--$(EXTVERSION).sql: $(INSTALL_PARTS) candystore.control
	cat $(INSTALL_PARTS) > $@

$(UPGRADE): %.sql: sql/upgrade/%.sql candystore-schemas.sql
	cat $^ > $@

candystore-schemas.sql: $(SCHEMA_FILES) scripts/gen-schemas-sql.sh
	bash scripts/gen-schemas-sql.sh $(SCHEMA_FILES) > $@.tmp && mv $@.tmp $@

.PHONY: test test-long test-ha demo stop bench fuzz
test:
	bash scripts/test.sh

test-long:
	bash scripts/test-long.sh

test-ha:
	bash scripts/test-ha.sh

demo:
	bash scripts/demo.sh

stop:
	bash scripts/stop.sh

bench:
	bash bench/run.sh

# libFuzzer over the parsers and the JSON Schema engine (docs/testing.md); its
# build lives in fuzz/ and never touches candystore.so's.
fuzz:
	bash scripts/fuzz.sh

# The HTTP API server (http/): built, installed and cleaned with the
# extension, by its own Makefile (a program, not part of the PGXS module).
# PGXS's CFLAGS and CPPFLAGS are a server module's (and gcc's, as pg_config
# recorded them); make would pass them down, so the program gets its own.
HTTP_CFLAGS  ?= -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2
HTTP_LDFLAGS ?= -Wl,-z,relro -Wl,-z,now
HTTP_MAKE     = $(MAKE) -C http PG_CONFIG=$(PG_CONFIG) CFLAGS='$(HTTP_CFLAGS)' CPPFLAGS= LDFLAGS='$(HTTP_LDFLAGS)'
all: http-build
install: http-install
clean: http-clean
.PHONY: http-build http-install http-clean
http-build:
	$(HTTP_MAKE)
http-install: http-build
	$(HTTP_MAKE) install
http-clean:
	$(MAKE) -C http clean

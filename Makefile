# qoe_ext: streaming-video QoE analytics inside PostgreSQL (PGXS build).
EXTENSION  = qoe_ext
EXTVERSION = 0.1.0

MODULE_big = qoe_ext
OBJS = \
	src/core/qoe_ext.o \
	src/core/guc.o \
	src/ingest/event_decode.o \
	src/ingest/json_scan.o \
	src/ingest/event_writer.o \
	src/ingest/sessions.o \
	src/ingest/partitions.o \
	src/core/catalog.o \
	src/core/subxact.o \
	src/core/worker_session.o \
	src/core/commit_wake.o \
	src/core/id_table.o \
	src/publish/due_queue.o \
	src/publish/viewers_ledger.o \
	src/publish/metrics_ledger.o \
	src/publish/trending_ledger.o \
	src/ingest/session_fold.o \
	src/ingest/dead_letters.o \
	src/ingest/ingest.o \
	src/analytics/rollup.o \
	src/analytics/deltas_vacuum.o \
	src/analytics/column_sums.o \
	src/analytics/scheduler.o \
	src/kafka/kafka_shmem.o \
	src/kafka/kafka_sources.o \
	src/kafka/kafka_launcher.o \
	src/kafka/kafka_worker.o \
	src/sketch/tdigest.o \
	src/sketch/tdigest_io.o \
	src/sketch/tdigest_agg.o \
	src/sketch/qoe_score.o \
	src/sketch/hll_merge.o \
	src/publish/publish_guc.o \
	src/publish/redis_status.o \
	src/publish/redis_conn.o \
	src/publish/redis_publish.o \
	src/alerts/alert_template.o \
	src/alerts/notifier.o \
	src/recommend/item_knn.o \
	src/recommend/build.o \
	src/recommend/recommend.o \
	src/recommend/evaluate.o

# The install script of a version under development is assembled from one
# piece per concept (sql/install/NN_*.sql); a released version's script is
# frozen, and later changes go into qoe_ext--A--B.sql upgrade scripts.
DATA_built = qoe_ext--$(EXTVERSION).sql
DATA = $(wildcard sql/qoe_ext--*--*.sql)

REGRESS = setup comments decode ingest writer sessions vectors partitions \
	tdigest tdigest_parallel tdigest_accuracy qoe_score hll_merge rollups sources privileges search_path \
	business_views concurrency definitions definitions_bounds alerts alerts_stall recommend rollup_views qoe_metrics_top rollups_by_title
REGRESS_OPTS = --inputdir=.
# concurrency: sessions interleaved step by step (specs/ + expected/)
ISOLATION = rollup_locks
ISOLATION_OPTS = --inputdir=.
export QOE_SHARED_DIR ?= $(abspath $(CURDIR)/../shared)

TOOLS = src/tools/qoe_gen src/tools/qoe_kafka_mock
EXTRA_CLEAN = $(TOOLS) results regression.diffs regression.out output_iso

DEPS = rdkafka jansson hiredis libcurl
PG_CPPFLAGS = -I$(srcdir)/src $(shell pkg-config --cflags $(DEPS)) -Wall -Wextra -Wno-unused-parameter -Werror
SHLIB_LINK = $(shell pkg-config --libs $(DEPS)) -lm

# rebuild what includes a changed header (.deps/, as PostgreSQL's own tree)
override autodepend = yes

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

all: $(TOOLS)

qoe_ext--$(EXTVERSION).sql: $(sort $(wildcard sql/install/*.sql))
	cat $^ > $@

src/tools/qoe_gen: src/tools/qoe_gen.c
	$(CC) -O2 -std=c11 -Wall -Wextra -Werror -o $@ $< -lm

src/tools/qoe_kafka_mock: src/tools/qoe_kafka_mock.c
	$(CC) -O2 -std=c11 -Wall -Wextra -Werror $(shell pkg-config --cflags rdkafka) -o $@ $< $(shell pkg-config --libs rdkafka)

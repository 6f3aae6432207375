/*
 * qoe_kafka_mock: a local Kafka cluster for tests, benchmarks and the demo.
 *
 * Runs librdkafka's built-in mock cluster (rdkafka_mock.h) on loopback, with
 * the requested brokers and topics, prints its bootstrap servers as one line
 * on stdout and runs until SIGTERM or SIGINT.  SIGUSR1 takes every broker
 * down and SIGUSR2 brings them back up, keeping the in-memory log, so a test
 * can stop and restart "the broker" in the middle of a run without losing
 * data.  test/lib/kafka.sh wraps it; doc/generator.md shows how to feed it.
 *
 * The mock keeps only about 5 MiB (or 100k message sets) per partition and
 * silently drops older data, so callers spread load over enough partitions
 * and check counts.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_BROKERS 16
#define MAX_PARTITIONS 10000

static const char usage_text[] =
	"Usage: qoe_kafka_mock [--brokers N] [--topic NAME:PARTITIONS]...\n"
	"Runs a local mock Kafka cluster on loopback and prints its bootstrap servers.\n"
	"\n"
	"  --brokers N              brokers in the cluster (default 1, 1..16)\n"
	"  --topic NAME:PARTITIONS  create a topic (repeatable)\n"
	"  --help                   show this text\n"
	"\n"
	"Signals: SIGTERM/SIGINT stop (exit 0); SIGUSR1 takes all brokers down,\n"
	"SIGUSR2 brings them back up (the stored messages are kept).\n";

static _Noreturn void usage_error(const char *fmt,...) __attribute__((format(printf, 1, 2)));

static _Noreturn void
usage_error(const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	fputs("qoe_kafka_mock: ", stderr);
	vfprintf(stderr, fmt, args);
	fputs("\nTry 'qoe_kafka_mock --help'.\n", stderr);
	va_end(args);
	exit(2);
}

static _Noreturn void
fail(const char *what, const char *detail)
{
	fprintf(stderr, "qoe_kafka_mock: %s: %s\n", what, detail);
	exit(1);
}

static long
parse_int(const char *what, const char *s, long lo, long hi)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		usage_error("invalid %s \"%s\": expected an integer in %ld..%ld", what, s, lo, hi);
	return v;
}

typedef struct Topic
{
	const char *name;
	int			partitions;
} Topic;

/* NAME:PARTITIONS, split in place (the name may itself contain ':'). */
static Topic
parse_topic(char *arg)
{
	char	   *colon = strrchr(arg, ':');
	Topic		t;

	if (colon == NULL || colon == arg)
		usage_error("invalid --topic \"%s\": expected NAME:PARTITIONS, e.g. events:4", arg);
	t.partitions = (int) parse_int("partition count", colon + 1, 1, MAX_PARTITIONS);
	*colon = '\0';
	t.name = arg;
	return t;
}

/* Set every broker (ids 1..n) down or up. */
static void
set_brokers(rd_kafka_mock_cluster_t *mcluster, int n, int up)
{
	for (int id = 1; id <= n; id++)
	{
		rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(mcluster, id)
			: rd_kafka_mock_broker_set_down(mcluster, id);

		if (err)
			fprintf(stderr, "qoe_kafka_mock: cannot set broker %d %s: %s\n",
					id, up ? "up" : "down", rd_kafka_err2str(err));
	}
	fprintf(stderr, "qoe_kafka_mock: brokers %s\n", up ? "up" : "down");
}

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"brokers", required_argument, NULL, 'b'},
		{"topic", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			brokers = 1;
	Topic	   *topics = calloc(argc, sizeof(Topic));
	int			n_topics = 0;
	int			c;
	char		errstr[512];
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mcluster;
	sigset_t	waited;
	int			sig;

	if (topics == NULL)
		fail("cannot allocate", strerror(errno));
	while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'b':
				brokers = (int) parse_int("broker count", optarg, 1, MAX_BROKERS);
				break;
			case 't':
				topics[n_topics++] = parse_topic(optarg);
				break;
			case 'h':
				fputs(usage_text, stdout);
				return 0;
			default:			/* getopt_long has said what was wrong */
				fputs("Try 'qoe_kafka_mock --help'.\n", stderr);
				return 2;
		}
	}
	if (optind < argc)
		usage_error("unexpected argument \"%s\"", argv[optind]);

	/*
	 * Signals are taken synchronously with sigwait() in the main thread, so no
	 * handler runs at all.  They are blocked before librdkafka starts its
	 * threads, which inherit the mask and so never receive them.
	 */
	sigemptyset(&waited);
	sigaddset(&waited, SIGTERM);
	sigaddset(&waited, SIGINT);
	sigaddset(&waited, SIGUSR1);
	sigaddset(&waited, SIGUSR2);
	if ((c = pthread_sigmask(SIG_BLOCK, &waited, NULL)) != 0)
		fail("cannot block signals", strerror(c));

	/* the mock cluster needs a client handle for its bookkeeping only */
	conf = rd_kafka_conf_new();
	/* log_level 4: no notice that this handle has no bootstrap.servers */
	if (rd_kafka_conf_set(conf, "client.id", "qoe_kafka_mock", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
		rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		fail("cannot configure the client", errstr);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
		fail("cannot create the client handle", errstr);
	mcluster = rd_kafka_mock_cluster_new(rk, brokers);
	if (mcluster == NULL)
		fail("cannot start the mock cluster", "rd_kafka_mock_cluster_new failed");

	for (int i = 0; i < n_topics; i++)
	{
		rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mcluster, topics[i].name,
															  topics[i].partitions, 1);

		if (err)
			fail("cannot create topic", rd_kafka_err2str(err));
	}

	if (printf("%s\n", rd_kafka_mock_cluster_bootstraps(mcluster)) < 0 || fflush(stdout) != 0)
		fail("cannot write to stdout", strerror(errno));

	for (;;)
	{
		if (sigwait(&waited, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			break;
		set_brokers(mcluster, brokers, sig == SIGUSR2);
	}

	rd_kafka_mock_cluster_destroy(mcluster);
	rd_kafka_destroy(rk);
	free(topics);
	return 0;
}

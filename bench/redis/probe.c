/*
 * probe.c: commit-to-visible-in-Redis latency of bench/redis.
 *
 * Every INTERVAL ms it ingests, through qoe.ingest in a transaction of its
 * own, a marker: a start and a first frame of a new session of a title
 * nobody else watches (content_id BASE + i, timestamps now - 1 s and now).
 * t0 is the wall clock when the commit returned to the client. Then it polls
 * Redis every 1 ms (one pipelined EXISTS concurrent_viewers:{id} and
 * HEXISTS qoe_metrics:{id} plays) and, on a second connection, every 10 ms
 * (the rollups' target is 1 s; a query a millisecond was a load of its own
 * that took the CPU the ingest it measures needed) the rollups
 * (the marker's play in qoe.qoe_5min, which qoe.qoe_metrics reads for the
 * windows after the levels' watermark: visible there is visible to
 * qoe_metrics), and prints, per marker, the ms from t0 to the first poll
 * that saw each ("-1" if not within 5 s): viewers key, metrics key,
 * rollups. The commit is
 * visible in PostgreSQL before the client learns of it, so t0 is late by
 * one round trip on loopback (tens of microseconds): the figures are at
 * most that much too low. Both clocks are this process's. With SECONDS, it
 * starts no marker after that many seconds (a slow chain must not stretch
 * the run: a marker may wait 5 s).
 *
 *   probe CONNINFO REDIS_PORT MARKERS INTERVAL_MS BASE_ID [SECONDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#define TIMEOUT_MS 5000
#define ROLLUPS_POLL_MS 10

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void
sleep_ms(double ms)
{
	if (ms > 0)
		usleep((useconds_t) (ms * 1000));
}

int
main(int argc, char **argv)
{
	PGconn	   *pg;
	PGconn	   *poll;
	redisContext *rc;
	int			markers;
	int			interval_ms;
	long long	base;
	double		stop_at;

	if (argc != 6 && argc != 7)
	{
		fprintf(stderr, "usage: probe CONNINFO REDIS_PORT MARKERS INTERVAL_MS BASE_ID [SECONDS]\n");
		return 2;
	}
	markers = atoi(argv[3]);
	interval_ms = atoi(argv[4]);
	base = atoll(argv[5]);
	stop_at = argc == 7 ? now_ms() + atoi(argv[6]) * 1000.0 : -1;
	pg = PQconnectdb(argv[1]);
	poll = PQconnectdb(argv[1]);
	if (PQstatus(pg) != CONNECTION_OK || PQstatus(poll) != CONNECTION_OK)
	{
		fprintf(stderr, "probe: %s", PQerrorMessage(PQstatus(pg) != CONNECTION_OK ? pg : poll));
		return 1;
	}
	if (PQresultStatus(PQprepare(poll, "played",
								 "SELECT EXISTS (SELECT FROM qoe.qoe_5min WHERE content_id = $1::bigint AND plays > 0)",
								 1, NULL)) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "probe: %s", PQerrorMessage(poll));
		return 1;
	}
	rc = redisConnect("127.0.0.1", atoi(argv[2]));
	if (rc == NULL || rc->err)
	{
		fprintf(stderr, "probe: cannot connect to Redis\n");
		return 1;
	}
	for (int i = 0; i < markers && (stop_at < 0 || now_ms() < stop_at); i++)
	{
		double		start = now_ms();
		double		t0;
		double		polled = 0;		/* the rollups, last */
		double		seen[3] = {-1, -1, -1};
		char		id_text[32];
		const char *poll_params[1] = {id_text};
		long long	id = base + i;
		long long	ts = (long long) start;
		char		events[1024];
		const char *params[1] = {events};
		PGresult   *res;

		snprintf(events, sizeof(events),
				 "[{\"event_type\":\"start\",\"session_id\":\"probe-%d-%d\",\"event_id\":\"s\","
				 "\"user_id\":1,\"content_id\":%lld,\"timestamp\":%lld},"
				 "{\"event_type\":\"first_frame\",\"session_id\":\"probe-%d-%d\",\"event_id\":\"f\","
				 "\"user_id\":1,\"content_id\":%lld,\"timestamp\":%lld}]",
				 (int) getpid(), i, id, ts - 1000, (int) getpid(), i, id, ts);
		res = PQexecParams(pg, "SELECT accepted FROM qoe.ingest($1::text)", 1, NULL, params,
						   NULL, NULL, 0);
		t0 = now_ms();
		if (PQresultStatus(res) != PGRES_TUPLES_OK || atoi(PQgetvalue(res, 0, 0)) != 2)
		{
			fprintf(stderr, "probe: marker not stored: %s", PQerrorMessage(pg));
			return 1;
		}
		PQclear(res);
		snprintf(id_text, sizeof(id_text), "%lld", id);
		while ((seen[0] < 0 || seen[1] < 0 || seen[2] < 0) && now_ms() - t0 < TIMEOUT_MS)
		{
			redisReply *r[2];
			double		t;

			redisAppendCommand(rc, "EXISTS concurrent_viewers:%lld", id);
			redisAppendCommand(rc, "HEXISTS qoe_metrics:%lld plays", id);
			if (redisGetReply(rc, (void **) &r[0]) != REDIS_OK ||
				redisGetReply(rc, (void **) &r[1]) != REDIS_OK)
			{
				fprintf(stderr, "probe: Redis: %s\n", rc->errstr);
				return 1;
			}
			t = now_ms();
			for (int k = 0; k < 2; k++)
			{
				if (seen[k] < 0 && r[k]->type == REDIS_REPLY_INTEGER && r[k]->integer == 1)
					seen[k] = t - t0;
				freeReplyObject(r[k]);
			}
			if (seen[2] < 0 && t - polled >= ROLLUPS_POLL_MS)
			{
				polled = t;
				res = PQexecPrepared(poll, "played", 1, poll_params, NULL, NULL, 0);
				t = now_ms();
				if (PQresultStatus(res) != PGRES_TUPLES_OK)
				{
					fprintf(stderr, "probe: %s", PQerrorMessage(poll));
					return 1;
				}
				if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
					seen[2] = t - t0;
				PQclear(res);
			}
			sleep_ms(1);
		}
		printf("%.1f %.1f %.1f\n", seen[0], seen[1], seen[2]);
		fflush(stdout);
		sleep_ms(start + interval_ms - now_ms());
	}
	PQfinish(pg);
	PQfinish(poll);
	redisFree(rc);
	return 0;
}

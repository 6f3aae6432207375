/*
 * probe.c: commit-to-visible-in-Redis latency of bench/redis.
 *
 * Every INTERVAL ms it ingests, through qoe.ingest in a transaction of its
 * own, a marker: a start and a first frame of a new session of a title
 * nobody else watches (content_id BASE + i, timestamps now - 1 s and now).
 * t0 is the wall clock when the commit returned to the client. Markers go
 * out on that schedule whatever the earlier ones wait for, so every marker
 * meets the load it is meant to measure. Every 1 ms it polls Redis for
 * every marker still waiting (one pipelined EXISTS concurrent_viewers:{id}
 * and HEXISTS qoe_metrics:{id} plays each) and, on a second connection,
 * every 10 ms (the rollups' target is 1 s; a query a millisecond was a load
 * of its own) the rollups (the marker's play in qoe.qoe_5min, which
 * qoe.qoe_metrics reads for the windows after the levels' watermark:
 * visible there is visible to qoe_metrics), and prints, per marker in
 * order, the ms from t0 to the first poll that saw each ("-1" if not within
 * 5 s): viewers key, metrics key, rollups. The commit is visible in
 * PostgreSQL before the client learns of it, so t0 is late by one round
 * trip on loopback (tens of microseconds): the figures are at most that
 * much too low. Both clocks are this process's. With SECONDS, it starts no
 * marker after that many seconds (the load it measures ends then).
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
	double	   *t0;				/* per marker: its commit returned */
	double		(*seen)[3];		/* per marker: ms to each, -1 not yet */
	int			started = 0;
	int			printed = 0;
	double		next_at;
	double		polled = 0;		/* the rollups, last */

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
	t0 = calloc(markers, sizeof(double));
	seen = calloc(markers, sizeof(double[3]));
	next_at = now_ms();
	while (printed < started || (started < markers && (stop_at < 0 || now_ms() < stop_at)))
	{
		double		t = now_ms();

		/* the next marker, on schedule */
		if (started < markers && (stop_at < 0 || t < stop_at) && t >= next_at)
		{
			long long	id = base + started;
			long long	ts = (long long) t;
			char		events[1024];
			const char *params[1] = {events};
			PGresult   *res;

			snprintf(events, sizeof(events),
					 "[{\"event_type\":\"start\",\"session_id\":\"probe-%d-%d\",\"event_id\":\"s\","
					 "\"user_id\":1,\"content_id\":%lld,\"timestamp\":%lld},"
					 "{\"event_type\":\"first_frame\",\"session_id\":\"probe-%d-%d\",\"event_id\":\"f\","
					 "\"user_id\":1,\"content_id\":%lld,\"timestamp\":%lld}]",
					 (int) getpid(), started, id, ts - 1000, (int) getpid(), started, id, ts);
			res = PQexecParams(pg, "SELECT accepted FROM qoe.ingest($1::text)", 1, NULL, params,
							   NULL, NULL, 0);
			t0[started] = now_ms();
			if (PQresultStatus(res) != PGRES_TUPLES_OK || atoi(PQgetvalue(res, 0, 0)) != 2)
			{
				fprintf(stderr, "probe: marker not stored: %s", PQerrorMessage(pg));
				return 1;
			}
			PQclear(res);
			seen[started][0] = seen[started][1] = seen[started][2] = -1;
			started++;
			/* a slow pass skips the slots it missed: no burst of markers */
			next_at = next_at + interval_ms > now_ms() ? next_at + interval_ms : now_ms();
		}
		/* Redis, for every marker still waiting for a key */
		for (int m = printed; m < started; m++)
			if (seen[m][0] < 0 || seen[m][1] < 0)
			{
				redisAppendCommand(rc, "EXISTS concurrent_viewers:%lld", base + m);
				redisAppendCommand(rc, "HEXISTS qoe_metrics:%lld plays", base + m);
			}
		for (int m = printed; m < started; m++)
			if (seen[m][0] < 0 || seen[m][1] < 0)
			{
				redisReply *r[2];

				if (redisGetReply(rc, (void **) &r[0]) != REDIS_OK ||
					redisGetReply(rc, (void **) &r[1]) != REDIS_OK)
				{
					fprintf(stderr, "probe: Redis: %s\n", rc->errstr);
					return 1;
				}
				t = now_ms();
				for (int k = 0; k < 2; k++)
				{
					if (seen[m][k] < 0 && r[k]->type == REDIS_REPLY_INTEGER && r[k]->integer == 1)
						seen[m][k] = t - t0[m];
					freeReplyObject(r[k]);
				}
			}
		/* the rollups, less often */
		if (now_ms() - polled >= ROLLUPS_POLL_MS)
		{
			polled = now_ms();
			for (int m = printed; m < started; m++)
				if (seen[m][2] < 0)
				{
					char		id_text[32];
					const char *poll_params[1] = {id_text};
					PGresult   *res;

					snprintf(id_text, sizeof(id_text), "%lld", base + m);
					res = PQexecPrepared(poll, "played", 1, poll_params, NULL, NULL, 0);
					t = now_ms();
					if (PQresultStatus(res) != PGRES_TUPLES_OK)
					{
						fprintf(stderr, "probe: %s", PQerrorMessage(poll));
						return 1;
					}
					if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
						seen[m][2] = t - t0[m];
					PQclear(res);
				}
		}
		/* done (all seen, or 5 s gone), in order */
		while (printed < started &&
			   ((seen[printed][0] >= 0 && seen[printed][1] >= 0 && seen[printed][2] >= 0) ||
				now_ms() - t0[printed] >= TIMEOUT_MS))
		{
			printf("%.1f %.1f %.1f\n", seen[printed][0], seen[printed][1], seen[printed][2]);
			fflush(stdout);
			printed++;
		}
		sleep_ms(1);
	}
	PQfinish(pg);
	PQfinish(poll);
	redisFree(rc);
	return 0;
}

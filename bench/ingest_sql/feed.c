/*
 * feed.c: the ingest client of bench/ingest_sql. Reads one JSON payload per
 * line on stdin and sends each as a bound parameter of
 * SELECT qoe.ingest($1), as an application using a driver would (no SQL text
 * to lex per batch). Prints the totals it was told back, then the CPU
 * seconds its server process used (read from /proc: server on this machine).
 *
 *   feed 'dbname=...' < batches.json
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

/* user + system CPU seconds of the connection's server process so far */
static double
backend_cpu_s(PGconn *conn)
{
	char		path[64];
	FILE	   *f;
	unsigned long utime = 0;
	unsigned long stime = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", PQbackendPID(conn));
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	/* fields 14 and 15; the command name (field 2) has no spaces for postgres */
	if (fscanf(f, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			   &utime, &stime) != 2)
		utime = stime = 0;
	fclose(f);
	return (double) (utime + stime) / sysconf(_SC_CLK_TCK);
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		len;
	long		accepted = 0;
	long		rejected = 0;
	long		duplicates = 0;

	if (argc != 2)
	{
		fprintf(stderr, "usage: feed CONNINFO < payloads\n");
		return 2;
	}
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "feed: %s", PQerrorMessage(conn));
		return 1;
	}
	PQclear(PQexec(conn, "SET synchronous_commit = off"));
	if (PQresultStatus(PQprepare(conn, "ingest",
								 "SELECT accepted, rejected, duplicates FROM qoe.ingest($1::text)",
								 1, NULL)) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "feed: %s", PQerrorMessage(conn));
		return 1;
	}
	while ((len = getline(&line, &cap, stdin)) > 0)
	{
		const char *params[1];
		PGresult   *res;

		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		params[0] = line;
		res = PQexecPrepared(conn, "ingest", 1, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			fprintf(stderr, "feed: %s", PQerrorMessage(conn));
			return 1;
		}
		accepted += atol(PQgetvalue(res, 0, 0));
		rejected += atol(PQgetvalue(res, 0, 1));
		duplicates += atol(PQgetvalue(res, 0, 2));
		PQclear(res);
	}
	printf("%ld %ld %ld %.2f\n", accepted, rejected, duplicates, backend_cpu_s(conn));
	free(line);
	PQfinish(conn);
	return 0;
}

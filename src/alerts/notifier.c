/*
 * notifier.c: delivers alerts to Prometheus Alertmanager (doc/alerts.md).
 *
 * qoe.evaluate_alerts puts alerts that fire or resolve in an outbox (the
 * deliver_at column of qoe.alerts) in its own transaction; this background
 * process sends them afterwards, with libcurl, to POST /api/v2/alerts, so an
 * Alertmanager that is slow or down never holds up evaluation or ingest.
 * Firing alerts are sent again every qoe.alertmanager_resend_interval (their
 * endsAt is four intervals ahead), resolved ones once with their endsAt; a
 * failed delivery is retried after 1 s, doubling to 1 min (qoe.alert_delivered).
 *
 * Two processes, as the Kafka supervisor and launcher (kafka_launcher.c): the
 * watcher, registered at server start, connects to no database and starts the
 * notifier once qoe.database and qoe.worker_role exist and the role is fit
 * (no superuser, can log in), and again 10 s after it exits; the notifier
 * connects to qoe.database as that role, with search_path pinned.
 */
#include "postgres.h"

#include <curl/curl.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "alerts/notifier.h"
#include "core/guc.h"
#include "core/worker_session.h"

#define WATCH_MS		10000	/* the watcher's look, and restart delay */
#define POLL_MS			500		/* how often the outbox is read */
#define OFF_MS			10000	/* the look while no URL is set */
#define BATCH			100		/* alerts per POST */
#define REPLY_MAX		512		/* bytes of an error reply kept */

static char *alertmanager_url = NULL;
static int	alertmanager_timeout_ms = 5000;
static int	alertmanager_resend_s = 60;

/* the watcher's */
static QoeChild notifier = {.function = "qoe_alert_notifier_main", .name = "qoe_ext alert notifier",
.main_arg = BoolGetDatum(true), .retry_ms = WATCH_MS};

void
AlertsInit(void)
{
	BackgroundWorker worker = {0};

	/* the URL may carry credentials (user:password@): superusers only see it */
	DefineCustomStringVariable("qoe.alertmanager_url",
							   "Base URL of the Prometheus Alertmanager alerts are delivered to; empty: none.",
							   "For example http://127.0.0.1:9093; alerts are POSTed to <url>/api/v2/alerts.",
							   &alertmanager_url, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("qoe.alertmanager_timeout",
							"Time allowed for one delivery to Alertmanager, connection included.",
							NULL,
							&alertmanager_timeout_ms, alertmanager_timeout_ms, 100, 60000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("qoe.alertmanager_resend_interval",
							"How often a firing alert is sent to Alertmanager again.",
							"Its endsAt is four intervals ahead, so Alertmanager resolves it by itself if sending stops.",
							&alertmanager_resend_s, alertmanager_resend_s, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	strlcpy(worker.bgw_library_name, "qoe_ext", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "qoe_alert_notifier_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "qoe_ext alert watcher", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "qoe_ext alert watcher", BGW_MAXLEN);
	worker.bgw_main_arg = BoolGetDatum(false);
	RegisterBackgroundWorker(&worker);
}

/* ---- the watcher ---- */

/* the notifier's life is within the watcher's */
static void
stop_notifier(int code, Datum arg)
{
	qoe_child_stop(&notifier);
}

/* the Kafka supervisor logs why the role is unfit; here we only wait */
static void
watcher_main(void)
{
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("qoe_ext alert watcher");
	before_shmem_exit(stop_notifier, 0);

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 qoe_child_look(&notifier, GetCurrentTimestamp(), false), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ---- the notifier ---- */

/* The alerts due now, copied out of the transaction. */
typedef struct Outbox
{
	char	   *ids;			/* bigint[] as text */
	char	   *states;			/* text[] as text */
	char	   *body;			/* the POST body */
} Outbox;

/* the number of ids in "{1,2,3}" */
static int
count_ids(const char *ids)
{
	int			n = 1;

	for (; *ids; ids++)
		n += (*ids == ',');
	return n;
}

static char *
resend_interval(void)
{
	return psprintf("%d seconds", alertmanager_resend_s);
}

/* One SQL statement of the outbox, and where its one row goes (if box). */
typedef struct OutboxStatement
{
	const char *sql;
	int			nargs;
	Oid		   *types;
	Datum	   *values;
	const char *nulls;
	Outbox	   *box;
	MemoryContext box_cxt;
} OutboxStatement;

static void
run_statement(void *arg)
{
	OutboxStatement *st = (OutboxStatement *) arg;

	if (SPI_execute_with_args(st->sql, st->nargs, st->types, st->values, st->nulls,
							  false, 0) < 0)
		elog(ERROR, "running \"%s\" failed", st->sql);
	if (st->box != NULL && SPI_processed == 1 &&
		SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) != NULL)
	{
		MemoryContext spi = MemoryContextSwitchTo(st->box_cxt);

		st->box->ids = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		st->box->states = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		st->box->body = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
		MemoryContextSwitchTo(spi);
	}
}

/*
 * Run one SQL statement of the outbox in its own transaction, as the
 * extension's functions; false (and a log line) when it failed.
 */
static bool
run_sql(const char *what, const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
		Outbox *box)
{
	OutboxStatement st = {sql, nargs, types, values, nulls, box, CurrentMemoryContext};
	ErrorData  *error = qoe_run_own_transaction(what, run_statement, &st);

	if (error == NULL)
		return true;
	ereport(LOG, (errmsg("qoe_ext alert notifier: %s failed: %s", what, error->message)));
	FreeErrorData(error);
	return false;
}

/* The start of a reply, for the error text. */
typedef struct Reply
{
	size_t		len;
	char		data[REPLY_MAX + 1];
} Reply;

/*
 * libcurl's reply callback: no PostgreSQL calls (no palloc, no ereport) in
 * here. Printable ASCII only, so that any reply can be stored as text.
 */
static size_t
keep_reply(char *data, size_t size, size_t nmemb, void *arg)
{
	Reply	   *reply = (Reply *) arg;
	size_t		len = size * nmemb;
	size_t		take = Min(len, REPLY_MAX - reply->len);

	for (size_t i = 0; i < take; i++)
		reply->data[reply->len + i] = (data[i] >= ' ' && data[i] <= '~') ? data[i] : '?';
	reply->len += take;
	reply->data[reply->len] = '\0';
	return len;
}

/* POST the body; NULL on success, else what went wrong (never the URL: it may hold a password). */
static char *
post_alerts(CURL *curl, const char *body)
{
	char		errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers;
	Reply		reply = {0};
	size_t		ulen = strlen(alertmanager_url);
	char	   *url;
	CURLcode	rc;
	long		status = 0;
	char	   *error = NULL;

	/* "http://host:9093/" and "http://host:9093" both work */
	if (alertmanager_url[ulen - 1] == '/')
		ulen--;
	url = psprintf("%.*s/api/v2/alerts", (int) ulen, alertmanager_url);
	headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (headers == NULL)
		return pstrdup("out of memory in libcurl");
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long) alertmanager_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long) alertmanager_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_reply);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	rc = curl_easy_perform(curl);
	curl_slist_free_all(headers);
	if (rc != CURLE_OK)
		error = psprintf("%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
	else if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
			 status < 200 || status > 299)
		error = psprintf("HTTP status %ld: %s", status, reply.data);
	pfree(url);
	return error;
}

static void
notifier_main(void)
{
	MemoryContext loop_cxt;
	CURL	   *curl;

	/* the watcher checked the role, but it may have changed since */
	qoe_worker_connect_as_role("qoe_ext alert notifier");

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || (curl = curl_easy_init()) == NULL)
		ereport(FATAL, (errmsg("qoe_ext alert notifier could not initialise libcurl")));
	loop_cxt = AllocSetContextCreate(TopMemoryContext, "qoe alert notifier", ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		long		wait_ms = OFF_MS;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextReset(loop_cxt);
		MemoryContextSwitchTo(loop_cxt);
		if (alertmanager_url[0] != '\0')
		{
			Outbox		box = {0};
			Oid			types[2] = {INT4OID, TEXTOID};
			Oid			text_types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
			Datum		values[4];

			values[0] = Int32GetDatum(BATCH);
			values[1] = CStringGetTextDatum(resend_interval());
			/* a failure (logged) is tried again at the slower pace */
			if (run_sql("reading the alert outbox",
						"SELECT ids, states, body FROM qoe.alert_outbox(pg_catalog.now(), $1,"
						" $2::pg_catalog.interval)", 2, types, values, NULL, &box))
				wait_ms = POLL_MS;
			if (box.ids != NULL)
			{
				char	   *error;

				pgstat_report_activity(STATE_RUNNING, "posting alerts to Alertmanager");
				error = post_alerts(curl, box.body);
				values[0] = CStringGetTextDatum(box.ids);
				values[1] = CStringGetTextDatum(box.states);
				values[2] = error ? CStringGetTextDatum(error) : (Datum) 0;
				values[3] = CStringGetTextDatum(resend_interval());
				(void) run_sql("recording a delivery",
							   "SELECT qoe.alert_delivered(pg_catalog.now(), $1::pg_catalog.int8[],"
							   " $2::pg_catalog.text[], $3, $4::pg_catalog.interval)",
							   4, text_types, values, error ? "    " : "  n ", NULL);
				if (error == NULL && count_ids(box.ids) == BATCH)
					wait_ms = 0;	/* a full batch may leave more */
			}
			MemoryContextSwitchTo(TopMemoryContext);
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* The watcher (false) or the notifier (true). */
void
qoe_alert_notifier_main(Datum main_arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	if (DatumGetBool(main_arg))
		notifier_main();
	else
		watcher_main();
}

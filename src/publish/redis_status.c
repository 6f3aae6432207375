/*
 * redis_status.c: the Redis publisher's connection state, counters and last
 * error in shared memory (requested through the shmem hooks when
 * preloaded), and qoe.redis_publisher_status(), which qoe.redis_status
 * shows. Counters count since the server started.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "publish/redis_publish.h"
#include "publish/redis_status.h"
#include "publish/viewers_ledger.h"

#define SERVER_LEN	256
#define ERROR_LEN	256

typedef struct QoeRedisStatus
{
	slock_t		mutex;
	pid_t		pid;
	QoeRedisState state;
	char		server[SERVER_LEN];
	TimestampTz state_since;
	TimestampTz last_publish_at;
	int64		publishes;
	int64		woken_rounds;	/* of them, started by a wake-up, not the interval */
	int64		viewer_rounds;	/* of them, those that read the viewers */
	int64		all_viewer_rounds;	/* of these, of every title */
	int64		metrics_rounds;	/* of them, those that read qoe_metrics */
	int64		all_metrics_rounds;	/* of these, of every title */
	int64		keys_written;
	int64		alerts_published;
	int64		errors;
	char		last_error[ERROR_LEN];
	TimestampTz last_error_at;
	double		note_rate;		/* notes a second, as of note_rate_at */
	TimestampTz note_rate_at;
} QoeRedisStatus;

static QoeRedisStatus *status = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
status_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(QoeRedisStatus)));
}

static void
status_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	status = ShmemInitStruct("qoe_ext redis", sizeof(QoeRedisStatus), &found);
	if (!found)
	{
		memset(status, 0, sizeof(QoeRedisStatus));
		SpinLockInit(&status->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
RedisStatusShmemInit(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = status_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = status_shmem_startup;
}

static void
status_detach(int code, Datum arg)
{
	SpinLockAcquire(&status->mutex);
	status->pid = 0;
	status->state = QOE_REDIS_OFF;
	status->state_since = GetCurrentTimestamp();
	status->note_rate = 0;
	status->note_rate_at = 0;
	SpinLockRelease(&status->mutex);
}

/* The publisher announces itself; its exit turns the state off. */
void
qoe_redis_status_attach(void)
{
	SpinLockAcquire(&status->mutex);
	status->pid = MyProcPid;
	SpinLockRelease(&status->mutex);
	on_shmem_exit(status_detach, 0);
}

void
qoe_redis_status_set_state(QoeRedisState state, const char *server)
{
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&status->mutex);
	if (status->state != state)
		status->state_since = now;
	status->state = state;
	strlcpy(status->server, server, SERVER_LEN);
	SpinLockRelease(&status->mutex);
}

void
qoe_redis_status_error(const char *message)
{
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&status->mutex);
	status->errors++;
	strlcpy(status->last_error, message, ERROR_LEN);
	status->last_error_at = now;
	SpinLockRelease(&status->mutex);
}

/* A round that reached Redis and read every reply. */
void
qoe_redis_status_published(int64 keys_written, int64 alerts_published, bool woken,
						   bool read_viewers, bool read_all_viewers,
						   bool read_metrics, bool read_all_metrics)
{
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&status->mutex);
	status->publishes++;
	status->woken_rounds += woken;
	status->viewer_rounds += read_viewers;
	status->all_viewer_rounds += read_all_viewers;
	status->metrics_rounds += read_metrics;
	status->all_metrics_rounds += read_all_metrics;
	status->keys_written += keys_written;
	status->alerts_published += alerts_published;
	status->last_publish_at = now;
	SpinLockRelease(&status->mutex);
}

void
qoe_redis_status_pace(double notes_per_second, TimestampTz at)
{
	SpinLockAcquire(&status->mutex);
	status->note_rate = notes_per_second;
	status->note_rate_at = at;
	SpinLockRelease(&status->mutex);
}

static const char *
state_name(QoeRedisState state)
{
	switch (state)
	{
		case QOE_REDIS_OFF:
			return "off";
		case QOE_REDIS_CONNECTING:
			return "connecting";
		case QOE_REDIS_CONNECTED:
			return "connected";
		case QOE_REDIS_DISCONNECTED:
			return "disconnected";
	}
	return "unknown";
}

PG_FUNCTION_INFO_V1(qoe_redis_publisher_status);
Datum
qoe_redis_publisher_status(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	QoeRedisStatus copy = {0};
	double		rate;
	Datum		values[18];
	bool		nulls[18] = {0};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	/* not preloaded: no publisher, state off */
	if (status != NULL)
	{
		SpinLockAcquire(&status->mutex);
		copy = *status;
		SpinLockRelease(&status->mutex);
	}
	values[0] = CStringGetTextDatum(state_name(copy.state));
	values[1] = CStringGetTextDatum(copy.server);
	nulls[1] = copy.server[0] == '\0';
	values[2] = Int32GetDatum((int32) copy.pid);
	nulls[2] = copy.pid == 0;
	values[3] = TimestampTzGetDatum(copy.state_since);
	nulls[3] = copy.state_since == 0;
	values[4] = TimestampTzGetDatum(copy.last_publish_at);
	nulls[4] = copy.last_publish_at == 0;
	values[5] = Int64GetDatum(copy.publishes);
	values[6] = Int64GetDatum(copy.woken_rounds);
	values[7] = Int64GetDatum(copy.viewer_rounds);
	values[8] = Int64GetDatum(copy.keys_written);
	values[9] = Int64GetDatum(copy.alerts_published);
	values[10] = Int64GetDatum(copy.errors);
	values[11] = CStringGetTextDatum(copy.last_error);
	nulls[11] = copy.last_error_at == 0;
	values[12] = TimestampTzGetDatum(copy.last_error_at);
	nulls[12] = copy.last_error_at == 0;
	values[13] = Int64GetDatum(copy.all_viewer_rounds);
	values[14] = Int64GetDatum(copy.metrics_rounds);
	values[15] = Int64GetDatum(copy.all_metrics_rounds);
	/* now, as the publisher would space its rounds: no note came since */
	rate = qoe_note_rate_decayed(copy.note_rate, copy.note_rate_at, GetCurrentTimestamp());
	values[16] = Float8GetDatum(rate);
	nulls[16] = copy.note_rate_at == 0;
	values[17] = Int32GetDatum(qoe_redis_round_spacing_ms(rate));
	nulls[17] = copy.note_rate_at == 0;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

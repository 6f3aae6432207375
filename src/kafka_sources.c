/*
 * kafka_sources.c: the C side of the Kafka source SQL API (40_sources.sql).
 *
 * Configuration lives in qoe.sources and is managed by plpgsql functions;
 * here are the pieces they need from C: librdkafka's verdict on properties,
 * waking the launcher when qoe.sources changes (at commit, so it sees the
 * change), and the status functions that read the workers' shared memory.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "kafka_shmem.h"
#include "kafka_sources.h"

/* Properties qoe_ext sets itself: exactly once depends on them. */
static const char *const reserved_properties[] = {
	"bootstrap.servers", "metadata.broker.list", "group.id",
	"enable.auto.commit", "enable.auto.offset.store", NULL
};

bool
qoe_kafka_property_set(rd_kafka_conf_t *conf, const char *key, const char *value,
					   char *errbuf, size_t errlen)
{
	for (int i = 0; reserved_properties[i] != NULL; i++)
		if (strcmp(key, reserved_properties[i]) == 0)
		{
			snprintf(errbuf, errlen, "\"%s\" is set by qoe_ext from the source's columns", key);
			return false;
		}
	return rd_kafka_conf_set(conf, key, value, errbuf, errlen) == RD_KAFKA_CONF_OK;
}

static char *
property_value_text(const char *key, const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out,
													   NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("kafka property \"%s\" must be a string, number or boolean", key)));
	}
	return NULL;				/* keep compiler quiet */
}

PG_FUNCTION_INFO_V1(qoe_check_kafka_properties);
Datum
qoe_check_kafka_properties(PG_FUNCTION_ARGS)
{
	Jsonb	   *properties = PG_GETARG_JSONB_P(0);
	rd_kafka_conf_t *conf;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;
	char		errbuf[512];

	if (!JB_ROOT_IS_OBJECT(properties))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("kafka properties must be a JSON object"),
				 errhint("For example '{\"security.protocol\": \"SASL_SSL\"}'.")));

	conf = rd_kafka_conf_new();
	PG_TRY();
	{
		it = JsonbIteratorInit(&properties->root);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			char	   *value;

			if (tok == WJB_KEY)
			{
				key = pnstrdup(v.val.string.val, v.val.string.len);
				continue;
			}
			if (tok != WJB_VALUE)
				continue;
			value = property_value_text(key, &v);
			if (!qoe_kafka_property_set(conf, key, value, errbuf, sizeof(errbuf)))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid kafka property \"%s\"", key),
						 errdetail_internal("%s", errbuf),
						 errhint("Properties are librdkafka consumer settings (its CONFIGURATION.md); brokers, group_id and offset commits come from the source itself.")));
		}
	}
	PG_FINALLY();
	{
		rd_kafka_conf_destroy(conf);
	}
	PG_END_TRY();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(qoe_launcher_pid);
Datum
qoe_launcher_pid(PG_FUNCTION_ARGS)
{
	pid_t		pid = 0;

	if (qoe_kafka_shared != NULL)
	{
		LWLockAcquire(qoe_kafka_shared->lock, LW_SHARED);
		if (qoe_kafka_shared->launcher_dboid == MyDatabaseId)
			pid = qoe_kafka_shared->launcher_pid;
		LWLockRelease(qoe_kafka_shared->lock);
	}
	if (pid == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32((int32) pid);
}

static bool wake_at_commit = false;
static bool xact_callback_registered = false;

static void
wake_launcher_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && wake_at_commit)
		qoe_kafka_wake_launcher();
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
		wake_at_commit = false;
}

PG_FUNCTION_INFO_V1(qoe_wake_launcher);
Datum
qoe_wake_launcher(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "qoe.wake_launcher() must be called as a trigger");
	if (!xact_callback_registered)
	{
		RegisterXactCallback(wake_launcher_xact_callback, NULL);
		xact_callback_registered = true;
	}
	wake_at_commit = true;
	return PointerGetDatum(NULL);
}

/* A copy of this database's slots, taken under the lock. */
static int
copy_slots(QoeWorkerSlot **copy)
{
	int			n = 0;

	*copy = palloc(sizeof(QoeWorkerSlot) * QOE_MAX_WORKERS);
	if (qoe_kafka_shared == NULL)
		return 0;
	LWLockAcquire(qoe_kafka_shared->lock, LW_SHARED);
	for (int i = 0; i < QOE_MAX_WORKERS; i++)
	{
		const QoeWorkerSlot *slot = &qoe_kafka_shared->slots[i];

		if (slot->state != QOE_WS_FREE && slot->dboid == MyDatabaseId)
			(*copy)[n++] = *slot;
	}
	LWLockRelease(qoe_kafka_shared->lock);
	return n;
}

PG_FUNCTION_INFO_V1(qoe_source_workers);
Datum
qoe_source_workers(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	QoeWorkerSlot *slots;
	int			n;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	n = copy_slots(&slots);
	for (int i = 0; i < n; i++)
	{
		const QoeWorkerSlot *s = &slots[i];
		Datum		values[14];
		bool		nulls[14] = {0};

		values[0] = CStringGetTextDatum(s->source);
		values[1] = Int32GetDatum(s->worker_index);
		values[2] = Int32GetDatum((int32) s->pid);
		nulls[2] = s->pid == 0;
		values[3] = CStringGetTextDatum(qoe_worker_state_name(s->state));
		values[4] = Int32GetDatum(s->npartitions);
		values[5] = Int64GetDatum(s->events);
		values[6] = Int64GetDatum(s->messages);
		values[7] = Int64GetDatum(s->bytes);
		values[8] = Int64GetDatum(s->dead_letters);
		values[9] = Int64GetDatum(qoe_slot_events_last_minute(s));
		values[10] = TimestampTzGetDatum(s->last_stored_at);
		nulls[10] = s->last_stored_at == 0;
		values[11] = CStringGetTextDatum(s->last_error);
		nulls[11] = s->last_error_at == 0;
		values[12] = TimestampTzGetDatum(s->last_error_at);
		nulls[12] = s->last_error_at == 0;
		values[13] = CStringGetTextDatum(s->stalled);
		nulls[13] = s->stalled[0] == '\0';
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(qoe_source_watermarks);
Datum
qoe_source_watermarks(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	QoeWorkerSlot *slots;
	int			n;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	n = copy_slots(&slots);
	for (int i = 0; i < n; i++)
		for (int p = 0; p < slots[i].npartitions; p++)
		{
			const QoePartitionLag *part = &slots[i].partitions[p];
			Datum		values[4];
			bool		nulls[4] = {false, false, part->high_watermark < 0, false};

			values[0] = CStringGetTextDatum(slots[i].source);
			values[1] = Int32GetDatum(part->partition);
			values[2] = Int64GetDatum(part->high_watermark);
			values[3] = BoolGetDatum(part->stalled);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	return (Datum) 0;
}

/*
 * kafka_sources.c: the C side of the Kafka source SQL API (40_sources.sql).
 *
 * Configuration lives in qoe.sources and is managed by plpgsql functions;
 * here are the pieces they need from C: the check of Kafka properties (an
 * allow-list, privileges for those naming server files, librdkafka's
 * verdict), run by a trigger on every write and again by the workers,
 * waking the launcher when qoe.sources changes (at commit, so it sees the
 * change), and the status functions that read the workers' shared memory.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "kafka/kafka_shmem.h"
#include "kafka/kafka_sources.h"

/*
 * Properties qoe_ext sets itself from the source's columns: exactly once
 * depends on them (auto.offset.reset comes from start_position).
 */
static const char *const reserved_properties[] = {
	"bootstrap.servers", "metadata.broker.list", "group.id", "enable.auto.commit",
	"enable.auto.offset.store", "auto.offset.reset", NULL
};

/*
 * The librdkafka properties a source may set: security, fetch and connection
 * tunables. Everything else is refused, for superusers too, since a worker
 * cannot tell who wrote a row: properties that load code
 * (plugin.library.paths, ssl.engine.location, ssl.providers), run commands
 * (sasl.kerberos.kinit.cmd, and the principal and keytab pasted into it),
 * write files (offset.store.path), fetch URLs (sasl.oauthbearer.token.
 * endpoint.url, file:// included), deliver events or signals the worker does
 * not handle (enable.partition.eof, log.queue, internal.termination.signal,
 * statistics.interval.ms), or tune a consumer group, which the workers do
 * not join (group.instance.id, partition.assignment.strategy). The group
 * settings allowed before the workers left groups (session.timeout.ms,
 * heartbeat.interval.ms, max.poll.interval.ms, coordinator.query.interval.ms)
 * stay allowed and do nothing, so that such sources still load (a dump's
 * rows go through the trigger below).
 * A SERVER_FILE property makes the server read a file as its OS user: only
 * roles that may read server files may set it.
 */
typedef enum PropertyKind
{
	PROPERTY_PLAIN,
	PROPERTY_SERVER_FILE
} PropertyKind;

typedef struct AllowedProperty
{
	const char *name;
	PropertyKind kind;
} AllowedProperty;

static const AllowedProperty allowed_properties[] = {
	{"security.protocol", PROPERTY_PLAIN},
	{"sasl.mechanism", PROPERTY_PLAIN},
	{"sasl.mechanisms", PROPERTY_PLAIN},
	{"sasl.username", PROPERTY_PLAIN},
	{"sasl.password", PROPERTY_PLAIN},
	{"sasl.kerberos.service.name", PROPERTY_PLAIN},
	{"sasl.kerberos.min.time.before.relogin", PROPERTY_PLAIN},
	{"ssl.ca.location", PROPERTY_SERVER_FILE},
	{"ssl.ca.pem", PROPERTY_PLAIN},
	{"ssl.certificate.location", PROPERTY_SERVER_FILE},
	{"ssl.certificate.pem", PROPERTY_PLAIN},
	{"ssl.key.location", PROPERTY_SERVER_FILE},
	{"ssl.key.pem", PROPERTY_PLAIN},
	{"ssl.key.password", PROPERTY_PLAIN},
	{"ssl.keystore.location", PROPERTY_SERVER_FILE},
	{"ssl.keystore.password", PROPERTY_PLAIN},
	{"ssl.crl.location", PROPERTY_SERVER_FILE},
	{"ssl.endpoint.identification.algorithm", PROPERTY_PLAIN},
	{"enable.ssl.certificate.verification", PROPERTY_PLAIN},
	{"ssl.cipher.suites", PROPERTY_PLAIN},
	{"ssl.curves.list", PROPERTY_PLAIN},
	{"ssl.sigalgs.list", PROPERTY_PLAIN},
	{"client.id", PROPERTY_PLAIN},
	{"client.rack", PROPERTY_PLAIN},
	{"session.timeout.ms", PROPERTY_PLAIN},
	{"heartbeat.interval.ms", PROPERTY_PLAIN},
	{"max.poll.interval.ms", PROPERTY_PLAIN},
	{"coordinator.query.interval.ms", PROPERTY_PLAIN},
	{"isolation.level", PROPERTY_PLAIN},
	{"check.crcs", PROPERTY_PLAIN},
	{"fetch.wait.max.ms", PROPERTY_PLAIN},
	{"fetch.min.bytes", PROPERTY_PLAIN},
	{"fetch.max.bytes", PROPERTY_PLAIN},
	{"fetch.message.max.bytes", PROPERTY_PLAIN},
	{"max.partition.fetch.bytes", PROPERTY_PLAIN},
	{"fetch.error.backoff.ms", PROPERTY_PLAIN},
	{"queued.min.messages", PROPERTY_PLAIN},
	{"queued.max.messages.kbytes", PROPERTY_PLAIN},
	{"receive.message.max.bytes", PROPERTY_PLAIN},
	{"message.max.bytes", PROPERTY_PLAIN},
	{"topic.metadata.refresh.interval.ms", PROPERTY_PLAIN},
	{"topic.metadata.refresh.fast.interval.ms", PROPERTY_PLAIN},
	{"metadata.max.age.ms", PROPERTY_PLAIN},
	{"socket.timeout.ms", PROPERTY_PLAIN},
	{"socket.connection.setup.timeout.ms", PROPERTY_PLAIN},
	{"socket.keepalive.enable", PROPERTY_PLAIN},
	{"socket.nagle.disable", PROPERTY_PLAIN},
	{"socket.send.buffer.bytes", PROPERTY_PLAIN},
	{"socket.receive.buffer.bytes", PROPERTY_PLAIN},
	{"socket.max.fails", PROPERTY_PLAIN},
	{"connections.max.idle.ms", PROPERTY_PLAIN},
	{"reconnect.backoff.ms", PROPERTY_PLAIN},
	{"reconnect.backoff.max.ms", PROPERTY_PLAIN},
	{"broker.address.ttl", PROPERTY_PLAIN},
	{"broker.address.family", PROPERTY_PLAIN},
	{"api.version.request", PROPERTY_PLAIN},
	{"api.version.request.timeout.ms", PROPERTY_PLAIN},
	{"api.version.fallback.ms", PROPERTY_PLAIN},
	{"broker.version.fallback", PROPERTY_PLAIN},
	{"log.connection.close", PROPERTY_PLAIN},
};

static bool
is_reserved(const char *key)
{
	for (int i = 0; reserved_properties[i] != NULL; i++)
		if (strcmp(key, reserved_properties[i]) == 0)
			return true;
	return false;
}

static const AllowedProperty *
find_allowed(const char *key)
{
	for (int i = 0; i < (int) lengthof(allowed_properties); i++)
		if (strcmp(key, allowed_properties[i].name) == 0)
			return &allowed_properties[i];
	return NULL;
}

/* The worker's check: the allow-list, then librdkafka's own verdict. */
bool
qoe_kafka_property_set(rd_kafka_conf_t *conf, const char *key, const char *value,
					   char *errbuf, size_t errlen)
{
	if (is_reserved(key))
	{
		snprintf(errbuf, errlen, "\"%s\" is set by qoe_ext from the source's columns", key);
		return false;
	}
	if (find_allowed(key) == NULL)
	{
		snprintf(errbuf, errlen, "\"%s\" is not one of the consumer properties qoe_ext allows", key);
		return false;
	}
	return rd_kafka_conf_set(conf, key, value, errbuf, errlen) == RD_KAFKA_CONF_OK;
}

static char *
allowed_list(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < (int) lengthof(allowed_properties); i++)
		appendStringInfo(&buf, "%s%s%s", i > 0 ? ", " : "", allowed_properties[i].name,
						 allowed_properties[i].kind == PROPERTY_SERVER_FILE ? " (*)" : "");
	return buf.data;
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

/* The value of key in old, as text, or NULL. */
static char *
old_value_text(Jsonb *old, const char *key)
{
	JsonbValue *v;

	if (old == NULL || !JB_ROOT_IS_OBJECT(old))
		return NULL;
	v = getKeyJsonValueFromContainer(&old->root, key, strlen(key), NULL);
	if (v == NULL || (v->type != jbvString && v->type != jbvNumeric && v->type != jbvBool))
		return NULL;
	return property_value_text(key, v);
}

/* Check one property as the current user would set it, on conf. */
static void
check_property(rd_kafka_conf_t *conf, const char *key, const char *value, Jsonb *old)
{
	const AllowedProperty *allowed;
	char	   *was;
	char		errbuf[512];

	if (is_reserved(key))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid kafka property \"%s\"", key),
				 errdetail("\"%s\" is set by qoe_ext from the source's columns.", key),
				 errhint("Brokers, group_id, start_position and offset commits come from the source itself.")));
	allowed = find_allowed(key);
	if (allowed == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("kafka property \"%s\" is not allowed", key),
				 errdetail("qoe_ext passes only known consumer settings to librdkafka: others can load code, run commands or reach files on the server, or break exactly-once ingest."),
				 errhint("Allowed: %s; (*) only for roles that may read server files.", allowed_list())));
	/* an update that leaves a file property as it was needs no privilege */
	was = old_value_text(old, key);
	if (allowed->kind == PROPERTY_SERVER_FILE &&
		(was == NULL || strcmp(was, value) != 0) &&
		!superuser() && !has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to set kafka property \"%s\"", key),
				 errdetail("It names a file the server reads as its operating-system user."),
				 errhint("Only superusers and roles with the privileges of pg_read_server_files may set it; the *.pem properties take the certificate or key itself.")));
	if (rd_kafka_conf_set(conf, key, value, errbuf, sizeof(errbuf)) != RD_KAFKA_CONF_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid kafka property \"%s\"", key),
				 errdetail_internal("%s", errbuf),
				 errhint("Properties are librdkafka consumer settings (its CONFIGURATION.md).")));
}

static void
check_each_property(rd_kafka_conf_t *conf, Jsonb *properties, Jsonb *old)
{
	JsonbIterator *it = JsonbIteratorInit(&properties->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			key = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE)
			check_property(conf, key, property_value_text(key, &v), old);
	}
}

/*
 * Check properties as the current user would set them; old: the row's
 * properties before an update, or NULL.
 */
static void
check_properties(Jsonb *properties, Jsonb *old)
{
	rd_kafka_conf_t *conf;

	if (!JB_ROOT_IS_OBJECT(properties))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("kafka properties must be a JSON object"),
				 errhint("For example '{\"security.protocol\": \"SASL_SSL\"}'.")));
	conf = rd_kafka_conf_new();
	PG_TRY();
	{
		check_each_property(conf, properties, old);
	}
	PG_FINALLY();
	{
		rd_kafka_conf_destroy(conf);
	}
	PG_END_TRY();
}

PG_FUNCTION_INFO_V1(qoe_check_kafka_properties);
Datum
qoe_check_kafka_properties(PG_FUNCTION_ARGS)
{
	check_properties(PG_GETARG_JSONB_P(0), NULL);
	PG_RETURN_VOID();
}

/*
 * BEFORE INSERT OR UPDATE OF properties trigger on qoe.sources: every path
 * that writes properties (add_source, a hand-written INSERT or UPDATE, COPY)
 * is checked as the role that writes them.
 */
PG_FUNCTION_INFO_V1(qoe_sources_check_properties);
Datum
qoe_sources_check_properties(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	tuple;
	int			attnum;
	Datum		d;
	bool		isnull;
	Jsonb	   *old = NULL;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		elog(ERROR, "qoe.sources_check_properties() must be called as a BEFORE ROW trigger");
	desc = RelationGetDescr(trigdata->tg_relation);
	attnum = SPI_fnumber(desc, "properties");
	if (attnum <= 0)
		elog(ERROR, "qoe.sources has no column \"properties\"");
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple
		: trigdata->tg_trigtuple;
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		d = heap_getattr(trigdata->tg_trigtuple, attnum, desc, &isnull);
		if (!isnull)
			old = DatumGetJsonbP(d);
	}
	d = heap_getattr(tuple, attnum, desc, &isnull);
	if (!isnull)				/* NULL: the NOT NULL constraint says so */
		check_properties(DatumGetJsonbP(d), old);
	return PointerGetDatum(tuple);
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
		Datum		values[16];
		bool		nulls[16] = {0};

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
		values[14] = Int64GetDatum(s->fenced_batches);
		values[15] = Int64GetDatum(s->restarts);
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

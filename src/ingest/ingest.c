/*
 * ingest.c: SQL entry points for clients that are not on Kafka.
 *
 * qoe.ingest(text|jsonb) decodes a JSON event or array of events, stores the
 * valid ones through the batch writer and the rest in qoe.dead_letters, all
 * in the caller's transaction. qoe.decode_event() shows the decoder's verdict
 * without storing anything; qoe.expire_sessions() closes idle sessions.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "common/int.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "core/catalog.h"
#include "core/commit_wake.h"
#include "ingest/dead_letters.h"
#include "ingest/event_decode.h"
#include "ingest/event_writer.h"
#include "core/guc.h"
#include "ingest/sessions.h"

static void
decode_now(const char *data, size_t len, QoeDecoded *decoded, TimestampTz *received_at)
{
	QoeDecodeWindow window;

	qoe_decode_window_now(&window);
	*received_at = window.received_at;
	qoe_decode_payload(data, len, &window, decoded);
}

static Datum
ingest_payload(FunctionCallInfo fcinfo, const char *data, size_t len)
{
	QoeSource	origin = {.source = "sql"};
	QoeDecoded	decoded;
	TimestampTz received_at;
	QoeWriteResult written;
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "qoe.ingest must return a record");
	decode_now(data, len, &decoded, &received_at);
	written = qoe_write_events(decoded.events, decoded.nevents, received_at, &origin);
	qoe_wake_on_commit(written.stalls);
	qoe_dead_letters_write(decoded.rejections, decoded.nrejections, &origin);

	values[0] = Int32GetDatum(written.stored);
	values[1] = Int32GetDatum(decoded.nrejections + written.dead_letters);
	values[2] = Int32GetDatum(written.duplicates);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

PG_FUNCTION_INFO_V1(qoe_ingest_text);
Datum
qoe_ingest_text(PG_FUNCTION_ARGS)
{
	text	   *payload = PG_GETARG_TEXT_PP(0);

	return ingest_payload(fcinfo, VARDATA_ANY(payload), VARSIZE_ANY_EXHDR(payload));
}

PG_FUNCTION_INFO_V1(qoe_ingest_jsonb);
Datum
qoe_ingest_jsonb(PG_FUNCTION_ARGS)
{
	Jsonb	   *payload = PG_GETARG_JSONB_P(0);
	char	   *json = JsonbToCString(NULL, &payload->root, VARSIZE(payload));

	return ingest_payload(fcinfo, json, strlen(json));
}

PG_FUNCTION_INFO_V1(qoe_decode_event);
Datum
qoe_decode_event(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *payload = PG_GETARG_TEXT_PP(0);
	QoeDecoded	decoded;
	TimestampTz received_at;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	decode_now(VARDATA_ANY(payload), VARSIZE_ANY_EXHDR(payload), &decoded, &received_at);

	for (int i = 0; i < decoded.nevents; i++)
	{
		const QoeEvent *ev = &decoded.events[i];
		Datum		values[7];
		bool		nulls[7] = {false, false, false, false, false, false, true};

		values[0] = Int32GetDatum(ev->item_index);
		nulls[0] = ev->item_index < 0;
		values[1] = CStringGetTextDatum(qoe_event_type_name(ev->type));
		values[2] = TimestampTzGetDatum(ev->event_time);
		values[3] = CStringGetTextDatum(ev->session_id);
		values[4] = Int64GetDatum(ev->user_id);
		values[5] = Int64GetDatum(ev->content_id);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	for (int i = 0; i < decoded.nrejections; i++)
	{
		const QoeRejection *r = &decoded.rejections[i];
		Datum		values[7];
		bool		nulls[7] = {false, true, true, true, true, true, false};

		values[0] = Int32GetDatum(r->item_index);
		nulls[0] = r->item_index < 0;
		values[6] = CStringGetTextDatum(r->reason);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(qoe_expire_sessions);
Datum
qoe_expire_sessions(PG_FUNCTION_ARGS)
{
	int64		timeout_us = (int64) qoe_session_timeout_s * USECS_PER_SEC;
	uint64		expired;
	int			nest_level;

	if (!PG_ARGISNULL(0))
	{
		Interval   *iv = PG_GETARG_INTERVAL_P(0);
		int64		day_us;

		/* checked: a huge timeout must never wrap around into "expire everything" */
		if (iv->month != 0 || iv->day < 0 || iv->time < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("timeout must be a positive interval of days, hours, minutes or seconds")));
		if (pg_mul_s64_overflow(iv->day, USECS_PER_DAY, &day_us) ||
			pg_add_s64_overflow(day_us, iv->time, &timeout_us))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("timeout is out of range"),
					 errdetail("The timeout must be less than about 292,000 years.")));
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	nest_level = qoe_pin_search_path();
	expired = qoe_sessions_expire(timeout_us);
	qoe_unpin_search_path(nest_level);
	SPI_finish();
	PG_RETURN_INT32((int32) Min(expired, (uint64) PG_INT32_MAX));
}

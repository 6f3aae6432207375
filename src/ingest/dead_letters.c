/*
 * dead_letters.c: store rejected events in qoe.dead_letters. A payload that
 * is not valid text in the database encoding (possible from Kafka) is kept
 * byte for byte in payload_bytes instead of being lost.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "core/catalog.h"
#include "ingest/dead_letters.h"

#define DEAD_LETTER_ARGS 8

/* Kept for the backend's life, for the qoe.dead_letters it was made for. */
static SPIPlanPtr insert_plan;
static Oid	insert_plan_relid = InvalidOid;

static SPIPlanPtr
dead_letter_plan(void)
{
	Oid			relid = qoe_relation_oid(get_namespace_oid("qoe", false), "dead_letters");
	Oid			argtypes[DEAD_LETTER_ARGS] = {
		TEXTOID, TEXTOID, INT4OID, INT8OID, INT4OID, TEXTOID, TEXTOID, BYTEAOID
	};
	SPIPlanPtr	plan;

	if (insert_plan != NULL && insert_plan_relid == relid)
		return insert_plan;
	plan = qoe_prepare_kept("INSERT INTO qoe.dead_letters (source, topic, kafka_partition,"
							" kafka_offset, item_index, reason, payload, payload_bytes)"
							" VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
							DEAD_LETTER_ARGS, argtypes);
	if (insert_plan != NULL)
		SPI_freeplan(insert_plan);
	insert_plan = plan;
	insert_plan_relid = relid;
	return plan;
}

void
qoe_dead_letters_write(const QoeRejection *rejections, int n, const QoeSource *origin)
{
	SPIPlanPtr	plan;
	int			nest_level;

	if (n == 0)
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	nest_level = qoe_pin_search_path();
	plan = dead_letter_plan();
	for (int i = 0; i < n; i++)
	{
		const QoeRejection *r = &rejections[i];
		bool		is_text = memchr(r->payload, '\0', r->payload_len) == NULL &&
			pg_verifymbstr(r->payload, (int) r->payload_len, true);
		Datum		values[DEAD_LETTER_ARGS];
		char		nulls[DEAD_LETTER_ARGS];

		memset(nulls, ' ', sizeof(nulls));
		values[0] = CStringGetTextDatum(origin->source);
		if (origin->topic != NULL)
		{
			values[1] = CStringGetTextDatum(origin->topic);
			values[2] = Int32GetDatum(origin->partition);
			values[3] = Int64GetDatum(origin->offset);
		}
		else
			nulls[1] = nulls[2] = nulls[3] = 'n';
		values[4] = Int32GetDatum(r->item_index);
		nulls[4] = r->item_index < 0 ? 'n' : ' ';
		values[5] = CStringGetTextDatum(r->reason);
		if (is_text)
		{
			values[6] = PointerGetDatum(cstring_to_text_with_len(r->payload, (int) r->payload_len));
			nulls[7] = 'n';
		}
		else
		{
			nulls[6] = 'n';
			values[7] = PointerGetDatum(cstring_to_text_with_len(r->payload, (int) r->payload_len));
		}
		if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "writing a dead letter failed");
	}
	qoe_unpin_search_path(nest_level);
	SPI_finish();
}

void
qoe_dead_letter_event(const QoeEvent *ev, const QoeSource *origin, const char *reason)
{
	QoeRejection r = {
		.item_index = ev->item_index,
		.reason = (char *) reason,
		.payload = (char *) (ev->raw != NULL ? ev->raw : ""),
		.payload_len = ev->raw != NULL ? ev->raw_len : 0,
	};

	qoe_dead_letters_write(&r, 1, origin);
}

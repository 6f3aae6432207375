/*
 * subxact.c: the subtransaction wrapper of the writer's per-event isolation
 * and of partition drops that may time out on their lock (the pattern of
 * PL/pgSQL's exception blocks).
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "core/subxact.h"

ErrorData *
qoe_try_subtransaction(void (*fn) (void *arg), void *arg)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	ResourceOwner caller_owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller_cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(caller_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(caller_cxt);
	CurrentResourceOwner = caller_owner;
	return edata;
}

/*
 * qoe_ext.c: module entry point. Each concept lives in its own file and
 * registers what it needs here; nothing else belongs in this file.
 */
#include "postgres.h"

#include "fmgr.h"

#include "guc.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	GucInit();
}

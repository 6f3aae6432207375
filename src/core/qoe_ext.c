/*
 * qoe_ext.c: module entry point. Each concept lives in its own file and
 * registers what it needs here; nothing else belongs in this file.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "alerts/notifier.h"
#include "core/commit_wake.h"
#include "core/guc.h"
#include "kafka/kafka_launcher.h"
#include "kafka/kafka_shmem.h"
#include "publish/redis_publish.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	GucInit();
	PublishInit();
	AlertsInit();
	/* the Kafka workers need shared memory and a launcher: preload only */
	if (process_shared_preload_libraries_in_progress)
	{
		KafkaShmemInit();
		CommitWakeShmemInit();
		KafkaLauncherRegister();
	}
	/* last: a qoe.* setting defined after this would lose its configured value */
	MarkGUCPrefixReserved("qoe");
}

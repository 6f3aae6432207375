/*
 * notifier.h: alert delivery to Prometheus Alertmanager (notifier.c).
 */
#ifndef QOE_ALERTS_NOTIFIER_H
#define QOE_ALERTS_NOTIFIER_H

#include "postgres.h"

extern PGDLLEXPORT void qoe_alert_notifier_main(Datum main_arg);

/* the settings, and the notifier when preloaded; called from _PG_init */
extern void AlertsInit(void);

#endif

/*
 * kafka_sources.h: what the Kafka workers share with the source SQL API.
 */
#ifndef QOE_KAFKA_SOURCES_H
#define QOE_KAFKA_SOURCES_H

#include <librdkafka/rdkafka.h>

/*
 * Set one user-given librdkafka property on conf. False, with librdkafka's
 * text (or ours, for a property qoe_ext sets itself) in errbuf, if refused.
 */
extern bool qoe_kafka_property_set(rd_kafka_conf_t *conf, const char *key,
								   const char *value, char *errbuf, size_t errlen);

#endif

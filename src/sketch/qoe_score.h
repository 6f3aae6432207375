/*
 * qoe_score.h - the per-session QoE score (SPEC section 4) for other modules
 *
 * The weights and thresholds come from qoe.qoe_score_config, cached per
 * backend and invalidated by a trigger on that table; no load-time
 * initialisation is needed.
 */
#ifndef QOE_SCORE_H
#define QOE_SCORE_H

#include "postgres.h"

/*
 * Score 0-100 of one session.  Each pointer is NULL for an unknown
 * component: a NULL vst_ms (never started, or failed before the first
 * frame) scores 0; any other unknown component is left out and the
 * remaining weights are rescaled.  Sets *isnull when no weighted component
 * is known.  Errors on NaN or negative inputs.
 */
extern double qoe_score_value(const double *vst_ms, const double *rebuffer_ratio,
							  const double *avg_bitrate_kbps, const double *dropped_ratio,
							  bool *isnull);

#endif							/* QOE_SCORE_H */

/*
 * subxact.h: run a piece of work in a subtransaction and get its error back.
 */
#ifndef QOE_SUBXACT_H
#define QOE_SUBXACT_H

/*
 * Run fn(arg) in a subtransaction of the current (sub)transaction. Returns
 * NULL when it succeeded (its work is then the caller's), else its error,
 * copied into the caller's memory context, with all it did rolled back. The
 * caller's memory context and resource owner are current again either way;
 * the caller decides whether to ReThrowError() or to handle the error.
 */
extern ErrorData *qoe_try_subtransaction(void (*fn) (void *arg), void *arg);

#endif

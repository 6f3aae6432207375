/*
 * json_scan.h: a strict, allocation-free JSON (RFC 8259) scanner.
 *
 * The event decoder walks the members of each event object itself and asks
 * this scanner for one token or one whole value at a time; nothing is built,
 * values come back as spans of the source text (plus the number, for
 * numbers). Two verdicts are kept apart:
 *  - a syntax error (the text is not JSON, nesting beyond
 *    JSON_SCAN_MAX_DEPTH, anything after the top-level value) ends the
 *    scan: nothing tells where the event ends;
 *  - a defect is JSON that PostgreSQL cannot store (\u0000, an unpaired
 *    surrogate escape, bytes that are not UTF-8 inside a string, a number
 *    outside numeric's range): the value's extent is known, the scan goes
 *    on, and the value carries the first defect found in it, so the decoder
 *    can reject just the event holding it.
 */
#ifndef QOE_JSON_SCAN_H
#define QOE_JSON_SCAN_H

/* jansson's JSON_PARSER_MAX_DEPTH: the top-level value is at depth 1 */
#define JSON_SCAN_MAX_DEPTH 2048

/* What numeric_in (and so jsonb_in) accepts, PostgreSQL 15's numeric.c:
 * the display scale fits 14 bits, the base-10000 weight an int16, and the
 * exponent as written stays below INT_MAX / 2. */
#define JSON_NUMERIC_MAX_DSCALE		0x3FFF
#define JSON_NUMERIC_MAX_DEC_WEIGHT	(PG_INT16_MAX * 4 + 3)
#define JSON_NUMERIC_MAX_EXPONENT	(PG_INT32_MAX / 2)

typedef enum JsonScanKind
{
	JSK_OBJECT,
	JSK_ARRAY,
	JSK_STRING,
	JSK_INTEGER,
	JSK_REAL,
	JSK_TRUE,
	JSK_FALSE,
	JSK_NULL
} JsonScanKind;

/* Why PostgreSQL cannot store a value that is valid JSON. */
typedef enum JsonScanDefect
{
	JSD_NONE,
	JSD_NUL,					/* \u0000: text cannot hold it */
	JSD_SURROGATE,				/* a \uD800-\uDFFF escape outside a valid pair */
	JSD_UTF8,					/* a byte inside a string that is not UTF-8 */
	JSD_NUMERIC					/* a number outside numeric's range */
} JsonScanDefect;

typedef struct JsonScanValue
{
	JsonScanKind kind;
	bool		escaped;		/* a string holding backslash escapes */
	bool		huge;			/* JSK_INTEGER beyond int64: integer is unset */
	bool		real_exact;		/* JSK_REAL: real holds it (else json_scan_real) */
	JsonScanDefect defect;		/* the first one inside the value */
	const char *defect_start;	/* its source text */
	const char *defect_end;
	int			depth;			/* containers nested in it: 0 for a scalar */
	const char *start;			/* the value's source text, strings with */
	const char *end;			/* their quotes; end is exclusive */
	int64		integer;		/* JSK_INTEGER */
	double		real;			/* JSK_REAL with real_exact */
} JsonScanValue;

typedef struct JsonScanner
{
	const char *data;
	const char *p;				/* next byte to read */
	const char *end;
	const char *error;			/* reason, NULL while the text is valid */
	const char *error_start;	/* the offending token, for the message */
	const char *error_end;
	bool		error_near;		/* quote the token in the message */
	char		error_buf[48];
	JsonScanValue *target;		/* the value being scanned gets its defects */
} JsonScanner;

extern void json_scan_init(JsonScanner *s, const char *data, size_t len);
extern bool json_scan_open(JsonScanner *s, int depth);
extern int	json_scan_member(JsonScanner *s, bool first, JsonScanValue *key);
extern int	json_scan_element(JsonScanner *s, bool first);
extern bool json_scan_value(JsonScanner *s, int depth, JsonScanValue *v);
extern bool json_scan_finish(JsonScanner *s);
extern char *json_scan_error_message(const JsonScanner *s);

extern double json_scan_real_slow(const JsonScanValue *v);
extern int	json_utf8_sequence(const unsigned char *p, const unsigned char *end);
extern size_t json_string_decode(const JsonScanValue *v, char *dst);
extern size_t json_compact(const char *start, const char *end, char *dst);

/* JSON insignificant whitespace */
static inline bool
json_is_space(unsigned char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Skip whitespace; the next byte, or -1 at the end of the text. */
static inline int
json_scan_peek(JsonScanner *s)
{
	while (s->p < s->end && json_is_space((unsigned char) *s->p))
		s->p++;
	return s->p < s->end ? (unsigned char) *s->p : -1;
}

/*
 * A number's value as a double: strtod's, so +-HUGE_VAL beyond the range of
 * double and 0 below it.
 */
static inline double
json_scan_real(const JsonScanValue *v)
{
	if (v->kind == JSK_INTEGER && !v->huge)
		return (double) v->integer;
	if (v->kind == JSK_REAL && v->real_exact)
		return v->real;
	return json_scan_real_slow(v);
}

#endif

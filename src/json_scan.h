/*
 * json_scan.h: a strict, allocation-free JSON (RFC 8259) scanner.
 *
 * The event decoder walks the members of each event object itself and asks
 * this scanner for one token or one whole value at a time; nothing is built,
 * values come back as spans of the source text (plus the number, for
 * numbers). It validates everything jansson validated before it (UTF-8,
 * escapes and surrogate pairs, no \u0000, int64 integers, finite reals,
 * nesting at most JSON_SCAN_MAX_DEPTH, nothing after the top-level value), so
 * the JSON text the decoder passes on (extra, rejected events) is text that
 * jsonb_in accepts.
 */
#ifndef QOE_JSON_SCAN_H
#define QOE_JSON_SCAN_H

/* jansson's JSON_PARSER_MAX_DEPTH: the top-level value is at depth 1 */
#define JSON_SCAN_MAX_DEPTH 2048

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

typedef struct JsonScanValue
{
	JsonScanKind kind;
	bool		escaped;		/* a string holding backslash escapes */
	const char *start;			/* the value's source text, strings with */
	const char *end;			/* their quotes; end is exclusive */
	int64		integer;		/* JSK_INTEGER */
	double		real;			/* JSK_REAL */
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
} JsonScanner;

extern void json_scan_init(JsonScanner *s, const char *data, size_t len);
extern bool json_scan_open(JsonScanner *s, int depth);
extern int	json_scan_member(JsonScanner *s, bool first, JsonScanValue *key);
extern int	json_scan_element(JsonScanner *s, bool first);
extern bool json_scan_value(JsonScanner *s, int depth, JsonScanValue *v);
extern bool json_scan_finish(JsonScanner *s);
extern char *json_scan_error_message(const JsonScanner *s);

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

#endif

/*
 * json_scan.c: the strict, single-pass JSON scanner behind the event
 * decoder (see json_scan.h for the contract).
 *
 * It reads the source bytes in place: no token buffer, no tree, no memory
 * allocated except a copy of an over-long real number for strtod. Nested
 * values are checked with an explicit bit stack instead of recursion, so
 * the C stack stays bounded whatever the input, and every value of a
 * container checks for interrupts: a huge payload can be cancelled. Error
 * reasons follow jansson's wording (the decoder used jansson before), with
 * the line, the column after the offending token and that token quoted when
 * it is short.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "ingest/json_scan.h"

/* Bytes that stand for themselves inside a string: printable ASCII but '"'
 * and '\\'. Control characters are invalid, 0x80 and up start UTF-8. */
static const uint8 plain_string_byte[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* Powers of ten that a double holds exactly. */
static const double exact_pow10[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

#define MAX_NEAR_LEN	20		/* quote the offending token up to this size */

static inline bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0.
 */
int
json_utf8_sequence(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80,
				hi = 0xBF;
	int			n;

	if (c < 0x80)
		return 1;
	if (c < 0xC2)
		return 0;
	if (c < 0xE0)
		n = 2;
	else if (c < 0xF0)
	{
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	}
	else if (c < 0xF5)
	{
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	}
	else
		return 0;
	if (end - p < n || p[1] < lo || p[1] > hi)
		return 0;
	for (int i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

/* Where the token starting at p ends, roughly as jansson's lexer sees it. */
static const char *
token_end(const char *p, const char *end)
{
	const unsigned char *q = (const unsigned char *) p;
	const unsigned char *e = (const unsigned char *) end;

	if (q >= e)
		return p;
	if (*q == '"')
	{
		for (q++; q < e && *q != '"'; q++)
			if (*q == '\\' && q + 1 < e)
				q++;
		return (const char *) (q < e ? q + 1 : q);
	}
	if (*q == '-' || is_digit(*q))
	{
		for (q++; q < e && (is_digit(*q) || *q == '.' || *q == 'e' || *q == 'E' ||
							*q == '+' || *q == '-'); q++)
			;
		return (const char *) q;
	}
	if (is_alpha(*q))
	{
		for (q++; q < e && is_alpha(*q); q++)
			;
		return (const char *) q;
	}
	if (*q >= 0x80)
	{
		int			n = json_utf8_sequence(q, e);

		return (const char *) q + (n > 0 ? n : 1);
	}
	return p + 1;
}

/* Record the first error; always returns false. */
static bool
fail(JsonScanner *s, const char *reason, const char *start, const char *end, bool near)
{
	if (s->error == NULL)
	{
		s->error = reason;
		s->error_start = start;
		s->error_end = end;
		s->error_near = near;
	}
	return false;
}

/* An error about the token at s->p ("string or '}' expected near 'x'"). */
static bool
fail_token(JsonScanner *s, const char *reason)
{
	return fail(s, reason, s->p, token_end(s->p, s->end), true);
}

/* Keep the first defect of the value being scanned; scanning goes on. */
static inline void
note_defect(JsonScanner *s, JsonScanDefect defect, const char *start, const char *end)
{
	JsonScanValue *v = s->target;

	if (v->defect == JSD_NONE)
	{
		v->defect = defect;
		v->defect_start = start;
		v->defect_end = end;
	}
}

static bool
fail_utf8(JsonScanner *s, const char *at)
{
	snprintf(s->error_buf, sizeof(s->error_buf), "unable to decode byte 0x%x",
			 (unsigned char) *at);
	return fail(s, s->error_buf, at, at, false);
}

void
json_scan_init(JsonScanner *s, const char *data, size_t len)
{
	s->data = data;
	s->p = data;
	s->end = data + len;
	s->error = NULL;
	s->error_start = s->error_end = data;
	s->error_near = false;
	s->error_buf[0] = '\0';
	s->target = NULL;
}

/* The code unit of the \uXXXX escape at p (6 bytes are there), or -1. */
static int
unicode_escape(const unsigned char *p)
{
	int			cp = 0;

	for (int i = 2; i < 6; i++)
	{
		int			h = hex_value(p[i]);

		if (h < 0)
			return -1;
		cp = cp * 16 + h;
	}
	return cp;
}

/* A \u escape at esc whose hex digits are not; the error ends at the bad one. */
static bool
fail_escape(JsonScanner *s, const unsigned char *start, const unsigned char *esc)
{
	int			i = 2;

	while (hex_value(esc[i]) >= 0)
		i++;
	return fail(s, "invalid escape", (const char *) start, (const char *) esc + i + 1, true);
}

/*
 * A string; s->p is at its opening quote. Checks the escapes and the UTF-8;
 * \u0000, a surrogate escape outside a high-low pair and bytes that are not
 * UTF-8 are defects (jsonb refuses them), the rest of a bad string is a
 * syntax error.
 */
static bool
scan_string(JsonScanner *s, JsonScanValue *v)
{
	const unsigned char *start = (const unsigned char *) s->p;
	const unsigned char *p = start + 1;
	const unsigned char *end = (const unsigned char *) s->end;
	bool		escaped = false;

	for (;;)
	{
		unsigned char c;

		while (p < end && plain_string_byte[*p])
			p++;
		if (p >= end)
			return fail(s, "premature end of input", (const char *) start, s->end, true);
		c = *p;
		if (c == '"')
			break;
		if (c == '\\')
		{
			escaped = true;
			if (end - p < 2)
				return fail(s, "premature end of input", (const char *) start, s->end, true);
			c = p[1];
			if (c == 'u')
			{
				int			cp;

				if (end - p < 6)
					return fail(s, "premature end of input", (const char *) start, s->end, true);
				cp = unicode_escape(p);
				if (cp < 0)
					return fail_escape(s, start, p);
				if (cp == 0)
					note_defect(s, JSD_NUL, (const char *) p, (const char *) p + 6);
				else if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 12 &&
						 p[6] == '\\' && p[7] == 'u')
				{
					int			lo = unicode_escape(p + 6);

					if (lo < 0)
						return fail_escape(s, start, p + 6);
					if (lo >= 0xDC00 && lo <= 0xDFFF)
						p += 6;	/* a pair */
					else
						note_defect(s, JSD_SURROGATE, (const char *) p, (const char *) p + 6);
				}
				else if (cp >= 0xD800 && cp <= 0xDFFF)
					note_defect(s, JSD_SURROGATE, (const char *) p, (const char *) p + 6);
				p += 6;
			}
			else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' ||
					 c == 'n' || c == 'r' || c == 't')
				p += 2;
			else
				return fail(s, "invalid escape", (const char *) start, (const char *) p + 2, true);
		}
		else if (c < 0x20)
		{
			if (c == '\n')
				return fail(s, "unexpected newline", (const char *) start, (const char *) p, true);
			snprintf(s->error_buf, sizeof(s->error_buf), "control character 0x%x", c);
			return fail(s, s->error_buf, (const char *) start, (const char *) p, true);
		}
		else
		{
			int			n = json_utf8_sequence(p, end);

			if (n == 0)
			{
				note_defect(s, JSD_UTF8, (const char *) p, (const char *) p + 1);
				n = 1;
			}
			p += n;
		}
	}
	v->kind = JSK_STRING;
	v->escaped = escaped;
	v->start = (const char *) start;
	v->end = (const char *) p + 1;
	s->p = v->end;
	return true;
}

/*
 * Would numeric_in accept this number? digits counts the significant ones
 * (from the first nonzero), frac_digits those after the point, exponent is
 * as written (saturated far beyond every limit). The display scale is the
 * fraction's length less the exponent; the weight is the decimal position
 * of the first significant digit (no limit for zero); see json_scan.h.
 */
static inline bool
numeric_range_ok(int64 digits, int64 frac_digits, int64 exponent)
{
	if (exponent >= JSON_NUMERIC_MAX_EXPONENT || exponent <= -JSON_NUMERIC_MAX_EXPONENT)
		return false;
	if (frac_digits - exponent > JSON_NUMERIC_MAX_DSCALE)
		return false;
	return digits == 0 || exponent - frac_digits + digits - 1 <= JSON_NUMERIC_MAX_DEC_WEIGHT;
}

/*
 * A number, RFC 8259 grammar. Integers within int64 are exact, larger ones
 * are huge (json_scan_real approximates them). A real is computed here when
 * the digits and the power of ten are both exact doubles (one IEEE
 * operation: the correctly rounded result, the same as strtod's), else by
 * json_scan_real when a reader needs it. Any number outside numeric's
 * range is a defect.
 */
static bool
scan_number(JsonScanner *s, JsonScanValue *v)
{
	const char *start = s->p;
	const unsigned char *p = (const unsigned char *) s->p;
	const unsigned char *end = (const unsigned char *) s->end;
	bool		negative = false;
	bool		real = false;
	uint64		mantissa = 0;
	int64		digits = 0;		/* significant digits, leading zeros aside */
	int64		frac_digits = 0;
	int64		exponent = 0;

	if (*p == '-')
	{
		negative = true;
		p++;
	}
	if (p >= end || !is_digit(*p))
		return fail(s, "invalid token", start, (const char *) p, true);
	if (*p == '0')
	{
		p++;
		if (p < end && is_digit(*p))
			return fail(s, "invalid token", start, (const char *) p, true);
	}
	else
	{
		for (; p < end && is_digit(*p); p++)
			if (++digits <= 19)
				mantissa = mantissa * 10 + (*p - '0');
	}

	if (p < end && *p == '.')
	{
		real = true;
		p++;
		if (p >= end || !is_digit(*p))
			return fail(s, "invalid token", start, (const char *) p, true);
		for (; p < end && is_digit(*p); p++)
		{
			frac_digits++;
			if (digits > 0 || *p != '0')
			{
				if (++digits <= 19)
					mantissa = mantissa * 10 + (*p - '0');
			}
		}
	}
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		bool		exp_negative = false;

		real = true;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			exp_negative = (*p++ == '-');
		if (p >= end || !is_digit(*p))
			return fail(s, "invalid token", start, (const char *) p, true);
		for (; p < end && is_digit(*p); p++)
			if (exponent < PG_INT64_MAX / 100)
				exponent = exponent * 10 + (*p - '0');
		if (exp_negative)
			exponent = -exponent;
	}

	v->start = start;
	v->end = (const char *) p;
	s->p = v->end;
	/* without an exponent, up to 19 digits and 16383 decimals always fit */
	if ((exponent != 0 || digits > 19 || frac_digits > JSON_NUMERIC_MAX_DSCALE) &&
		!numeric_range_ok(digits, frac_digits, exponent))
		note_defect(s, JSD_NUMERIC, v->start, v->end);

	if (!real)
	{
		/* "0" and "-0" have no significant digit; 19 digits fit in uint64 */
		v->kind = JSK_INTEGER;
		v->huge = digits > 19 || mantissa > (uint64) PG_INT64_MAX + (negative ? 1 : 0);
		if (v->huge)
			v->integer = 0;
		else if (!negative)
			v->integer = (int64) mantissa;
		else if (mantissa == (uint64) PG_INT64_MAX + 1)
			v->integer = PG_INT64_MIN;
		else
			v->integer = -(int64) mantissa;
		return true;
	}

	v->kind = JSK_REAL;
	exponent -= frac_digits;
	v->real_exact = true;
	if (digits == 0)
		v->real = negative ? -0.0 : 0.0;
	else if (digits <= 19 && mantissa <= ((uint64) 1 << 53) &&
			 exponent >= -22 && exponent <= 22)
	{
		double		d = (double) mantissa;

		d = exponent < 0 ? d / exact_pow10[-exponent] : d * exact_pow10[exponent];
		v->real = negative ? -d : d;
	}
	else
		v->real_exact = false;
	return true;
}

/* json_scan_real when strtod is needed: a huge integer, an inexact real. */
double
json_scan_real_slow(const JsonScanValue *v)
{
	size_t		len = v->end - v->start;
	char		local[128];
	char	   *copy = len < sizeof(local) ? local : palloc(len + 1);
	double		d;

	Assert(v->kind == JSK_INTEGER || v->kind == JSK_REAL);
	memcpy(copy, v->start, len);
	copy[len] = '\0';
	d = strtod(copy, NULL);
	if (copy != local)
		pfree(copy);
	return d;
}

/* true, false, null; any other word is an invalid token */
static bool
scan_word(JsonScanner *s, JsonScanValue *v)
{
	const char *p = s->p;
	size_t		len;

	while (p < s->end && is_alpha((unsigned char) *p))
		p++;
	len = p - s->p;
	if (len == 4 && memcmp(s->p, "true", 4) == 0)
		v->kind = JSK_TRUE;
	else if (len == 5 && memcmp(s->p, "false", 5) == 0)
		v->kind = JSK_FALSE;
	else if (len == 4 && memcmp(s->p, "null", 4) == 0)
		v->kind = JSK_NULL;
	else
		return fail(s, "invalid token", s->p, p, true);
	v->start = s->p;
	v->end = p;
	s->p = p;
	return true;
}

/* Any value but an object or an array; s->p is at its first byte. */
static bool
scan_scalar(JsonScanner *s, JsonScanValue *v)
{
	unsigned char c;

	if (s->p >= s->end)
		return fail(s, "unexpected token", s->p, s->p, true);
	c = (unsigned char) *s->p;
	if (c == '"')
		return scan_string(s, v);
	if (c == '-' || is_digit(c))
		return scan_number(s, v);
	if (is_alpha(c))
		return scan_word(s, v);
	if (c == '}' || c == ']' || c == ',' || c == ':')
		return fail_token(s, "unexpected token");
	if (c >= 0x80 && json_utf8_sequence((const unsigned char *) s->p,
								   (const unsigned char *) s->end) == 0)
		return fail_utf8(s, s->p);
	return fail_token(s, "invalid token");
}

/*
 * A whole object or array at the given depth, checked but not built;
 * s->p is at its opening bracket. The stack of open containers is one bit
 * per level (object or array), so any depth up to the limit costs 256 bytes.
 */
static bool
scan_container(JsonScanner *s, int depth, JsonScanValue *v)
{
	uint64		is_object[JSON_SCAN_MAX_DEPTH / 64 + 1];
	int			level = 0;		/* open containers; values inside are at depth + level */
	int			max_level = 0;
	const char *start = s->p;
	JsonScanValue scalar;
	int			c;

#define TOP_IS_OBJECT() ((is_object[(level - 1) / 64] >> ((level - 1) % 64)) & 1)

open:
	/* s->p is at '{' or '[' of the container at depth + level */
	if (level % 64 == 0)
		is_object[level / 64] = 0;
	if (*s->p == '{')
		is_object[level / 64] |= (uint64) 1 << (level % 64);
	else
		is_object[level / 64] &= ~((uint64) 1 << (level % 64));
	level++;
	if (level > max_level)
		max_level = level;
	s->p++;
	c = json_scan_peek(s);
	if (TOP_IS_OBJECT())
	{
		if (c == '}')
		{
			s->p++;
			goto closed;
		}
		if (c != '"')
			return fail_token(s, "string or '}' expected");
		goto key;
	}
	if (c == ']')
	{
		s->p++;
		goto closed;
	}
	goto value;

key:
	if (!scan_string(s, &scalar))
		return false;
	if (json_scan_peek(s) != ':')
		return fail_token(s, "':' expected");
	s->p++;

value:
	CHECK_FOR_INTERRUPTS();
	c = json_scan_peek(s);
	if (depth + level > JSON_SCAN_MAX_DEPTH)
		return fail_token(s, "maximum parsing depth reached");
	if (c == '{' || c == '[')
		goto open;
	if (!scan_scalar(s, &scalar))
		return false;

next:
	c = json_scan_peek(s);
	if (c == ',')
	{
		s->p++;
		if (!TOP_IS_OBJECT())
			goto value;
		if (json_scan_peek(s) != '"')
			return fail_token(s, "string or '}' expected");
		goto key;
	}
	if (c == (TOP_IS_OBJECT() ? '}' : ']'))
	{
		s->p++;
		goto closed;
	}
	return fail_token(s, TOP_IS_OBJECT() ? "'}' expected" : "']' expected");

closed:
	if (--level > 0)
		goto next;
#undef TOP_IS_OBJECT

	v->kind = *start == '{' ? JSK_OBJECT : JSK_ARRAY;
	v->escaped = false;
	v->depth = max_level;
	v->start = start;
	v->end = s->p;
	return true;
}

/* Step into the object or array at s->p (after json_scan_peek). */
bool
json_scan_open(JsonScanner *s, int depth)
{
	if (depth > JSON_SCAN_MAX_DEPTH)
		return fail_token(s, "maximum parsing depth reached");
	Assert(s->p < s->end && (*s->p == '{' || *s->p == '['));
	s->p++;
	return true;
}

/*
 * The next member of an open object: 1 with its key read and the ':'
 * consumed (the value comes next), 0 when the object closed, -1 on error.
 */
int
json_scan_member(JsonScanner *s, bool first, JsonScanValue *key)
{
	int			c = json_scan_peek(s);

	if (!first)
	{
		if (c == '}')
		{
			s->p++;
			return 0;
		}
		if (c != ',')
		{
			fail_token(s, "'}' expected");
			return -1;
		}
		s->p++;
		c = json_scan_peek(s);
	}
	else if (c == '}')
	{
		s->p++;
		return 0;
	}
	if (c != '"')
	{
		fail_token(s, "string or '}' expected");
		return -1;
	}
	s->target = key;
	key->defect = JSD_NONE;
	if (!scan_string(s, key))
		return -1;
	if (json_scan_peek(s) != ':')
	{
		fail_token(s, "':' expected");
		return -1;
	}
	s->p++;
	return 1;
}

/* The next element of an open array: 1 when one follows, 0 when the array
 * closed, -1 on error. */
int
json_scan_element(JsonScanner *s, bool first)
{
	int			c = json_scan_peek(s);

	if (c == ']')
	{
		s->p++;
		return 0;
	}
	if (!first)
	{
		/* after a ',' a value is due: "[1,]" fails in json_scan_value */
		if (c != ',')
		{
			fail_token(s, "']' expected");
			return -1;
		}
		s->p++;
	}
	return 1;
}

/* One complete value at the given depth, with its first defect. */
bool
json_scan_value(JsonScanner *s, int depth, JsonScanValue *v)
{
	int			c = json_scan_peek(s);

	if (depth > JSON_SCAN_MAX_DEPTH)
		return fail_token(s, "maximum parsing depth reached");
	s->target = v;
	v->defect = JSD_NONE;
	if (c == '{' || c == '[')
		return scan_container(s, depth, v);
	v->depth = 0;
	return scan_scalar(s, v);
}

/* After the top-level value: only whitespace may follow. */
bool
json_scan_finish(JsonScanner *s)
{
	if (json_scan_peek(s) >= 0)
		return fail_token(s, "end of file expected");
	return true;
}

/*
 * "invalid JSON at line L, column C: reason[ near 'token']", C counting
 * characters up to the end of the offending token, as jansson did.
 */
char *
json_scan_error_message(const JsonScanner *s)
{
	int			line = 1;
	int			column = 0;
	const char *near_start = s->error_start;
	size_t		near_len = s->error_end - s->error_start;
	const char *near = "";

	for (const char *p = s->data; p < s->error_end; p++)
	{
		if (*p == '\n')
		{
			line++;
			column = 0;
		}
		else if (((unsigned char) *p & 0xC0) != 0x80)
			column++;
	}
	if (s->error_near && near_len == 0)
		near = " near end of file";
	else if (s->error_near && near_len <= MAX_NEAR_LEN)
	{
		/* quote the token only if it is text: the reason is stored as text */
		const unsigned char *p = (const unsigned char *) near_start;
		const unsigned char *e = p + near_len;

		while (p < e && *p != '\0')
		{
			int			n = json_utf8_sequence(p, e);

			if (n == 0)
				break;
			p += n;
		}
		if (p == e)
			near = psprintf(" near '%.*s'", (int) near_len, near_start);
	}
	return psprintf("invalid JSON at line %d, column %d: %s%s", line, column,
					s->error, near);
}

/* Append the UTF-8 form of code point cp at dst; returns the byte count. */
static int
utf8_encode(uint32 cp, char *dst)
{
	if (cp < 0x80)
	{
		dst[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		dst[0] = (char) (0xC0 | (cp >> 6));
		dst[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		dst[0] = (char) (0xE0 | (cp >> 12));
		dst[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		dst[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	dst[0] = (char) (0xF0 | (cp >> 18));
	dst[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
	dst[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
	dst[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

static uint32
hex4(const char *p)
{
	uint32		value = 0;

	for (int i = 0; i < 4; i++)
		value = value * 16 + hex_value((unsigned char) p[i]);
	return value;
}

/*
 * The text of a string the scanner accepted, unescaped into dst (room for
 * its source length), NUL-terminated; returns its length in bytes. A
 * string with a defect comes out as bytes that are not text (a NUL, a
 * lone surrogate's three bytes): good only to compare keys.
 */
size_t
json_string_decode(const JsonScanValue *v, char *dst)
{
	const char *p = v->start + 1;
	const char *end = v->end - 1;
	char	   *d = dst;

	while (p < end)
	{
		if (*p != '\\')
		{
			*d++ = *p++;
			continue;
		}
		switch (p[1])
		{
			case 'b':
				*d++ = '\b';
				break;
			case 'f':
				*d++ = '\f';
				break;
			case 'n':
				*d++ = '\n';
				break;
			case 'r':
				*d++ = '\r';
				break;
			case 't':
				*d++ = '\t';
				break;
			case 'u':
				{
					uint32		cp = hex4(p + 2);

					if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 12 &&
						p[6] == '\\' && p[7] == 'u' &&
						hex4(p + 8) >= 0xDC00 && hex4(p + 8) <= 0xDFFF)
					{
						cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(p + 8) - 0xDC00);
						p += 6;
					}
					d += utf8_encode(cp, d);
					p += 4;
				}
				break;
			default:			/* '"', '\\', '/' */
				*d++ = p[1];
				break;
		}
		p += 2;
	}
	*d = '\0';
	return d - dst;
}

/*
 * The JSON text of a value the scanner accepted, without insignificant
 * whitespace, into dst (room for end - start + 1 bytes), NUL-terminated;
 * returns its length.
 */
size_t
json_compact(const char *start, const char *end, char *dst)
{
	const char *p = start;
	char	   *d = dst;

	while (p < end)
	{
		char		c = *p++;

		if (c == '"')
		{
			*d++ = c;
			while (*p != '"')
			{
				if (*p == '\\')
					*d++ = *p++;
				*d++ = *p++;
			}
			*d++ = *p++;
		}
		else if (!json_is_space((unsigned char) c))
			*d++ = c;
	}
	*d = '\0';
	return d - dst;
}

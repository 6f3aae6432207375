/*
 * alert_template.c: the message templates of alert rules (doc/alerts.md).
 *
 * A template is text with {{name}} or {{name | filter | ...}} placeholders.
 * One walker serves two SQL functions: qoe.alert_template_check, called when
 * a rule is written, which refuses unknown placeholders and filters and
 * unbalanced braces with a hint; and qoe.alert_render, called by
 * qoe.evaluate_alerts, which never fails on a template (a rule written with
 * triggers disabled renders what it can, literally) and never writes more
 * than ALERT_MESSAGE_MAX bytes, whatever the values. Both are linear in the
 * template: each "{{" looks for its "}}" once, and a missing one ends the walk.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#define ALERT_MESSAGE_MAX	4096	/* bytes of a rendered message */
#define ALERT_NAME_MAX		63		/* bytes of a placeholder name */
#define ALERT_FILTERS_MAX	8		/* filters on one placeholder */
#define ALERT_ROUND_MAX		6		/* round(N): at most N decimals */

PG_FUNCTION_INFO_V1(qoe_alert_template_check);
PG_FUNCTION_INFO_V1(qoe_alert_render);

typedef enum
{
	F_PCT,						/* x 100, with a "%" sign, 1 decimal unless rounded */
	F_ROUND						/* round(N): N decimals, round alone: none */
} FilterKind;

typedef struct Filter
{
	FilterKind	kind;
	int			digits;
} Filter;

/* What the walker does with the pieces of a template. */
typedef struct Walker
{
	bool		strict;			/* ereport on a bad template (check), else literal */
	/* check */
	Datum	   *allowed;
	bool	   *allowed_nulls;
	int			nallowed;
	/* render */
	Jsonb	   *vars;
	StringInfo	out;
} Walker;

static const char *const filter_names = "pct, round, round(N) with N from 0 to 6";

static bool
is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static const char *
skip_spaces(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static const char *
trim_end(const char *start, const char *end)
{
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return end;
}

/* Append at most what still fits under ALERT_MESSAGE_MAX, whole characters only. */
static void
emit(Walker *w, const char *s, int len)
{
	int			room;

	if (w->out == NULL)
		return;
	room = ALERT_MESSAGE_MAX - w->out->len;
	if (room <= 0)
		return;
	if (len > room)
		len = pg_mbcliplen(s, len, room);
	appendBinaryStringInfo(w->out, s, len);
}

/* How much of a piece of template an error message quotes: whole characters. */
static int
clip(const char *s, int len)
{
	return pg_mbcliplen(s, len, 200);
}

static void
bad_template(const char *what, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid alert message template: %s", what),
			 errdetail("%s", detail),
			 errhint("Placeholders are written {{name}} or {{name | filter}}; the filters are %s.",
					 filter_names)));
}

/* One filter, "pct" or "round" or "round(N)"; false when it is none of them. */
static bool
parse_filter(const char *p, const char *end, Filter *f)
{
	int			len = end - p;

	if (len == 3 && memcmp(p, "pct", 3) == 0)
	{
		f->kind = F_PCT;
		return true;
	}
	if (len == 5 && memcmp(p, "round", 5) == 0)
	{
		f->kind = F_ROUND;
		f->digits = 0;
		return true;
	}
	if (len == 8 && memcmp(p, "round(", 6) == 0 && p[7] == ')' &&
		p[6] >= '0' && p[6] <= '0' + ALERT_ROUND_MAX)
	{
		f->kind = F_ROUND;
		f->digits = p[6] - '0';
		return true;
	}
	return false;
}

static bool
name_allowed(Walker *w, const char *name, int len)
{
	for (int i = 0; i < w->nallowed; i++)
	{
		text	   *t;

		if (w->allowed_nulls[i])
			continue;
		t = DatumGetTextPP(w->allowed[i]);
		if ((int) VARSIZE_ANY_EXHDR(t) == len && memcmp(VARDATA_ANY(t), name, len) == 0)
			return true;
	}
	return false;
}

/* A number formatted through the filters. */
static void
emit_number(Walker *w, double v, const Filter *filters, int nfilters)
{
	int			digits = -1;
	bool		pct = false;
	char		buf[400];		/* DBL_MAX with 6 decimals fits */

	for (int i = 0; i < nfilters; i++)
	{
		if (filters[i].kind == F_PCT)
		{
			v *= 100;
			pct = true;
		}
		else
			digits = filters[i].digits;
	}
	if (digits < 0)
		digits = 1;
	snprintf(buf, sizeof(buf), "%.*f%s", digits, v, pct ? "%" : "");
	emit(w, buf, strlen(buf));
}

/* The value of a placeholder; "n/a" when the variables do not hold it. */
static void
emit_value(Walker *w, const char *name, int len, const Filter *filters, int nfilters)
{
	JsonbValue	v;

	if (w->vars == NULL || !JB_ROOT_IS_OBJECT(w->vars) ||
		getKeyJsonValueFromContainer(&w->vars->root, name, len, &v) == NULL)
		v.type = jbvNull;

	switch (v.type)
	{
		case jbvString:
			emit(w, v.val.string.val, v.val.string.len);
			break;
		case jbvBool:
			emit(w, v.val.boolean ? "true" : "false", v.val.boolean ? 4 : 5);
			break;
		case jbvNumeric:
			if (nfilters > 0)
				emit_number(w, DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
																  NumericGetDatum(v.val.numeric))),
							filters, nfilters);
			else
			{
				char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out,
																	NumericGetDatum(v.val.numeric)));

				emit(w, s, strlen(s));
				pfree(s);
			}
			break;
		default:
			emit(w, "n/a", 3);
			break;
	}
}

/*
 * The inside of one {{...}}: a name, then filters separated by "|". Returns
 * false (lenient walk) when it is not well formed.
 */
static bool
placeholder(Walker *w, const char *p, const char *end)
{
	Filter		filters[ALERT_FILTERS_MAX];
	int			nfilters = 0;
	const char *name;
	int			namelen;
	const char *bar;

	p = skip_spaces(p, end);
	name = p;
	while (p < end && is_name_char(*p))
		p++;
	namelen = p - name;
	bar = skip_spaces(p, end);
	if (namelen == 0 || namelen > ALERT_NAME_MAX || (bar < end && *bar != '|'))
	{
		if (w->strict)
			bad_template("a placeholder is not a name",
						 psprintf("\"{{%.*s}}\" should start with a name of at most %d letters, digits and underscores.",
								  clip(name, end - name), name, ALERT_NAME_MAX));
		return false;
	}
	p = bar;
	while (p < end)
	{
		const char *fend;
		const char *next = memchr(p + 1, '|', end - p - 1);

		if (next == NULL)
			next = end;
		p = skip_spaces(p + 1, next);
		fend = trim_end(p, next);
		if (nfilters == ALERT_FILTERS_MAX || !parse_filter(p, fend, &filters[nfilters]))
		{
			if (w->strict)
				bad_template(nfilters == ALERT_FILTERS_MAX ? "too many filters" : "unknown filter",
							 nfilters == ALERT_FILTERS_MAX ?
							 psprintf("A placeholder takes at most %d filters.", ALERT_FILTERS_MAX) :
							 psprintf("The filter is \"%.*s\".", clip(p, fend - p), p));
			return false;
		}
		nfilters++;
		p = next;
	}

	if (w->strict && !name_allowed(w, name, namelen))
	{
		StringInfoData names;

		initStringInfo(&names);
		for (int i = 0; i < w->nallowed; i++)
			if (!w->allowed_nulls[i])
				appendStringInfo(&names, "%s%s", names.len ? ", " : "",
								 TextDatumGetCString(w->allowed[i]));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid alert message template: unknown placeholder \"%.*s\"", namelen, name),
				 errdetail("This rule's messages can use: %s.", names.data),
				 errhint("Dimensions are known only when they are in the rule's scope; the filters are %s.",
						 filter_names)));
	}
	emit_value(w, name, namelen, filters, nfilters);
	return true;
}

static void
walk(Walker *w, const char *t, int len)
{
	const char *p = t;
	const char *end = t + len;

	while (p < end)
	{
		const char *open = NULL;
		const char *close;

		/* the next "{{" or "}}", whichever comes first */
		for (const char *q = p; q + 1 < end; q++)
		{
			if ((q[0] == '{' || q[0] == '}') && q[1] == q[0])
			{
				open = q;
				break;
			}
		}
		if (open == NULL)
			break;
		emit(w, p, open - p);
		if (open[0] == '}')
		{
			if (w->strict)
				bad_template("unbalanced braces",
							 psprintf("\"}}\" at byte %d closes no \"{{\".", (int) (open - t)));
			emit(w, open, 2);
			p = open + 2;
			continue;
		}
		close = NULL;
		for (const char *q = open + 2; q + 1 < end; q++)
		{
			if (q[0] == '}' && q[1] == '}')
			{
				close = q;
				break;
			}
			if (q[0] == '{' && q[1] == '{')
				break;			/* a nested or unclosed "{{" */
		}
		if (close == NULL)
		{
			if (w->strict)
				bad_template("unbalanced braces",
							 psprintf("\"{{\" at byte %d is not closed by \"}}\" before the next \"{{\" or the end.",
									  (int) (open - t)));
			/* literally, up to the next "{{" (or the end) */
			emit(w, open, 2);
			p = open + 2;
			continue;
		}
		if (!placeholder(w, open + 2, close))
			emit(w, open, close + 2 - open);
		p = close + 2;
	}
	emit(w, p, end - p);
}

/* qoe.alert_template_check(template text, placeholders text[]): errors, or nothing */
Datum
qoe_alert_template_check(PG_FUNCTION_ARGS)
{
	text	   *tpl = PG_GETARG_TEXT_PP(0);
	ArrayType  *names = PG_GETARG_ARRAYTYPE_P(1);
	Walker		w = {0};

	w.strict = true;
	deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT,
					  &w.allowed, &w.allowed_nulls, &w.nallowed);
	walk(&w, VARDATA_ANY(tpl), VARSIZE_ANY_EXHDR(tpl));
	PG_RETURN_VOID();
}

/* qoe.alert_render(template text, vars jsonb): the message, at most 4096 bytes */
Datum
qoe_alert_render(PG_FUNCTION_ARGS)
{
	text	   *tpl = PG_GETARG_TEXT_PP(0);
	Walker		w = {0};
	StringInfoData out;

	initStringInfo(&out);
	w.out = &out;
	w.vars = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	walk(&w, VARDATA_ANY(tpl), VARSIZE_ANY_EXHDR(tpl));
	PG_RETURN_TEXT_P(cstring_to_text_with_len(out.data, out.len));
}

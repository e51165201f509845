/*
 * trace_render.c
 *	  candystore.trace_render(): the causation graph of an event as text, in
 *	  one of three formats.
 *
 *	  tree     indented, depth-first from each root (trace()'s depth-0 rows)
 *	           with children in trace()'s row order; an event reached again
 *	           is referenced ("^ id (shown above)"), not repeated;
 *	  dot      Graphviz: the nodes in row order, then the edges grouped by
 *	           parent (parents in uuid order, children in row order);
 *	  mermaid  the same graph as a Mermaid flowchart.
 *
 *	  The graph is walked once (trace_graph(), the walk trace() makes), then
 *	  rendered from memory: the work is linear in the size of the graph.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "trace.h"

PG_FUNCTION_INFO_V1(candystore_trace_render);

#define ID_TEXT_LEN 36			/* a uuid as text, without its terminator */
#define SHORT_ID_LEN 8			/* the part of it renderings show */

typedef enum RenderFormat
{
	RENDER_TREE,
	RENDER_DOT,
	RENDER_MERMAID
} RenderFormat;

/* The graph with its edges: children of rows[i] are child_list[child_start[i] ..]. */
typedef struct Rendering
{
	TraceGraph	graph;
	int		   *child_start;	/* nrows + 1 entries */
	int		   *child_list;		/* row numbers, in row order per parent */
	StringInfoData out;
	bool		first_line;
} Rendering;

/* The uuid as text (lowercase, with dashes), as uuid_out writes it. */
static void
id_text(const pg_uuid_t *id, char *buf, bool dashes)
{
	static const char hex[] = "0123456789abcdef";
	int			j = 0;

	for (int i = 0; i < UUID_LEN; i++)
	{
		if (dashes && (i == 4 || i == 6 || i == 8 || i == 10))
			buf[j++] = '-';
		buf[j++] = hex[id->data[i] >> 4];
		buf[j++] = hex[id->data[i] & 0x0F];
	}
	buf[j] = '\0';
}

/* Starts a new output line (lines are joined by newlines, none at the end). */
static StringInfo
new_line(Rendering *r)
{
	if (!r->first_line)
		appendStringInfoChar(&r->out, '\n');
	r->first_line = false;
	return &r->out;
}

/* Child lists of the rows: each row under each distinct parent but itself. */
static void
build_edges(Rendering *r)
{
	TraceGraph *g = &r->graph;
	int		   *fill;
	int			nedges = 0;

	r->child_start = MemoryContextAllocZero(g->cxt, (g->nrows + 1) * sizeof(int));
	for (int pass = 0; pass < 2; pass++)
	{
		if (pass == 1)
		{
			for (int i = 0; i < g->nrows; i++)
				r->child_start[i + 1] += r->child_start[i];
			r->child_list = MemoryContextAlloc(g->cxt, Max(nedges, 1) * sizeof(int));
		}
		fill = MemoryContextAllocZero(g->cxt, Max(g->nrows, 1) * sizeof(int));
		for (int i = 0; i < g->nrows; i++)
		{
			TraceNode  *node = g->rows[i];

			CHECK_FOR_INTERRUPTS();
			/* parents are deduplicated; a missing event has none */
			for (int j = 0; j < node->nparents; j++)
			{
				TraceNode  *p = trace_graph_node(g, &node->parents[j]);

				if (p == NULL || p == node || p->row < 0)
					continue;
				if (pass == 0)
				{
					r->child_start[p->row + 1]++;
					nedges++;
				}
				else
					r->child_list[r->child_start[p->row] + fill[p->row]++] = i;
			}
		}
		pfree(fill);
	}
}

static int
compare_ids(const void *a, const void *b)
{
	const TraceNode *x = *(TraceNode *const *) a;
	const TraceNode *y = *(TraceNode *const *) b;

	return memcmp(&x->id, &y->id, UUID_LEN);
}

/* dot and mermaid: every node, then every edge. */
static void
render_graph(Rendering *r, RenderFormat format)
{
	TraceGraph *g = &r->graph;
	TraceNode **parents = MemoryContextAlloc(g->cxt, Max(g->nrows, 1) * sizeof(TraceNode *));
	int			nparents = 0;
	char		id[ID_TEXT_LEN + 1];
	char		child_id[ID_TEXT_LEN + 1];

	if (format == RENDER_DOT)
	{
		appendStringInfoString(new_line(r), "digraph trace {");
		appendStringInfoString(new_line(r), "  rankdir=TB;  node [shape=box, fontname=\"monospace\"];");
	}
	else
		appendStringInfoString(new_line(r), "graph TD");

	for (int i = 0; i < g->nrows; i++)
	{
		TraceNode  *node = g->rows[i];
		const char *type = node->found ? text_to_cstring(node->event_type) : "missing";

		CHECK_FOR_INTERRUPTS();
		id_text(&node->id, id, true);
		if (format == RENDER_DOT)
			appendStringInfo(new_line(r), "  \"%s\" [label=\"%s\\n%.*s\"%s];", id, type,
							 SHORT_ID_LEN, id, node->found && !node->hidden ? "" : ", style=dashed");
		else
		{
			char		hex[ID_TEXT_LEN + 1];

			id_text(&node->id, hex, false);
			appendStringInfo(new_line(r), "  e%s[\"%s<br/>%.*s\"]", hex, type, SHORT_ID_LEN, id);
		}
		if (r->child_start[i + 1] > r->child_start[i])
			parents[nparents++] = node;
	}

	/* edges grouped by parent, parents in uuid order */
	qsort(parents, nparents, sizeof(TraceNode *), compare_ids);
	for (int i = 0; i < nparents; i++)
	{
		int			row = parents[i]->row;

		id_text(&parents[i]->id, id, format == RENDER_DOT);
		for (int k = r->child_start[row]; k < r->child_start[row + 1]; k++)
		{
			CHECK_FOR_INTERRUPTS();
			id_text(&g->rows[r->child_list[k]]->id, child_id, format == RENDER_DOT);
			if (format == RENDER_DOT)
				appendStringInfo(new_line(r), "  \"%s\" -> \"%s\";", id, child_id);
			else
				appendStringInfo(new_line(r), "  e%s --> e%s", id, child_id);
		}
	}
	if (format == RENDER_DOT)
		appendStringInfoString(new_line(r), "}");
}

/* occurred_at as to_char(occurred_at AT TIME ZONE 'UTC', ...) shows it. */
static char *
utc_time_text(TimestampTz t, Datum format)
{
	/* a timestamptz is UTC inside: AT TIME ZONE 'UTC' keeps its value */
	if (TIMESTAMP_NOT_FINITE(t))
		return "";				/* to_char gives NULL, format() an empty string */
	return TextDatumGetCString(DirectFunctionCall2(timestamp_to_char,
												   TimestampGetDatum((Timestamp) t), format));
}

/* Two spaces per level (a deep chain's tree is mostly indentation). */
static void
indent(StringInfo line, int level)
{
	enlargeStringInfo(line, 2 * level);
	memset(line->data + line->len, ' ', 2 * level);
	line->len += 2 * level;
	line->data[line->len] = '\0';
}

/* tree: depth-first from the roots, in row order. */
static void
render_tree(Rendering *r)
{
	TraceGraph *g = &r->graph;
	Datum		time_format = CStringGetTextDatum("YYYY-MM-DD HH24:MI:SS\"Z\"");
	bool	   *shown = MemoryContextAllocZero(g->cxt, Max(g->nrows, 1) * sizeof(bool));
	/* an entry per root and per edge at most: each row expands once */
	int			capacity = g->nrows + r->child_start[g->nrows];
	int		   *stack = MemoryContextAlloc(g->cxt, Max(capacity, 1) * sizeof(int));
	int		   *levels = MemoryContextAlloc(g->cxt, Max(capacity, 1) * sizeof(int));
	int			depth = 0;
	char		id[ID_TEXT_LEN + 1];

	for (int i = g->nrows - 1; i >= 0; i--)
	{
		if (g->rows[i]->depth == 0)
		{
			stack[depth] = i;
			levels[depth++] = 0;
		}
	}
	while (depth > 0)
	{
		int			row = stack[--depth];
		int			level = levels[depth];
		TraceNode  *node = g->rows[row];
		StringInfo	line;

		CHECK_FOR_INTERRUPTS();
		id_text(&node->id, id, true);
		line = new_line(r);
		indent(line, level);
		if (shown[row])
		{
			appendStringInfo(line, "^ %.*s (shown above)", SHORT_ID_LEN, id);
			continue;
		}
		shown[row] = true;
		if (node->hidden)
			appendStringInfo(line, "%s %.*s", TRACE_HIDDEN_TYPE, SHORT_ID_LEN, id);
		else if (node->found)
			appendStringInfo(line, "%s  %s  %.*s", text_to_cstring(node->event_type),
							 utc_time_text(node->occurred_at, time_format), SHORT_ID_LEN, id);
		else
			appendStringInfo(line, "(missing) %.*s", SHORT_ID_LEN, id);
		/* pushed last to first, so the first child comes out first */
		for (int k = r->child_start[row + 1] - 1; k >= r->child_start[row]; k--)
		{
			stack[depth] = r->child_list[k];
			levels[depth++] = level + 1;
		}
	}
}

Datum
candystore_trace_render(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *start = PG_GETARG_UUID_P(0);
	char	   *format_name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	RenderFormat format;
	Rendering	r;

	if (strcmp(format_name, "tree") == 0)
		format = RENDER_TREE;
	else if (strcmp(format_name, "dot") == 0)
		format = RENDER_DOT;
	else if (strcmp(format_name, "mermaid") == 0)
		format = RENDER_MERMAID;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown trace_render format \"%s\"", format_name),
				 errhint("Use tree, dot or mermaid.")));

	if (!trace_graph(start, &r.graph))
		PG_RETURN_NULL();
	/* the text outlives the graph */
	initStringInfo(&r.out);
	r.first_line = true;
	build_edges(&r);
	if (format == RENDER_TREE)
		render_tree(&r);
	else
		render_graph(&r, format);
	MemoryContextDelete(r.graph.cxt);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(r.out.data, r.out.len));
}

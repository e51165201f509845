/*
 * uri.c
 *	  RFC 3986 reference resolution, enough for $id/$ref base URIs.
 *	  Works on any scheme (http, urn, tag ...); nothing is ever fetched.
 */
#include "postgres.h"

#include "jsonschema.h"

typedef struct UriParts
{
	char	   *scheme;			/* NULL when absent */
	char	   *authority;		/* NULL when absent */
	char	   *path;			/* never NULL */
	char	   *query;			/* NULL when absent */
	char	   *fragment;		/* NULL when absent */
} UriParts;

static void
uri_split(const char *s, UriParts *u)
{
	const char *p = s;
	const char *q;

	memset(u, 0, sizeof(*u));
	/* scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
	for (q = p; *q && (isalnum((unsigned char) *q) || *q == '+' || *q == '-' || *q == '.'); q++)
		;
	if (*q == ':' && q > p && isalpha((unsigned char) *p))
	{
		u->scheme = pnstrdup(p, q - p);
		p = q + 1;
	}
	if (p[0] == '/' && p[1] == '/')
	{
		p += 2;
		q = p + strcspn(p, "/?#");
		u->authority = pnstrdup(p, q - p);
		p = q;
	}
	q = p + strcspn(p, "?#");
	u->path = pnstrdup(p, q - p);
	p = q;
	if (*p == '?')
	{
		q = p + 1 + strcspn(p + 1, "#");
		u->query = pnstrdup(p + 1, q - p - 1);
		p = q;
	}
	if (*p == '#')
		u->fragment = pstrdup(p + 1);
}

/* RFC 3986 5.2.4 */
static char *
remove_dot_segments(const char *path)
{
	StringInfoData out;
	const char *in = path;

	initStringInfo(&out);
	while (*in)
	{
		if (strncmp(in, "../", 3) == 0)
			in += 3;
		else if (strncmp(in, "./", 2) == 0)
			in += 2;
		else if (strncmp(in, "/./", 3) == 0)
			in += 2;
		else if (strcmp(in, "/.") == 0)
			in = "/";
		else if (strncmp(in, "/../", 4) == 0 || strcmp(in, "/..") == 0)
		{
			char	   *slash;

			in = (in[3] == '/') ? in + 3 : "/";
			slash = strrchr(out.data, '/');
			if (slash)
			{
				out.len = slash - out.data;
				out.data[out.len] = '\0';
			}
			else
				resetStringInfo(&out);
		}
		else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0)
			break;
		else
		{
			const char *next = strchr(in + 1, '/');
			int			n = next ? next - in : (int) strlen(in);

			appendBinaryStringInfo(&out, in, n);
			in += n;
		}
	}
	return out.data;
}

static char *
uri_join(const UriParts *u)
{
	StringInfoData s;

	initStringInfo(&s);
	if (u->scheme)
		appendStringInfo(&s, "%s:", u->scheme);
	if (u->authority)
		appendStringInfo(&s, "//%s", u->authority);
	appendStringInfoString(&s, u->path);
	if (u->query)
		appendStringInfo(&s, "?%s", u->query);
	if (u->fragment)
		appendStringInfo(&s, "#%s", u->fragment);
	return s.data;
}

/* Resolves ref against base (RFC 3986 section 5.2.2). */
char *
uri_resolve(const char *base, const char *ref)
{
	UriParts	b,
				r,
				t;

	uri_split(ref, &r);
	if (base == NULL || *base == '\0' || r.scheme)
	{
		if (r.scheme)
			r.path = remove_dot_segments(r.path);
		return uri_join(&r);
	}
	uri_split(base, &b);
	memset(&t, 0, sizeof(t));
	t.fragment = r.fragment;
	if (r.authority)
	{
		t.authority = r.authority;
		t.path = remove_dot_segments(r.path);
		t.query = r.query;
	}
	else
	{
		if (r.path[0] == '\0')
		{
			t.path = b.path;
			t.query = r.query ? r.query : b.query;
		}
		else
		{
			if (r.path[0] == '/')
				t.path = remove_dot_segments(r.path);
			else
			{
				char	   *merged;
				char	   *slash = strrchr(b.path, '/');

				if (b.authority && b.path[0] == '\0')
					merged = psprintf("/%s", r.path);
				else if (slash)
					merged = psprintf("%.*s%s", (int) (slash - b.path + 1), b.path, r.path);
				else
					merged = pstrdup(r.path);
				t.path = remove_dot_segments(merged);
			}
			t.query = r.query;
		}
		t.authority = b.authority;
	}
	t.scheme = b.scheme;
	return uri_join(&t);
}

/* Returns the URI without its fragment; *fragment gets it ("" if none). */
char *
uri_strip_fragment(const char *uri, char **fragment)
{
	const char *hash = strchr(uri, '#');

	if (fragment)
		*fragment = pstrdup(hash ? hash + 1 : "");
	return hash ? pnstrdup(uri, hash - uri) : pstrdup(uri);
}

/* Percent-decodes a fragment. */
char *
uri_fragment_decode(const char *frag)
{
	StringInfoData s;
	const char *p;

	initStringInfo(&s);
	for (p = frag; *p; p++)
	{
		if (p[0] == '%' && isxdigit((unsigned char) p[1]) && isxdigit((unsigned char) p[2]))
		{
			char		hex[3] = {p[1], p[2], 0};

			appendStringInfoChar(&s, (char) strtol(hex, NULL, 16));
			p += 2;
		}
		else
			appendStringInfoChar(&s, *p);
	}
	return s.data;
}

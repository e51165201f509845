/*
 * cache.c
 *	  Per-backend cache of compiled schemas, keyed by the schema's jsonb
 *	  bytes (hashed, then compared exactly).  Bounded: the least recently
 *	  used entry is dropped, so backend memory stays flat whatever the
 *	  number of distinct schemas.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "utils/memutils.h"

#include "jsonschema.h"

#define JS_CACHE_SIZE 64

typedef struct JsCacheEntry
{
	uint32		hash;
	uint64		last_used;
	JsSchema   *schema;			/* NULL: free slot */
} JsCacheEntry;

static JsCacheEntry cache[JS_CACHE_SIZE];
static uint64 clock_tick = 0;
static MemoryContext cache_cxt = NULL;
static int	last_hit = -1;
static uint64 generation = 0;	/* bumped whenever a compiled schema is freed */

JsSchema *
jsonschema_get_compiled(Jsonb *schema)
{
	Size		size = VARSIZE(schema);
	uint32		h;
	int			victim = 0;
	JsSchema   *s;
	int			i;

	/* the same schema as last time (a query's constant): skip the hashing */
	if (last_hit >= 0 && cache[last_hit].schema &&
		VARSIZE(cache[last_hit].schema->doc) == size &&
		cache[last_hit].schema->default_draft == jsonschema_default_draft &&
		cache[last_hit].schema->draft4_later == jsonschema_draft4_later_keywords &&
		memcmp(cache[last_hit].schema->doc, schema, size) == 0)
		return cache[last_hit].schema;
	h = hash_bytes((const unsigned char *) schema, size);

	for (i = 0; i < JS_CACHE_SIZE; i++)
	{
		JsCacheEntry *e = &cache[i];

		if (e->schema && e->hash == h && VARSIZE(e->schema->doc) == size &&
			e->schema->default_draft == jsonschema_default_draft &&
			e->schema->draft4_later == jsonschema_draft4_later_keywords &&
			memcmp(e->schema->doc, schema, size) == 0)
		{
			e->last_used = ++clock_tick;
			last_hit = i;
			return e->schema;
		}
		if (e->schema == NULL || (cache[victim].schema && e->last_used < cache[victim].last_used))
			victim = i;
	}
	if (cache_cxt == NULL)
		cache_cxt = AllocSetContextCreate(TopMemoryContext, "candystore json schema cache",
										  ALLOCSET_SMALL_SIZES);
	/* Compiled under the caller's context: an error leaves nothing behind. */
	s = jsonschema_compile(schema, CurrentMemoryContext);
	MemoryContextSetParent(s->cxt, cache_cxt);
	if (cache[victim].schema)
	{
		MemoryContextDelete(cache[victim].schema->cxt);
		generation++;
	}
	cache[victim].schema = s;
	cache[victim].hash = h;
	cache[victim].last_used = ++clock_tick;
	last_hit = victim;
	return s;
}

void
jsonschema_cache_reset(void)
{
	for (int i = 0; i < JS_CACHE_SIZE; i++)
	{
		if (cache[i].schema)
			MemoryContextDelete(cache[i].schema->cxt);
		cache[i].schema = NULL;
	}
	last_hit = -1;
	generation++;
}

/*
 * Callers that remember a JsSchema * across calls (sql.c, per call site)
 * may use it while this number is unchanged.
 */
uint64
jsonschema_cache_generation(void)
{
	return generation;
}

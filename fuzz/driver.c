/*
 * driver.c
 *	  candystore_fuzz_run(): hands the backend to libFuzzer
 *	  (LLVMFuzzerRunDriver) and runs each input the way PL/pgSQL runs an
 *	  EXCEPTION block: in an internal subtransaction, in a memory context
 *	  reset afterwards, with ERROR caught.
 *
 *	  What counts as a finding:
 *	  - a crash or a sanitizer report (libFuzzer saves the input);
 *	  - an ERROR of class XX (internal error: elog(ERROR), "invalid memory
 *	    alloc request size", "unrecognized ..."): hostile input must get a
 *	    proper SQLSTATE, never an internal error;
 *	  - an input still running hang_after_ms after it was cancelled: some
 *	    loop lacks CHECK_FOR_INTERRUPTS(), so statement_timeout could not
 *	    stop it either;
 *	  - backend memory that keeps growing across inputs;
 *	  - a target's own consistency check (fuzz_finding()).
 *	  Any other ERROR is a correct answer to bad input, and an input still
 *	  running after cancel_after_ms is cancelled like statement_timeout
 *	  would, counted, and saved as slow-* next to the artifacts.
 *
 *	  libFuzzer's own -timeout cannot be used: its SIGALRM timer would fight
 *	  PostgreSQL's timeout.c for the same signal (libFuzzer leaves an existing
 *	  SIGALRM handler alone, so it would never fire anyway).  The two
 *	  deadlines here use timeout.c itself.
 */
#include "postgres.h"

#include <unistd.h>

#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timeout.h"

#include "fuzz.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(candystore_fuzz_run);

/*
 * libFuzzer's LLVMFuzzerRunDriver(), linked into the fuzzing build of
 * candystore.so (fuzz/engine/run_driver.c): runs the loop, then exit()s.
 */
typedef int (*RunDriver) (int *argc, char ***argv,
						  int (*callback) (const uint8_t *data, size_t size));

static const FuzzTarget *const targets[] = {
	&fuzz_target_jsonschema, &fuzz_target_envelope, &fuzz_target_patterns, &fuzz_target_jsonb_text,
	&fuzz_target_amqp_headers, &fuzz_target_signature, &fuzz_target_archive_lines,
	&fuzz_target_event_type_patterns, NULL
};

static const FuzzTarget *target;
static MemoryContext input_cxt;
static List *input_mallocs;		/* blocks fuzz_jsonb()/fuzz_string() gave out */
static char *artifact_prefix = "";

/* deadlines */
static int	cancel_after_ms;
static int	hang_after_ms;
static TimeoutId cancel_timeout;
static TimeoutId hang_timeout;
static volatile sig_atomic_t cancel_requested;
static char hang_message[256];

/* memory watch */
static int	memory_growth_mb;
static Size memory_baseline;
#define MEMORY_WARMUP_INPUTS 2000	/* caches fill up first */
#define MEMORY_CHECK_EVERY 256

/* outcome counts, for the summary at exit */
static uint64 inputs;
static uint64 accepted;
static uint64 cancelled;
static uint64 errors_by_class[64 * 64];	/* by the class's two 6-bit chars */
#define MAX_SLOW_SAVED 20

void *
fuzz_engine_symbol(const char *name)
{
	return load_external_function("$libdir/candystore", name, true, NULL);
}

static void
track(void *block)
{
	MemoryContext old = MemoryContextSwitchTo(input_cxt);

	input_mallocs = lappend(input_mallocs, block);
	MemoryContextSwitchTo(old);
}

static void *
exact_malloc(size_t size)
{
	void	   *p = malloc(Max(size, 1));

	if (p == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	track(p);
	return p;
}

Jsonb *
fuzz_jsonb(const char *text, size_t len)
{
	Jsonb	   *parsed;
	Jsonb	   *copy;

	/* what the text input path guarantees before any input function runs */
	pg_verifymbstr(text, len, false);
	parsed = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
												CStringGetDatum(pnstrdup(text, len))));
	copy = exact_malloc(VARSIZE(parsed));
	memcpy(copy, parsed, VARSIZE(parsed));
	return copy;
}

Jsonb *
fuzz_jsonb_in(char *text, ErrorData **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	Jsonb	   *result = NULL;

	*error = NULL;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		result = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		*error = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return result;
}

char *
fuzz_string(const uint8_t *data, size_t len)
{
	char	   *s;

	if (memchr(data, '\0', len) != NULL || !pg_verifymbstr((const char *) data, len, true))
		return NULL;
	s = exact_malloc(len);
	memcpy(s, data, len);
	return s;
}

char *
fuzz_cstring(const uint8_t *data, size_t len)
{
	char	   *s;

	if (memchr(data, '\0', len) != NULL || !pg_verifymbstr((const char *) data, len, true))
		return NULL;
	s = exact_malloc(len + 1);
	memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

size_t
fuzz_split(const uint8_t *data, size_t size, const uint8_t **rest, size_t *restlen)
{
	const uint8_t *nul = memchr(data, '\0', size);

	if (nul == NULL)
	{
		*rest = data + size;
		*restlen = 0;
		return size;
	}
	*rest = nul + 1;
	*restlen = size - (nul - data) - 1;
	return nul - data;
}

void
fuzz_finding(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "\n==candystore_fuzz== FINDING (%s): ", target->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(stderr);
	abort();
}

/* timeout.c handlers: they run in the SIGALRM handler */
static void
cancel_input(void)
{
	cancel_requested = true;
	QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

static void
input_hangs(void)
{
	ssize_t		written pg_attribute_unused();

	/* async-signal-safe: libFuzzer's SIGABRT handler saves the input */
	written = write(STDERR_FILENO, hang_message, strlen(hang_message));
	abort();
}

static void
save_slow_input(const uint8_t *data, size_t size)
{
	char	   *path;
	FILE	   *f;

	if (cancelled > MAX_SLOW_SAVED)
		return;
	path = psprintf("%sslow-%d-%llu", artifact_prefix, MyProcPid,
					(unsigned long long) cancelled);
	f = fopen(path, "wb");
	if (f == NULL)
		return;
	if (fwrite(data, 1, size, f) != size)
		elog(WARNING, "could not write \"%s\": %m", path);
	fclose(f);
}

static void
classify_error(ErrorData *edata, const uint8_t *data, size_t size)
{
	int			code = edata->sqlerrcode;

	if (code == ERRCODE_QUERY_CANCELED)
	{
		if (!cancel_requested)
		{
			/* a real cancel (Ctrl-C, SIGINT from a script): stop quietly */
			fprintf(stderr, "candystore_fuzz: interrupted\n");
			_exit(2);
		}
		cancelled++;
		save_slow_input(data, size);
		return;
	}
	if (ERRCODE_TO_CATEGORY(code) == ERRCODE_INTERNAL_ERROR)
		fuzz_finding("internal error %s: %s%s%s", unpack_sql_state(code), edata->message,
					 edata->context ? "\nCONTEXT: " : "", edata->context ? edata->context : "");
	errors_by_class[code & 0xFFF]++;
}

static void
watch_memory(void)
{
	Size		now;

	if (inputs < MEMORY_WARMUP_INPUTS || inputs % MEMORY_CHECK_EVERY != 0)
		return;
	now = MemoryContextMemAllocated(TopMemoryContext, true);
	if (memory_baseline == 0)
		memory_baseline = now;
	else if (now > memory_baseline + (Size) memory_growth_mb * 1024 * 1024)
	{
		MemoryContextStats(TopMemoryContext);
		fuzz_finding("backend memory grew from %zu to %zu bytes over %llu inputs "
					 "(contexts above; the saved input is only the last one run)",
					 memory_baseline, now, (unsigned long long) inputs);
	}
}

/* One input: libFuzzer's callback. */
static int
run_one(const uint8_t *data, size_t size)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ListCell   *lc;

	inputs++;
	cancel_requested = false;
	enable_timeout_after(cancel_timeout, cancel_after_ms);
	enable_timeout_after(hang_timeout, hang_after_ms);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(input_cxt);
	PG_TRY();
	{
		target->run(data, size);
		ReleaseCurrentSubTransaction();
		accepted++;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(input_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		CurrentResourceOwner = oldowner;
		classify_error(edata, data, size);
	}
	PG_END_TRY();

	disable_timeout(hang_timeout, false);
	disable_timeout(cancel_timeout, false);
	if (cancel_requested)
		QueryCancelPending = false; /* fired after the input had finished */
	MemoryContextSwitchTo(oldcontext);
	CurrentResourceOwner = oldowner;

	foreach(lc, input_mallocs)
		free(lfirst(lc));
	input_mallocs = NIL;
	MemoryContextReset(input_cxt);
	watch_memory();
	return 0;
}

static void
print_summary(int code, Datum arg)
{
	(void) code;
	(void) arg;
	fprintf(stderr, "candystore_fuzz %s: %llu inputs: %llu accepted, %llu cancelled after %d ms",
			target->name, (unsigned long long) inputs, (unsigned long long) accepted,
			(unsigned long long) cancelled, cancel_after_ms);
	for (int i = 0; i < 64 * 64; i++)
		if (errors_by_class[i])
			fprintf(stderr, ", %llu errors of class %c%c",
					(unsigned long long) errors_by_class[i],
					PGUNSIXBIT(i), PGUNSIXBIT(i >> 6));
	fprintf(stderr, "\n");
}

/*
 * candystore_fuzz_run(target text, libfuzzer_args text[],
 *                     cancel_after_ms int, hang_after_ms int,
 *                     memory_growth_mb int, artifact_prefix text)
 * Never returns: libFuzzer exits the backend when it is done (status 0) or
 * has a finding (non-zero).  Meant for a single-user backend.
 */
Datum
candystore_fuzz_run(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ArrayType  *args = PG_GETARG_ARRAYTYPE_P(1);
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			argc;
	char	  **argv;
	MemoryContext old;

	cancel_after_ms = PG_GETARG_INT32(2);
	hang_after_ms = PG_GETARG_INT32(3);
	memory_growth_mb = PG_GETARG_INT32(4);
	if (cancel_after_ms <= 0 || hang_after_ms <= cancel_after_ms || memory_growth_mb <= 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("need 0 < cancel_after_ms < hang_after_ms and memory_growth_mb > 0")));
	if (IsUnderPostmaster)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						errmsg("candystore_fuzz_run() needs a single-user backend"),
						errdetail("libFuzzer exits the process when it is done.")));

	for (int i = 0; targets[i]; i++)
		if (strcmp(targets[i]->name, name) == 0)
			target = targets[i];
	if (target == NULL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("unknown fuzz target \"%s\"", name)));

	old = MemoryContextSwitchTo(TopMemoryContext);
	artifact_prefix = text_to_cstring(PG_GETARG_TEXT_PP(5));
	deconstruct_array(args, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &nelems);
	argv = palloc0(sizeof(char *) * (nelems + 3));
	argc = 0;
	argv[argc++] = psprintf("candystore_fuzz_%s", name);
	argv[argc++] = psprintf("-artifact_prefix=%s", artifact_prefix);
	for (int i = 0; i < nelems; i++)
		if (!nulls[i])
			argv[argc++] = TextDatumGetCString(elems[i]);
	input_cxt = AllocSetContextCreate(TopMemoryContext, "candystore_fuzz input",
									  ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(old);

	snprintf(hang_message, sizeof(hang_message),
			 "\n==candystore_fuzz== FINDING (%s): input still running %d ms after it was "
			 "cancelled at %d ms: a loop without CHECK_FOR_INTERRUPTS()\n",
			 name, hang_after_ms, cancel_after_ms);
	cancel_timeout = RegisterTimeout(USER_TIMEOUT, cancel_input);
	hang_timeout = RegisterTimeout(USER_TIMEOUT, input_hangs);
	target->init();
	on_proc_exit(print_summary, (Datum) 0);

	((RunDriver) fuzz_engine_symbol("candystore_fuzz_run_driver")) (&argc, &argv, run_one);
	proc_exit(0);				/* not reached: libFuzzer exits */
}

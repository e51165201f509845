/*
 * archive.c
 *	  candystore.archive_events() and candystore.restore_archive(): a run of
 *	  positions to a gzip-compressed JSON Lines file on the server and back.
 *
 * Each line is {"position", "recorded_at", "routing_key", "envelope"}, the
 * envelope as get_event returns it (jsonb's own text), so `zcat | jq` reads
 * an archive.  Beside it <path>.manifest.json says how many lines, which
 * positions, which recording times, and the SHA-256 of the compressed file:
 * restore checks it before appending anything.  Restore appends through
 * append_many() (the store's one path: checks, idempotency, links), so a
 * second restore stores nothing new; positions are new ones (docs/operations.md,
 * "Archives").  Both run in the caller's transaction: an archive that turns
 * out bad halfway aborts it, and nothing it appended stays.
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "archive_lines.h"
#include "purge.h"

PG_FUNCTION_INFO_V1(candystore_archive_events);
PG_FUNCTION_INFO_V1(candystore_restore_archive);

/* Lines fetched (archive) or appended (restore) per round. */
#define ARCHIVE_BATCH 1000
/* A manifest is a few hundred bytes; anything far larger is not one. */
#define MANIFEST_MAX_BYTES (64 * 1024)

static void
require_file_privilege(Oid role, const char *what)
{
	if (!has_privs_of_role(GetUserId(), role))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s", what),
				 errdetail("Only roles with privileges of the \"%s\" role may %s.",
						   GetUserNameFromId(role, false), what)));
}

static void
require_absolute(const char *path)
{
	if (!is_absolute_path(path))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("archive path must be absolute: \"%s\"", path)));
}

/* Creates path, refusing one that exists. */
static int
create_exclusive(const char *path)
{
	int			fd = open(path, O_WRONLY | O_CREAT | O_EXCL | PG_BINARY, 0640);

	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create archive file \"%s\": %m", path),
				 errhint("An archive is never overwritten; choose a new path.")));
	return fd;
}

static char *
manifest_path(const char *path)
{
	return psprintf("%s.manifest.json", path);
}

/* The SHA-256 of a file, as 64 lowercase hex digits. */
static char *
file_sha256(const char *path)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char	   *hex = palloc(PG_SHA256_DIGEST_LENGTH * 2 + 1);
	char	   *buf = palloc(65536);
	int			fd = open(path, O_RDONLY | PG_BINARY, 0);
	ssize_t		n;

	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open archive file \"%s\": %m", path)));
	if (ctx == NULL || pg_cryptohash_init(ctx) < 0)
		elog(ERROR, "could not initialise SHA-256");
	while ((n = read(fd, buf, 65536)) > 0)
	{
		CHECK_FOR_INTERRUPTS();
		if (pg_cryptohash_update(ctx, (uint8 *) buf, n) < 0)
			elog(ERROR, "could not compute SHA-256");
	}
	if (n < 0)
	{
		int			save = errno;

		close(fd);
		errno = save;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read archive file \"%s\": %m", path)));
	}
	close(fd);
	if (pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not compute SHA-256");
	pg_cryptohash_free(ctx);
	hex_encode((const char *) digest, sizeof(digest), hex);
	hex[PG_SHA256_DIGEST_LENGTH * 2] = '\0';
	pfree(buf);
	return hex;
}

static void
write_all(int fd, const char *data, size_t len, const char *path)
{
	while (len > 0)
	{
		ssize_t		n = write(fd, data, len);

		if (n < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write \"%s\": %m", path)));
		data += n;
		len -= n;
	}
}

/*
 * archive_events(path, first_position, last_position) -> jsonb (the manifest)
 */
Datum
candystore_archive_events(PG_FUNCTION_ARGS)
{
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int64		first = PG_GETARG_INT64(1);
	int64		last = PG_GETARG_INT64(2);
	char	   *mpath = manifest_path(path);
	int			fd;
	volatile int mfd;		/* both changed inside PG_TRY, read in PG_CATCH */
	gzFile volatile gz;
	Portal		portal;
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		args[2];
	int64		count = 0;
	int64		first_seen = 0;
	int64		last_seen = 0;
	Datum		first_at = (Datum) 0;
	Datum		last_at = (Datum) 0;
	bool		any = false;
	char	   *sha;
	char	   *manifest;
	MemoryContext batch_cxt;
	MemoryContext outer_cxt = CurrentMemoryContext;
	MemoryContext old;

	require_file_privilege(ROLE_PG_WRITE_SERVER_FILES, "write archive files on the server");
	require_absolute(path);
	if (first > last)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("first_position %lld is after last_position %lld",
						(long long) first, (long long) last)));

	/* Both files are claimed before anything is written. */
	mfd = create_exclusive(mpath);
	PG_TRY();
	{
		fd = create_exclusive(path);
	}
	PG_CATCH();
	{
		close(mfd);
		unlink(mpath);
		PG_RE_THROW();
	}
	PG_END_TRY();

	gz = gzdopen(fd, "wb");
	if (gz == NULL)
		elog(ERROR, "could not start gzip stream for \"%s\"", path);

	batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "archive batch",
									  ALLOCSET_DEFAULT_SIZES);
	PG_TRY();
	{
		SPI_connect();
		args[0] = Int64GetDatum(first);
		args[1] = Int64GetDatum(last);
		portal = SPI_cursor_open_with_args(NULL,
										   "SELECT position, recorded_at,"
										   " pg_catalog.json_build_object('position', position,"
										   " 'recorded_at', recorded_at, 'routing_key', routing_key,"
										   " 'envelope', envelope)::text"
										   " FROM candystore.event_log"
										   " WHERE position BETWEEN $1 AND $2 ORDER BY position",
										   2, argtypes, args, NULL, true, 0);
		for (;;)
		{
			SPI_cursor_fetch(portal, true, ARCHIVE_BATCH);
			if (SPI_processed == 0)
				break;
			old = MemoryContextSwitchTo(batch_cxt);
			for (uint64 i = 0; i < SPI_processed; i++)
			{
				HeapTuple	tup = SPI_tuptable->vals[i];
				TupleDesc	desc = SPI_tuptable->tupdesc;
				bool		isnull;
				int64		pos = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
				Datum		at = SPI_getbinval(tup, desc, 2, &isnull);
				char	   *line = TextDatumGetCString(SPI_getbinval(tup, desc, 3, &isnull));
				size_t		len = strlen(line);

				CHECK_FOR_INTERRUPTS();
				if (!any)
				{
					first_seen = pos;
					first_at = at;
					any = true;
				}
				last_seen = pos;
				last_at = at;
				if (gzwrite(gz, line, len) != (int) len || gzputc(gz, '\n') != '\n')
					ereport(ERROR,
							(errcode(ERRCODE_IO_ERROR),
							 errmsg("could not write archive file \"%s\"", path)));
				count++;
			}
			MemoryContextSwitchTo(old);
			MemoryContextReset(batch_cxt);
			SPI_freetuptable(SPI_tuptable);
		}
		SPI_cursor_close(portal);

		if (gzclose(gz) != Z_OK)
		{
			gz = NULL;
			ereport(ERROR,
					(errcode(ERRCODE_IO_ERROR),
					 errmsg("could not finish archive file \"%s\"", path)));
		}
		gz = NULL;
		sha = file_sha256(path);

		{
			Oid			mtypes[7] = {TEXTOID, INT8OID, INT8OID, INT8OID,
			TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID};
			Datum		margs[7];
			char		mnulls[7] = {' ', ' ', any ? ' ' : 'n', any ? ' ' : 'n',
			any ? ' ' : 'n', any ? ' ' : 'n', ' '};

			margs[0] = CStringGetTextDatum(path);
			margs[1] = Int64GetDatum(count);
			margs[2] = Int64GetDatum(first_seen);
			margs[3] = Int64GetDatum(last_seen);
			margs[4] = first_at;
			margs[5] = last_at;
			margs[6] = CStringGetTextDatum(sha);
			if (SPI_execute_with_args("SELECT pg_catalog.jsonb_build_object("
									  "'format', 'candystore-archive-1', 'archive', $1,"
									  " 'count', $2, 'first_position', $3, 'last_position', $4,"
									  " 'first_recorded_at', $5, 'last_recorded_at', $6,"
									  " 'sha256', $7)::text",
									  7, mtypes, margs, mnulls, true, 1) != SPI_OK_SELECT)
				elog(ERROR, "could not build the archive manifest");
			manifest = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
			manifest = MemoryContextStrdup(outer_cxt, manifest);
		}
		write_all(mfd, manifest, strlen(manifest), mpath);
		write_all(mfd, "\n", 1, mpath);
		if (pg_fsync(mfd) != 0 || close(mfd) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not finish \"%s\": %m", mpath)));
		mfd = -1;
		SPI_finish();
	}
	PG_CATCH();
	{
		if (gz != NULL)
			gzclose(gz);
		if (mfd >= 0)
			close(mfd);
		unlink(path);
		unlink(mpath);
		PG_RE_THROW();
	}
	PG_END_TRY();

	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(manifest)));
}

static void
corrupt(const char *path, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("archive \"%s\" is corrupted or incomplete", path),
			 errdetail("%s", detail),
			 errhint("Nothing was appended.")));
}

/* The manifest, parsed. */
static Jsonb *
read_manifest(const char *path)
{
	char	   *mpath = manifest_path(path);
	int			fd = open(mpath, O_RDONLY | PG_BINARY, 0);
	StringInfoData buf;
	char		chunk[4096];
	ssize_t		n;
	Jsonb	   *jb;

	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open archive manifest \"%s\": %m", mpath)));
	initStringInfo(&buf);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
	{
		if (buf.len + n > MANIFEST_MAX_BYTES)
		{
			close(fd);
			corrupt(path, "The manifest is too large to be one.");
		}
		appendBinaryStringInfo(&buf, chunk, n);
	}
	close(fd);
	if (n < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read archive manifest \"%s\": %m", mpath)));
	jb = archive_parse_json(buf.data, buf.len);
	if (jb == NULL || !JB_ROOT_IS_OBJECT(jb))
		corrupt(path, "The manifest is not a JSON object.");
	return jb;
}

static bool
manifest_field(Jsonb *m, const char *key, JsonbValue *v)
{
	return getKeyJsonValueFromContainer(&m->root, key, strlen(key), v) != NULL;
}

/* Appends one batch through append_many(); returns how many were stored. */
static int64
append_batch(Datum *envs, Datum *keys, bool *key_nulls, int n)
{
	int			dims[1] = {n};
	int			lbs[1] = {1};
	ArrayType  *env_array = construct_array(envs, n, JSONBOID, -1, false, TYPALIGN_INT);
	ArrayType  *key_array = construct_md_array(keys, key_nulls, 1, dims, lbs,
											   TEXTOID, -1, false, TYPALIGN_INT);
	Oid			types[2] = {JSONBARRAYOID, TEXTARRAYOID};
	Datum		args[2] = {PointerGetDatum(env_array), PointerGetDatum(key_array)};
	bool		isnull;

	/* events purged with their partition: their ids must not make them duplicates */
	purge_forget_envelopes(args[0]);
	if (SPI_execute_with_args("SELECT count(*) FILTER (WHERE outcome = 'stored')"
							  " FROM candystore.append_many($1, $2)",
							  2, types, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "append_many failed");
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * restore_archive(path) -> jsonb {"count", "stored", "duplicates"}
 */
Datum
candystore_restore_archive(PG_FUNCTION_ARGS)
{
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Jsonb	   *manifest;
	JsonbValue	v;
	char	   *want_sha;
	int64		want_count;
	char	   *sha;
	int			fd;
	gzFile		gz;
	ArchiveLineReader reader;
	char		chunk[65536];
	int			n;
	Datum	   *envs;
	Datum	   *keys;
	bool	   *key_nulls;
	int			batched = 0;
	int64		count = 0;
	int64		stored = 0;
	MemoryContext batch_cxt;
	MemoryContext old;
	char	   *result;

	require_file_privilege(ROLE_PG_READ_SERVER_FILES, "read archive files on the server");
	require_absolute(path);

	manifest = read_manifest(path);
	if (!manifest_field(manifest, "sha256", &v) || v.type != jbvString)
		corrupt(path, "The manifest has no \"sha256\".");
	want_sha = pnstrdup(v.val.string.val, v.val.string.len);
	if (!manifest_field(manifest, "count", &v) || v.type != jbvNumeric)
		corrupt(path, "The manifest has no \"count\".");
	want_count = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v.val.numeric)));

	sha = file_sha256(path);
	if (strcmp(sha, want_sha) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("archive \"%s\" is corrupted or incomplete", path),
				 errdetail("Its SHA-256 is %s; its manifest says %s.", sha, want_sha),
				 errhint("Nothing was appended.")));

	fd = open(path, O_RDONLY | PG_BINARY, 0);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open archive file \"%s\": %m", path)));
	gz = gzdopen(fd, "rb");
	if (gz == NULL)
		elog(ERROR, "could not start gzip stream for \"%s\"", path);

	envs = palloc(sizeof(Datum) * ARCHIVE_BATCH);
	keys = palloc(sizeof(Datum) * ARCHIVE_BATCH);
	key_nulls = palloc(sizeof(bool) * ARCHIVE_BATCH);
	batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "restore batch",
									  ALLOCSET_DEFAULT_SIZES);
	archive_line_reader_init(&reader);

	PG_TRY();
	{
		bool		eof = false;

		SPI_connect();
		while (!eof)
		{
			char	   *line;
			int			len;

			CHECK_FOR_INTERRUPTS();
			n = gzread(gz, chunk, sizeof(chunk));
			if (n < 0)
			{
				int			zerr;
				const char *msg = gzerror(gz, &zerr);

				corrupt(path, psprintf("gzip: %s", msg));
			}
			if (n == 0)
			{
				int			zerr;

				/* zlib says Z_BUF_ERROR when the file ends inside the stream */
				gzerror(gz, &zerr);
				if (zerr == Z_BUF_ERROR)
					corrupt(path, "The gzip stream ends early: the file is truncated.");
				if (zerr != Z_OK)
					corrupt(path, "The gzip stream is damaged.");
				eof = true;
			}
			archive_line_reader_feed(&reader, chunk, n, eof);
			while (archive_line_reader_next(&reader, &line, &len))
			{
				ArchiveLine al;
				const char *why;

				old = MemoryContextSwitchTo(batch_cxt);
				why = archive_line_parse(line, len, &al);
				if (why != NULL)
					corrupt(path, psprintf("Line %lld: %s", (long long) count + 1, why));
				envs[batched] = PointerGetDatum(al.envelope);
				keys[batched] = al.routing_key ? CStringGetTextDatum(al.routing_key) : (Datum) 0;
				key_nulls[batched] = al.routing_key == NULL;
				MemoryContextSwitchTo(old);
				batched++;
				count++;
				if (batched == ARCHIVE_BATCH)
				{
					stored += append_batch(envs, keys, key_nulls, batched);
					batched = 0;
					MemoryContextReset(batch_cxt);
				}
			}
		}
		if (batched > 0)
			stored += append_batch(envs, keys, key_nulls, batched);
		if (count != want_count)
			corrupt(path, psprintf("It holds %lld lines; its manifest says %lld.",
								   (long long) count, (long long) want_count));
		SPI_finish();
	}
	PG_CATCH();
	{
		gzclose(gz);
		PG_RE_THROW();
	}
	PG_END_TRY();
	gzclose(gz);

	result = psprintf("{\"count\": " INT64_FORMAT ", \"stored\": " INT64_FORMAT
					  ", \"duplicates\": " INT64_FORMAT "}",
					  count, stored, count - stored);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(result)));
}

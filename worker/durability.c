/*
 * durability.c
 *	  The workers' commits are durable whatever the server's default: an
 *	  ingest worker acks a batch once it has committed, and a commit that a
 *	  crash can still lose (synchronous_commit off, or only local or
 *	  remote_write with a standby) would lose events the broker has already
 *	  forgotten.  The outbox publisher's marks are pinned alike, so that a
 *	  crash does not send a confirmed batch again.
 *
 *	  synchronous_commit is raised to on (the WAL flushed locally and, with
 *	  synchronous standbys, on them); remote_apply is kept.  The server's
 *	  value is read from the setting's reset value, which a configuration
 *	  reload updates while the worker's own value (source session) stays in
 *	  force: call again after every ProcessConfigFile().
 */
#include "postgres.h"

#include "utils/guc.h"

#include "status.h"
#include "worker.h"

void
worker_pin_durability(int slot)
{
	const char *server = GetConfigOptionResetString("synchronous_commit");
	const char *pinned = strcmp(server, "remote_apply") == 0 ? "remote_apply" : "on";

	SetConfigOption("synchronous_commit", pinned, PGC_SUSET, PGC_S_SESSION);
	worker_status_durability(slot, GetConfigOption("synchronous_commit", false, false));
}

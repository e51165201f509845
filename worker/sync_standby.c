/*
 * sync_standby.c
 *	  candystore.require_sync_standby: an ack must mean the batch survives
 *	  the loss of the primary.  The worker's commits wait for the
 *	  synchronous standbys (durability.c pins synchronous_commit to on or
 *	  remote_apply), but only while synchronous_standby_names names some; and
 *	  while fewer of them are connected than it asks for, a commit would hang
 *	  in the server's synchronous-replication wait, invisibly.  The ingest
 *	  worker asks here first, and holds its batch unacked while the answer
 *	  is no.
 *
 *	  The configuration is this process's (SyncRepConfig, which a reload
 *	  updates); the connected standbys are the walsenders' shared state, the
 *	  same that pg_stat_replication shows as sync or quorum.
 */
#include "postgres.h"

#include "replication/syncrep.h"

#include "sync_standby.h"

bool
sync_standby_ready(const char **why)
{
	SyncRepStandbyData *standbys = NULL;
	int			connected;

	if (SyncRepStandbyNames == NULL || SyncRepStandbyNames[0] == '\0' || SyncRepConfig == NULL)
	{
		*why = "synchronous_standby_names is empty";
		return false;
	}
	connected = SyncRepGetCandidateStandbys(&standbys);
	if (standbys != NULL)
		pfree(standbys);
	if (connected < SyncRepConfig->num_sync)
	{
		*why = "no synchronous standby";
		return false;
	}
	return true;
}

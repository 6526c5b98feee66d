#ifndef IMPORT_RUN_PRIVATE_H
#define IMPORT_RUN_PRIVATE_H

/* Shared by the run's two files: import-run.c (the passes over the
   folders, the result) and import-run-plan.c (what the source has: its
   folders, the plan, the counts) */

#include "hash.h"
#include "folder-plan.h"
#include "import-run-context.h"

struct import_connections;

/* The run: its shared context, and what only the run itself needs */
struct import_run {
	struct import_run_ctx ctx;
	struct mail_namespace *ns;
	ARRAY_TYPE(remote_folder) remote_folders;
	/* a remote folder's index + 1 by its name ("INBOX" in upper case) */
	HASH_TABLE(const char *, void *) remote_index;
	ARRAY_TYPE(folder_plan_entry) plan;
	/* the plan's entries in the order they are imported */
	ARRAY_TYPE(uint32_t) order;
	/* --connections: the folders opened ahead on connections of their
	   own; K of them */
	struct import_connections *conns;
	unsigned int connections;
	/* the pass's folder (its position in the order) and where the look
	   for folders to open ahead stopped; the folder runs (connections
	   opened meanwhile take the next ones); folders are being opened
	   ahead (not again from within) */
	unsigned int pass_pos, ahead_pos;
	bool folder_running, opening_ahead;
};

/* What the source has: its folders, the plan, the counts. Can be done
   again after a reconnect. Returns 0, or -1 when the session failed. */
int import_run_prepare(struct import_run *run);

#endif

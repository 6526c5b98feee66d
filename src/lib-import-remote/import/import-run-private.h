#ifndef IMPORT_RUN_PRIVATE_H
#define IMPORT_RUN_PRIVATE_H

#include "iostream-ssl.h"
#include "folder-plan.h"
#include "import-run.h"

struct imap_source;
struct dedup_index;
struct import_checkpoint;

/* State of one import, shared by import-run.c (the run) and
   folder-import.c (one folder). */
struct import_run_ctx {
	pool_t pool;
	struct mail_user *user;
	const struct import_remote_settings *set;
	struct import_run_result *result;
	import_run_progress_callback_t *progress_callback;
	import_run_commit_callback_t *commit_callback;
	void *context;

	const struct ssl_iostream_settings *ssl_set;
	struct imap_source *src;
	struct mail_namespace *ns;
	ARRAY_TYPE(remote_folder) remote_folders;
	ARRAY_TYPE(folder_plan_entry) plan;

	/* --dedup account: one index over every local mailbox */
	struct dedup_index *account_index;
	/* NULL when the user has no home (or --newest-first) */
	struct import_checkpoint *checkpoint;

	/* quota pre-flight: what the user may still fill */
	uint64_t quota_remaining;
	bool quota_limited, quota_warned;

	/* received-date window of the current pass (0 = open) */
	time_t since, before;

	struct timeval start_time;
	struct import_progress *progress;
};

/* Report progress. Returns FALSE if the import was cancelled (the source
   session's error is then set). */
bool import_run_progress(struct import_run_ctx *ctx, bool final);
/* Warn (once) when what is selected so far exceeds the remaining quota */
void import_run_check_quota(struct import_run_ctx *ctx);
void import_run_warning(struct import_run_ctx *ctx, const char *text);

/* Copy one folder of the plan (within ctx->since/before). Returns 0, or -1
   with the error set in the source session. */
int folder_import(struct import_run_ctx *run,
		  const struct folder_plan_entry *entry,
		  struct import_run_folder *result);

#endif

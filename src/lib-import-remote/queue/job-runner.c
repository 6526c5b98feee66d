/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "ioloop.h"
#include "time-util.h"
#include "safe-memset.h"
#include "str-sanitize.h"
#include "mail-user.h"
#include "import-remote-compat.h"
#include "import-remote-config.h"
#include "import-remote-error.h"
#include "import-remote-event.h"
#include "import-remote-settings.h"
#include "import-run.h"
#include "job-store.h"
#include "job-secret.h"
#include "job-leases.h"
#include "trigger-job.h"
#include "batch-store.h"
#include "batch-notify.h"
#include "failed-message-store.h"
#include "job-runner.h"
#include "oauth2-app-token-store.h"

struct job_runner_ctx {
	struct mail_user *user;
	/* the job's event (import-remote-event.h), a child of the user's */
	struct event *event;
	struct job_store *store;
	struct job *job;
	/* the key file's key, and the run's settings: a rotated OAuth2
	   refresh token is stored again, encrypted */
	const unsigned char *key;
	struct import_remote_settings *import_set;
	pool_t pool;
	unsigned int last_update_msecs;
	/* the user's settings (the worker's if the user's are invalid): a
	   batch's shared quota root, the share of it that pauses the batch,
	   how its events are told */
	const struct import_remote_config *set, *user_set;
	/* import_remote_shared_quota_root, NULL if unset */
	const char *shared_quota_root;
	/* the user has no such quota root: said once */
	bool shared_quota_root_missing;
	/* the worker's -t */
	unsigned int takeover_secs;

	/* the heartbeat: it writes the run's progress (NULL before the run
	   reports any) */
	struct timeout *to_heartbeat;
	/* the runner's ioloop, where the store's connection lives */
	struct ioloop *ioloop;
	const struct import_progress *progress;
	/* what this run has committed: the job's imported messages and
	   bytes are those (saved but uncommitted mail may yet be rolled
	   back, and a worker taking the job over counts on from them) */
	unsigned int committed_msgs;
	uoff_t committed_bytes;
	/* in the runner's own use of the store or the user's storage: a
	   heartbeat firing meanwhile (in a nested ioloop) waits */
	bool busy;
	/* a store call from inside the run holds the heartbeat
	   (job_runner_store_guard()), from this ioloop */
	bool guard_entered;
	struct ioloop *guard_prev_ioloop;
	/* a commit was refused because the store could not be written: the
	   run ended "cancelled", but that is a failure to retry */
	bool commit_store_failed;

	/* cancelled: the job ends Cancelled; paused: its batch paused, it
	   goes back to the queue; claim_lost: another worker took it over,
	   nothing more may be written */
	bool cancelled, paused, claim_lost, store_failed;
	/* the automatic import (mail plugin) this job is, if any */
	struct trigger_job *trigger;
	/* what this run of the job did (zero if it did not run) */
	struct import_progress run_progress;
};

/* The writes that matter (before a commit, the result): a store that is
   busy (SQLite lets a writer wait a second, and with a write-ahead log
   refuses at once a write based on an outdated read) is tried again */
#define JOB_RUNNER_WRITE_ATTEMPTS 3

/* The ioloop switch callback has no context: the job this process runs */
static struct job_runner_ctx *job_runner_current = NULL;

/* The 2nd to 5th retries wait this many times the first's delay */
static const unsigned int job_runner_retry_factors[] = { 1, 5, 15, 60, 240 };

unsigned int job_runner_retry_delay(unsigned int retry_delay_secs,
				    unsigned int retry)
{
	unsigned int factor;

	i_assert(retry > 0);
	factor = job_runner_retry_factors[I_MIN(retry,
		N_ELEMENTS(job_runner_retry_factors)) - 1];
	/* a delay too long to count is as good as never */
	if (retry_delay_secs > UINT_MAX / factor)
		return UINT_MAX;
	return retry_delay_secs * factor;
}

/* The run's progress as the job's: a run that continues an earlier one
   (after a pause, or its worker's death) finds what that one imported
   already there, so it counts it as skipped: it is counted as imported. */
static void job_runner_copy_progress(struct job *job,
				     const struct import_progress *progress)
{
	unsigned long long base = job->run_base_imported;

	job->folders_done = progress->folders_done;
	job->folders_total = progress->folders_total;
	/* written with the rest of the progress, in the same update */
	job->folder = progress->folder;
	job->msgs_done = progress->msgs_done;
	job->msgs_total = progress->msgs_total;
	job->bytes_done = job->run_base_bytes + progress->bytes_done;
	job->bytes_total = job->run_base_bytes + progress->bytes_total;
	job->imported = base + progress->imported;
	job->skipped = progress->skipped_duplicates > base ?
		progress->skipped_duplicates - base : 0;
	job->filtered = progress->filtered_by_date;
	job->failed = progress->failed;
}

const char *job_runner_current_folder(const struct job *job)
{
	/* a live job's only: a queued or ended one copies nothing */
	if (job->folder == NULL || job->folder[0] == '\0' ||
	    (job->status != JOB_STATUS_RUNNING &&
	     job->status != JOB_STATUS_PREPARING))
		return NULL;
	return job->folder;
}

void job_runner_get_progress(const struct job *job, time_t now,
			     struct import_progress *progress_r)
{
	time_t end = job->finished != 0 ? job->finished : now;

	/* queued (again: a retry, a paused batch): not running now */
	if (job->status == JOB_STATUS_QUEUED)
		end = job->started;
	i_zero(progress_r);
	progress_r->folders_done = job->folders_done;
	progress_r->folders_total = job->folders_total;
	progress_r->folder = job_runner_current_folder(job);
	progress_r->msgs_done = job->msgs_done;
	progress_r->msgs_total = job->msgs_total;
	/* the rate and ETA are this run's (it started at job->started) */
	progress_r->bytes_done = job->bytes_done -
		I_MIN(job->bytes_done, job->run_base_bytes);
	progress_r->bytes_total = job->bytes_total -
		I_MIN(job->bytes_total, job->run_base_bytes);
	if (job->started != 0 && end > job->started)
		progress_r->elapsed_msecs = (end - job->started) * 1000;
}

static const char *job_runner_retries(unsigned int count)
{
	return t_strdup_printf("%u %s", count, count == 1 ? "retry" : "retries");
}

const char *job_runner_status_text(const struct job *job, time_t now)
{
	const char *status = job_status_name(job->status);
	enum import_remote_error_code code;
	const char *when, *after = "";

	if (job->retry_count == 0)
		return status;
	switch (job->status) {
	case JOB_STATUS_QUEUED:
		code = import_remote_error_from_name(job->error_code);
		if (code != IMPORT_REMOTE_ERROR_COUNT &&
		    code != IMPORT_REMOTE_ERROR_NONE) {
			after = t_strdup_printf(" after: %s",
				import_remote_error_get_title_detail(code,
							job->error_detail));
		}
		/* the day only when it is not today */
		when = strcmp(t_strflocaltime("%Y-%m-%d", job->retry_at),
			      t_strflocaltime("%Y-%m-%d", now)) == 0 ?
			t_strflocaltime("%H:%M", job->retry_at) :
			t_strflocaltime("%Y-%m-%d %H:%M", job->retry_at);
		return t_strdup_printf("queued \xE2\x80\x94 retry %u of %u at %s%s",
				       job->retry_count, job->retry_limit,
				       when, after);
	case JOB_STATUS_PREPARING:
	case JOB_STATUS_RUNNING:
		return t_strdup_printf("%s \xE2\x80\x94 retry %u of %u", status,
				       job->retry_count, job->retry_limit);
	case JOB_STATUS_COMPLETED:
	case JOB_STATUS_FAILED:
	case JOB_STATUS_CANCELLED:
		return t_strdup_printf("%s after %s", status,
				       job_runner_retries(job->retry_count));
	case JOB_STATUS_COUNT:
		break;
	}
	i_unreached();
}

static int job_runner_read_settings(struct job_runner_ctx *ctx,
				    const char **error_r)
{
	int ret;

	ret = import_remote_config_get_user(ctx->user, &ctx->user_set,
					    error_r);
	if (ret == 0)
		ctx->set = ctx->user_set;
	ctx->shared_quota_root = import_remote_config_str(
		ctx->set->import_remote_shared_quota_root);
	return ret;
}

/* The user's own quota usage, for a batch's --storage-limit (the sum over
   its users). Without a quota (plugin) to ask, what the job imported is
   the best there is. */
static void job_runner_read_quota(struct job_runner_ctx *ctx)
{
	uint64_t used, limit;
	const char *error;
	int ret;

	if (ctx->job->batch_id == 0)
		return;
	ret = import_remote_compat_quota_root_usage(ctx->user, NULL,
		ctx->shared_quota_root, &used, &limit, &error);
	if (ret < 0) {
		e_error(ctx->event, "Job %llu: "
			"reading the quota failed: %s", ctx->job->id, error);
		return;
	}
	ctx->job->quota_used = ret > 0 ? used : ctx->job->bytes_done;
}

/* used >= percent% of limit (a limit of 0 is none), without overflowing
   limit * percent */
static bool job_runner_over(uint64_t used, uint64_t limit,
			    unsigned int percent)
{
	return limit > 0 && used >= limit / 100 * percent +
		limit % 100 * percent / 100;
}

/* A save was refused for quota: was it the shared root? It has less room
   left than the user's own quota (which may have no limit). What the
   refused batch saved was rolled back, so the shared root's usage alone
   may still be under pause_percent. */
static bool job_runner_shared_refused(struct job_runner_ctx *ctx,
				      uint64_t shared_used,
				      uint64_t shared_limit)
{
	uint64_t used, limit, shared_left;
	const char *error;

	if (shared_limit == 0)
		return FALSE;
	shared_left = shared_used >= shared_limit ? 0 :
		shared_limit - shared_used;
	if (import_remote_compat_quota_root_usage(ctx->user, NULL,
			ctx->shared_quota_root, &used, &limit, &error) <= 0 ||
	    limit == 0)
		return TRUE;
	return shared_left <= (used >= limit ? 0 : limit - used);
}

/* Has the storage the batch's users share reached pause_percent (or, with
   save_refused, refused a save)? */
static bool job_runner_storage_full(struct job_runner_ctx *ctx,
				    const struct batch *batch,
				    bool save_refused, const char **why_r)
{
	uint64_t used, limit;
	const char *error;
	int ret;

	if (ctx->shared_quota_root != NULL) {
		ret = import_remote_compat_quota_root_usage(ctx->user,
			ctx->shared_quota_root, NULL, &used, &limit, &error);
		if (ret < 0) {
			e_error(ctx->event, "Job %llu: "
				"reading the shared quota failed: %s",
				ctx->job->id, error);
		} else if (ret == 0 && !ctx->shared_quota_root_missing) {
			/* e.g. a 2.3 per-domain dict root on Dovecot 2.4 */
			ctx->shared_quota_root_missing = TRUE;
			e_warning(ctx->event, "Job %llu: "
				  "import_remote_shared_quota_root: No quota "
				  "root named '%s' (only --storage-limit "
				  "pauses this batch)", ctx->job->id,
				  ctx->shared_quota_root);
		} else if (ret > 0 &&
			   (job_runner_over(used, limit, ctx->set->import_remote_pause_percent) ||
			    (save_refused &&
			     job_runner_shared_refused(ctx, used, limit)))) {
			*why_r = t_strdup_printf("quota root %s: %"PRIu64
				" of %"PRIu64" bytes used",
				ctx->shared_quota_root, used, limit);
			return TRUE;
		}
	}
	if (job_runner_over(batch->quota_used, batch->storage_limit,
			    ctx->set->import_remote_pause_percent)) {
		*why_r = t_strdup_printf("the batch's users use %llu of its "
			"--storage-limit %llu bytes", batch->quota_used,
			batch->storage_limit);
		return TRUE;
	}
	return FALSE;
}

/* A batch job stops when its batch is paused or cancelled, and pauses the
   batch when the storage its users share is (nearly) full, or refused a
   save (save_refused: the job failed for quota). */
static void job_runner_check_batch(struct job_runner_ctx *ctx,
				   bool save_refused)
{
	struct batch batch;
	const char *why, *error;
	int ret;

	if (ctx->job->batch_id == 0)
		return;
	ret = batch_store_get(ctx->store, ctx->pool, ctx->job->batch_id,
			      &batch, &error);
	if (ret <= 0) {
		e_error(ctx->event, "Job %llu: "
			"reading batch %llu failed: %s", ctx->job->id,
			ctx->job->batch_id, ret == 0 ? "No such batch" : error);
		return;
	}
	switch (batch.state) {
	case BATCH_STATE_PAUSED:
		ctx->paused = TRUE;
		return;
	case BATCH_STATE_CANCELLED:
		ctx->cancelled = TRUE;
		return;
	case BATCH_STATE_ACTIVE:
	case BATCH_STATE_COUNT:
		break;
	}
	if (!job_runner_storage_full(ctx, &batch, save_refused, &why))
		return;
	ctx->paused = TRUE;
	ret = batch_store_pause(ctx->store, batch.id,
				BATCH_PAUSE_REASON_STORAGE, &error);
	if (ret < 0) {
		e_error(ctx->event, "Batch %llu: "
			"pausing failed: %s", batch.id, error);
	} else if (ret > 0) {
		/* this worker paused it: it tells */
		e_warning(event_create_passthrough(ctx->event)->
			  set_name("import_remote_batch_paused")->
			  add_int("batch_id", batch.id)->
			  add_str("reason", "storage")->event(),
			  "Batch %llu paused "
			  "at %u%% of its storage: %s", batch.id,
			  ctx->set->import_remote_pause_percent, why);
		(void)batch_notify(ctx->event, ctx->store, batch.id,
				   BATCH_EVENT_PAUSED_FOR_STORAGE,
				   ctx->set);
	}
}

/* --- one owner per job: the heartbeat and the fence --- */

/* Write the job (with the run's progress so far): the heartbeat. Fenced by
   the claim: returns 1 if the job is still ours, 0 if another worker has
   taken it over (claim_lost is set), -1 if the store failed. */
static int job_runner_write(struct job_runner_ctx *ctx)
{
	const char *error;
	int ret;

	i_assert(!ctx->claim_lost);
	/* the time the store gets as "updated": the takeover counts from
	   it */
	io_loop_time_refresh();
	if (ctx->progress != NULL) {
		job_runner_copy_progress(ctx->job, ctx->progress);
		ctx->job->imported = ctx->job->run_base_imported +
			ctx->committed_msgs;
		ctx->job->bytes_done = ctx->job->run_base_bytes +
			ctx->committed_bytes;
	}
	ret = job_store_update(ctx->store, ctx->job, &error);
	if (ret < 0) {
		e_error(ctx->event, "Job %llu: "
			"updating the job store failed: %s", ctx->job->id, error);
		ctx->store_failed = TRUE;
	} else if (ret > 0 && ctx->progress != NULL) {
		trigger_job_progress(ctx->trigger, ctx->job);
	} else if (ret == 0) {
		e_warning(ctx->event, "Job %llu: another "
			  "worker has taken the job over: stopping without "
			  "committing more", ctx->job->id);
		ctx->claim_lost = TRUE;
	}
	return ret;
}

/* The store is used from the runner's own ioloop even when the import
   waits in one of its own: lib-sql's PostgreSQL driver moves its
   connection's I/O into whichever ioloop is current when a query ends, and
   the import's ioloop is destroyed when its wait ends (the connection's
   I/O with it). */
static struct ioloop *job_runner_store_enter(struct job_runner_ctx *ctx)
{
	struct ioloop *prev_ioloop = current_ioloop;

	i_assert(ctx->busy);
	if (ctx->ioloop != NULL && prev_ioloop != ctx->ioloop)
		io_loop_set_current(ctx->ioloop);
	return prev_ioloop;
}

static void job_runner_store_leave(struct ioloop *prev_ioloop)
{
	if (current_ioloop != prev_ioloop)
		io_loop_set_current(prev_ioloop);
}

static int job_runner_write_retry(struct job_runner_ctx *ctx)
{
	unsigned int i;
	int ret = -1;

	for (i = 0; i < JOB_RUNNER_WRITE_ATTEMPTS && ret < 0; i++)
		ret = job_runner_write(ctx);
	return ret;
}

/* The commits, from the import's save path: only while the job is ours.
   A fenced write just before each one confirms it, whatever this process
   went through since the last heartbeat (blocked, stopped) and whatever
   takeover time the other workers use: a worker that claimed the job
   meanwhile has made the write fail. What remains is the commit itself,
   which must take less than the takeover time (nobody can claim the job
   sooner after the write). */
static bool job_runner_may_commit(unsigned int msgs, uoff_t bytes,
				  void *context)
{
	struct job_runner_ctx *ctx = context;
	struct ioloop *prev_ioloop;
	int ret;

	if (ctx->claim_lost)
		return FALSE;
	i_assert(!ctx->busy);
	ctx->busy = TRUE;
	prev_ioloop = job_runner_store_enter(ctx);
	ret = job_runner_write_retry(ctx);
	job_runner_store_leave(prev_ioloop);
	ctx->busy = FALSE;
	if (ret < 0)
		ctx->commit_store_failed = TRUE;
	if (ret <= 0)
		return FALSE;
	/* counted from the next write on: should this process die in the
	   middle of the commit, the next owner counts the mail as skipped
	   rather than twice */
	ctx->committed_msgs += msgs;
	ctx->committed_bytes += bytes;
	return TRUE;
}

static void job_runner_heartbeat(struct job_runner_ctx *ctx)
{
	struct job current;
	const char *error;

	/* the runner's own store use runs a nested ioloop (pgsql): not in
	   the middle of that */
	struct ioloop *prev_ioloop;

	if (ctx->busy || ctx->claim_lost)
		return;
	/* fired inside lib-sql's wait for another store call (this timer
	   follows the current ioloop into it): using the store now would
	   nest a second wait in that one, and the first would never end.
	   The beat is skipped; the next one comes in an interval */
	if (job_store_waiting())
		return;
	ctx->busy = TRUE;
	prev_ioloop = job_runner_store_enter(ctx);
	if (job_runner_write(ctx) > 0 &&
	    job_store_get(ctx->store, pool_datastack_create(), ctx->job->id,
			  &current, &error) > 0 && current.cancel_requested)
		ctx->cancelled = TRUE;
	job_runner_store_leave(prev_ioloop);
	ctx->busy = FALSE;
}

/* The heartbeat timer follows whichever ioloop is current: the import
   runs ioloops of its own while it waits for the source (and lib-sql while
   it waits for PostgreSQL), and a timer in any other one would not fire
   then. While the runner uses the store itself it stays put: the nested
   loop it would move into ends within the call. */
static void job_runner_ioloop_switched(struct ioloop *prev_ioloop ATTR_UNUSED)
{
	struct job_runner_ctx *ctx = job_runner_current;

	if (ctx != NULL && ctx->to_heartbeat != NULL && !ctx->busy)
		ctx->to_heartbeat = io_loop_move_timeout(&ctx->to_heartbeat);
}

static void job_runner_heartbeat_start(struct job_runner_ctx *ctx)
{
	/* a few beats within the takeover time, whatever it is */
	unsigned int msecs = I_MIN(JOB_RUNNER_UPDATE_INTERVAL_MSECS,
				   ctx->takeover_secs * 1000 / 4);

	i_assert(job_runner_current == NULL);
	job_runner_current = ctx;
	ctx->ioloop = current_ioloop;
	ctx->to_heartbeat = timeout_add(I_MAX(msecs, 250),
					job_runner_heartbeat, ctx);
	io_loop_add_switch_callback(job_runner_ioloop_switched);
}

static void job_runner_heartbeat_stop(struct job_runner_ctx *ctx)
{
	if (job_runner_current != ctx)
		return;
	io_loop_remove_switch_callback(job_runner_ioloop_switched);
	timeout_remove(&ctx->to_heartbeat);
	job_runner_current = NULL;
}

/* --- the run --- */

static bool job_runner_progress(const struct import_progress *progress,
				bool final, void *context)
{
	struct job_runner_ctx *ctx = context;
	struct ioloop *prev_ioloop;

	/* what the heartbeat writes */
	ctx->progress = progress;
	if (!final && !ctx->claim_lost && progress->elapsed_msecs >=
	    ctx->last_update_msecs + JOB_RUNNER_UPDATE_INTERVAL_MSECS) {
		/* a safe point in the import: the user's storage may be
		   looked at here */
		ctx->last_update_msecs = progress->elapsed_msecs;
		ctx->busy = TRUE;
		prev_ioloop = job_runner_store_enter(ctx);
		p_clear(ctx->pool);
		job_runner_read_quota(ctx);
		job_runner_check_batch(ctx, FALSE);
		job_runner_store_leave(prev_ioloop);
		ctx->busy = FALSE;
	}
	return !ctx->cancelled && !ctx->paused && !ctx->claim_lost;
}

/* The job goes back to the queue: no worker, no end */
static void job_runner_requeue(struct job *job)
{
	job->status = JOB_STATUS_QUEUED;
	job->finished = 0;
	job->worker = "";
}

/* A transient error: queue the job again for a later retry, if it has
   retries left. Returns TRUE if it did. */
static bool job_runner_schedule_retry(struct job_runner_ctx *ctx,
				      const struct import_remote_error *error)
{
	struct job *job = ctx->job;
	unsigned int delay;

	if (!import_remote_error_get_info(error->code)->transient ||
	    ctx->cancelled ||
	    job->retry_count >= ctx->set->import_remote_job_retries)
		return FALSE;
	job->retry_count++;
	job->retry_limit = ctx->set->import_remote_job_retries;
	delay = job_runner_retry_delay(ctx->set->import_remote_job_retry_delay,
				       job->retry_count);
	io_loop_time_refresh();
	job->retry_at = ioloop_time + I_MIN(delay, (time_t)INT_MAX);
	job_runner_requeue(job);
	/* the cause stays, to say why it waits */
	job->error_code = import_remote_error_get_info(error->code)->name;
	job->error_detail = error->detail == NULL ? "" : error->detail;
	return TRUE;
}

/* The named event of the run's end: status is the job's (completed,
   failed, cancelled, queued), "retry" or "taken_over" */
static struct event_passthrough *
job_runner_finished_event(struct job_runner_ctx *ctx, const char *status,
			  const struct import_remote_error *error)
{
	const struct import_progress *progress = &ctx->run_progress;

	return event_create_passthrough(ctx->event)->
		set_name("import_remote_job_finished")->
		add_str("status", status)->
		add_str("error_code",
			import_remote_error_get_info(error->code)->name)->
		add_int("messages", progress->imported)->
		add_int("bytes", progress->bytes_imported)->
		add_int("skipped", progress->skipped_duplicates)->
		add_int("failed", progress->failed)->
		add_int("reconnects", progress->reconnects);
}

static void job_runner_finish(struct job_runner_ctx *ctx,
			      const struct import_remote_error *error)
{
	struct import_remote_error store_error;
	struct job *job = ctx->job;
	bool retry = FALSE;

	job_runner_heartbeat_stop(ctx);
	if (ctx->claim_lost) {
		/* its new owner goes on from what is committed */
		e_info(job_runner_finished_event(ctx, "taken_over", error)->
		       event(), "Job %llu: left to "
		       "the worker that took it over", job->id);
		return;
	}
	if (ctx->commit_store_failed &&
	    error->code == IMPORT_REMOTE_ERROR_CANCELLED &&
	    !ctx->cancelled && !ctx->paused) {
		/* nobody cancelled it: the store failed it (and the saved
		   mail was rolled back) */
		i_zero(&store_error);
		import_remote_error_set(&store_error,
			IMPORT_REMOTE_ERROR_DEST_ERROR, "The job store could not "
			"be written before a commit: the saved mail was not "
			"committed");
		error = &store_error;
	}
	io_loop_time_refresh();
	job->finished = ioloop_time;
	job_runner_read_quota(ctx);
	if (error->code == IMPORT_REMOTE_ERROR_QUOTA_EXCEEDED && !ctx->paused) {
		/* the shared storage (not the user's own quota) filling up
		   pauses the batch instead of failing the job */
		job_runner_check_batch(ctx, TRUE);
	}
	if (ctx->paused && (error->code == IMPORT_REMOTE_ERROR_CANCELLED ||
			    error->code == IMPORT_REMOTE_ERROR_QUOTA_EXCEEDED)) {
		/* its batch paused: back to the queue, to resume from what
		   it committed */
		job_runner_requeue(job);
		job->error_code = "";
		job->error_detail = "";
	} else if (error->code == IMPORT_REMOTE_ERROR_INTERRUPTED) {
		/* the worker is stopping (SIGTERM): back to the queue, for
		   the next worker to go on from what it committed */
		job_runner_requeue(job);
		job->error_code = "";
		job->error_detail = "";
	} else if (error->code == IMPORT_REMOTE_ERROR_NONE) {
		job->status = JOB_STATUS_COMPLETED;
		job->error_code = "";
		job->error_detail = "";
	} else if (job_runner_schedule_retry(ctx, error)) {
		/* not an end: its batch counts it as in progress */
		retry = TRUE;
	} else {
		job->status = error->code == IMPORT_REMOTE_ERROR_CANCELLED ?
			JOB_STATUS_CANCELLED : JOB_STATUS_FAILED;
		job->error_code = import_remote_error_get_info(error->code)->name;
		job->error_detail = error->detail == NULL ? "" : error->detail;
	}
	ctx->progress = NULL;
	if (job_runner_write_retry(ctx) <= 0) {
		/* not stored, or not ours any more: no result to tell */
		return;
	}
	if (job->status != JOB_STATUS_QUEUED || retry) {
		trigger_job_end(&ctx->trigger, ctx->store, ctx->set, job,
				retry);
	}
	if (retry) {
		e_info(job_runner_finished_event(ctx, "retry", error)->
		       add_int("retry_count", job->retry_count)->event(),
		       "Job %llu: %s: "
		       "retry %u of %u at %s", job->id, job->error_code,
		       job->retry_count, job->retry_limit,
		       t_strflocaltime("%Y-%m-%d %H:%M:%S", job->retry_at));
		return;
	}
	e_info(job_runner_finished_event(ctx, job_status_name(job->status),
					 error)->event(),
	       "Job %llu: %s%s%s: %u imported (%"PRIuUOFF_T" bytes), "
	       "%u skipped, %u failed", job->id,
	       job_status_name(job->status),
	       job->error_code[0] == '\0' ? "" : ": ", job->error_code,
	       ctx->run_progress.imported, ctx->run_progress.bytes_imported,
	       ctx->run_progress.skipped_duplicates,
	       ctx->run_progress.failed);
	if (job_status_is_final(job->status) && job->batch_id != 0) {
		batch_notify_job_ended(ctx->event, ctx->store,
				       job->batch_id, ctx->set);
	}
}

/* Around a store call from inside the run (the import's own ioloops: a
   rotated refresh token, connections given back, the shared OAuth2 app
   token): the store is used from the runner's ioloop, with the heartbeat
   held (on PostgreSQL lib-sql runs an ioloop of its own meanwhile), as
   job_runner_store_failed() does; not again inside the runner's own use */
static void job_runner_store_guard(bool enter, void *context)
{
	struct job_runner_ctx *ctx = context;

	if (enter) {
		ctx->guard_entered = !ctx->busy;
		if (ctx->guard_entered) {
			ctx->busy = TRUE;
			ctx->guard_prev_ioloop = job_runner_store_enter(ctx);
		}
	} else if (ctx->guard_entered) {
		job_runner_store_leave(ctx->guard_prev_ioloop);
		ctx->busy = FALSE;
		ctx->guard_entered = FALSE;
	}
}

/* The token endpoint rotated the job's refresh token: the old one is
   spent, so the job keeps the new one (encrypted, bound to the job as
   before) for its next run or a retry. */
static void job_runner_oauth2_rotated(const char *refresh_token, void *context)
{
	struct job_runner_ctx *ctx = context;
	const char *secret, *ciphertext, *error;
	int ret;

	ctx->import_set->oauth2_refresh_token =
		p_strdup(ctx->pool, refresh_token);
	secret = import_remote_settings_export_secret(ctx->import_set);
	ciphertext = job_secret_encrypt(ctx->key, ctx->job, secret);
	safe_memset((char *)secret, 0, strlen(secret));
	job_runner_store_guard(TRUE, ctx);
	ret = job_store_update_secret(ctx->store, ctx->job, ciphertext,
				      &error);
	job_runner_store_guard(FALSE, ctx);
	if (ret < 0) {
		e_error(ctx->event, "Job %llu: storing "
			"its rotated OAuth2 refresh token failed: %s",
			ctx->job->id, error);
	} else if (ret == 0) {
		ctx->claim_lost = TRUE;
	} else {
		e_debug(ctx->event, "Job %llu: stored "
			"its rotated OAuth2 refresh token", ctx->job->id);
	}
}

/* The source refused a connection: the run goes on with n, the job
   gives back the leases beyond them */
static void job_runner_connections_refused(unsigned int n, void *context)
{
	struct job_runner_ctx *ctx = context;

	job_runner_store_guard(TRUE, ctx);
	job_leases_give_back(ctx->store, ctx->job, n, ctx->event,
			     &ctx->claim_lost);
	job_runner_store_guard(FALSE, ctx);
}

/* for status and report: what this run skipped. The runner's own use of
   the store: no heartbeat in the middle of it */
static void job_runner_store_failed(struct job_runner_ctx *ctx,
				    const struct import_run_result *result)
{
	struct ioloop *prev_ioloop;
	const char *error;

	i_assert(!ctx->busy);
	ctx->busy = TRUE;
	prev_ioloop = job_runner_store_enter(ctx);
	if (failed_message_store_replace(ctx->store, ctx->job->id,
					 &result->failed_messages,
					 &error) < 0) {
		e_error(ctx->event, "Job %llu: "
			"storing its failed messages failed: %s",
			ctx->job->id, error);
	}
	job_runner_store_leave(prev_ioloop);
	ctx->busy = FALSE;
}

int job_runner_run(struct mail_user *user, struct job_store *store,
		   struct job *job,
		   const unsigned char key[SECRET_BOX_KEY_LEN],
		   const struct import_remote_config *global_set,
		   unsigned int takeover_secs)
{
	struct job_runner_ctx ctx;
	struct import_remote_settings set;
	struct import_run_result result;
	struct import_remote_error error;
	const char *errstr, *password;
	pool_t pool;

	i_zero(&ctx);
	ctx.user = user;
	ctx.event = import_remote_event_create(user->event);
	event_add_str(ctx.event, "user", job->username);
	event_add_int(ctx.event, "job_id", job->id);
	if (job->batch_id != 0)
		event_add_int(ctx.event, "batch_id", job->batch_id);
	event_add_str(ctx.event, "source_host", job->source_host);
	event_add_int(ctx.event, "source_port", job->source_port);
	event_add_str(ctx.event, "source_user", job->source_user);
	ctx.store = store;
	ctx.job = job;
	ctx.set = global_set;
	ctx.takeover_secs = takeover_secs;
	ctx.pool = pool_alloconly_create("import job", 1024);
	pool = pool_alloconly_create("import job run", 4096);
	job_runner_heartbeat_start(&ctx);

	/* what the store says, sanitized: a line break in a row must not
	   forge a log line */
	e_info(event_create_passthrough(ctx.event)->
	       set_name("import_remote_job_started")->
	       add_int("attempt", job->retry_count + 1)->event(),
	       "Job %llu: importing %s@%s into %s",
	       job->id, str_sanitize(job->source_user, 255),
	       str_sanitize(job->source_host, 255),
	       str_sanitize(job->username, 255));

	i_zero(&error);
	import_remote_settings_init(pool, &set);
	set.event_parent = ctx.event;
	set.host = job->source_host;
	set.port = job->source_port;
	set.username = job->source_user;
	if (job_runner_read_settings(&ctx, &errstr) < 0) {
		import_remote_error_set(&error, IMPORT_REMOTE_ERROR_INTERNAL,
			t_strdup_printf("Invalid settings: %s", errstr));
	} else if (import_remote_has_control_chars(job->source_user) ||
		   import_remote_has_control_chars(job->source_host)) {
		/* only a store writer puts them there: every command and
		   the mail plugin refuse them */
		import_remote_error_set(&error, IMPORT_REMOTE_ERROR_INTERNAL,
			"Invalid job: its source user or host contains a "
			"control character or line break (changed in the "
			"store?)");
	} else if (import_remote_ssl_parse(job->source_ssl, &set.ssl) < 0 ||
	    import_remote_settings_import(pool, job->options, &set,
					  &errstr) < 0) {
		import_remote_error_set(&error, IMPORT_REMOTE_ERROR_INTERNAL,
			t_strdup_printf("Invalid job options: %s",
					job->options));
	} else if (job_secret_decrypt(key, job, pool, &password,
				      &errstr) < 0) {
		import_remote_error_set(&error,
			IMPORT_REMOTE_ERROR_PASSWORD_UNUSABLE,
			t_strdup_printf("The source password can't be read: %s",
					errstr));
	} else if (import_remote_settings_import_secret(pool, password, &set,
							&errstr) < 0) {
		import_remote_error_set(&error,
			IMPORT_REMOTE_ERROR_PASSWORD_UNUSABLE,
			t_strdup_printf("The source secret can't be used: %s",
					errstr));
		safe_memset((char *)password, 0, strlen(password));
	} else {
		ctx.key = key;
		set.oauth2_rotated_callback = job_runner_oauth2_rotated;
		set.oauth2_rotated_context = &ctx;
		/* as many connections as it asks for, within its leases (the
		   heartbeat held: it would follow lib-sql's ioloop) */
		ctx.busy = TRUE;
		set.connections = job_leases_connections(store, job,
			set.connections != 0 ? set.connections :
			I_MAX(job->connections,
			      ctx.set->import_remote_connections),
			takeover_secs, ctx.event, &ctx.claim_lost);
		ctx.busy = FALSE;
		set.connections_callback = job_runner_connections_refused;
		set.connections_context = &ctx;
		ctx.import_set = &set;
		/* what an earlier run of this job imported stays counted */
		job->run_base_imported = job->imported;
		job->run_base_bytes = job->bytes_done;
		job->status = JOB_STATUS_RUNNING;
		job_runner_read_quota(&ctx);
		ctx.busy = TRUE;
		ctx.trigger = trigger_job_begin(store, user, job);
		(void)job_runner_write(&ctx);
		/* a paused batch's (or a full storage's) job doesn't start */
		if (!ctx.claim_lost)
			job_runner_check_batch(&ctx, FALSE);
		ctx.busy = FALSE;
		if (ctx.paused || ctx.cancelled || ctx.claim_lost) {
			import_remote_error_set(&error,
				IMPORT_REMOTE_ERROR_CANCELLED, NULL);
		} else {
			/* the app's token (client credentials) shared with
			   the store's other workers */
			oauth2_app_token_store_use(store, key,
				job_runner_store_guard, &ctx);
			(void)import_run(user, &set, job_runner_progress,
					 job_runner_may_commit, &ctx, pool,
					 &result);
			oauth2_app_token_store_use(NULL, NULL, NULL, NULL);
			/* the result is the job's from here on */
			ctx.progress = NULL;
			ctx.run_progress = result.progress;
			job_runner_copy_progress(job, &result.progress);
			/* the run is over: no folder is being copied (and
			   the run's names are gone with it) */
			job->folder = NULL;
			ctx.run_progress.folder = NULL;
			error = result.error;
			/* for status and report: what this run skipped
			   (not if another worker owns the job now) */
			if (!ctx.claim_lost)
				job_runner_store_failed(&ctx, &result);
		}
		safe_memset((char *)password, 0, strlen(password));
	}
	job_runner_finish(&ctx, &error);
	job_runner_heartbeat_stop(&ctx);
	trigger_job_free(&ctx.trigger);
	import_remote_config_free(&ctx.user_set);
	pool_unref(&ctx.pool);
	pool_unref(&pool);
	event_unref(&ctx.event);
	return ctx.store_failed ? -1 : 0;
}

/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "ioloop.h"
#include "safe-memset.h"
#include "mail-user.h"
#include "import-remote-compat.h"
#include "import-remote-config.h"
#include "import-remote-error.h"
#include "import-remote-settings.h"
#include "import-run.h"
#include "job-store.h"
#include "job-secret.h"
#include "batch-store.h"
#include "batch-notify.h"
#include "job-runner.h"

struct job_runner_ctx {
	struct mail_user *user;
	struct job_store *store;
	struct job *job;
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
	/* cancelled: the job ends Cancelled; paused: its batch paused, it
	   goes back to the queue */
	bool cancelled, paused, store_failed;
};

/* The run's progress as the job's: a run that continues an earlier one
   (after a pause, or its worker's death) finds what that one imported
   already there, so it counts it as skipped: it is counted as imported. */
static void job_runner_copy_progress(struct job *job,
				     const struct import_progress *progress)
{
	unsigned long long base = job->run_base_imported;

	job->folders_done = progress->folders_done;
	job->folders_total = progress->folders_total;
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

void job_runner_get_progress(const struct job *job, time_t now,
			     struct import_progress *progress_r)
{
	time_t end = job->finished != 0 ? job->finished : now;

	i_zero(progress_r);
	progress_r->folders_done = job->folders_done;
	progress_r->folders_total = job->folders_total;
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
		e_error(ctx->user->event, "import-remote: Job %llu: "
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

/* Has the storage the batch's users share reached pause_percent? */
static bool job_runner_storage_full(struct job_runner_ctx *ctx,
				    const struct batch *batch,
				    const char **why_r)
{
	uint64_t used, limit;
	const char *error;
	int ret;

	if (ctx->shared_quota_root != NULL) {
		ret = import_remote_compat_quota_root_usage(ctx->user,
			ctx->shared_quota_root, NULL, &used, &limit, &error);
		if (ret < 0) {
			e_error(ctx->user->event, "import-remote: Job %llu: "
				"reading the shared quota failed: %s",
				ctx->job->id, error);
		} else if (ret == 0 && !ctx->shared_quota_root_missing) {
			/* e.g. a 2.3 per-domain dict root on Dovecot 2.4 */
			ctx->shared_quota_root_missing = TRUE;
			e_warning(ctx->user->event, "import-remote: Job %llu: "
				  "import_remote_shared_quota_root: No quota "
				  "root named '%s' (only --storage-limit "
				  "pauses this batch)", ctx->job->id,
				  ctx->shared_quota_root);
		} else if (ret > 0 &&
			   job_runner_over(used, limit, ctx->set->import_remote_pause_percent)) {
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
   batch when the storage its users share is (nearly) full. */
static void job_runner_check_batch(struct job_runner_ctx *ctx)
{
	struct batch batch;
	const char *why, *error;
	int ret;

	if (ctx->job->batch_id == 0)
		return;
	ret = batch_store_get(ctx->store, ctx->pool, ctx->job->batch_id,
			      &batch, &error);
	if (ret <= 0) {
		e_error(ctx->user->event, "import-remote: Job %llu: "
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
	if (!job_runner_storage_full(ctx, &batch, &why))
		return;
	ctx->paused = TRUE;
	ret = batch_store_pause(ctx->store, batch.id,
				BATCH_PAUSE_REASON_STORAGE, &error);
	if (ret < 0) {
		e_error(ctx->user->event, "import-remote: Batch %llu: "
			"pausing failed: %s", batch.id, error);
	} else if (ret > 0) {
		/* this worker paused it: it tells */
		e_warning(ctx->user->event, "import-remote: Batch %llu paused "
			  "at %u%% of its storage: %s", batch.id,
			  ctx->set->import_remote_pause_percent, why);
		(void)batch_notify(ctx->user->event, ctx->store, batch.id,
				   BATCH_EVENT_PAUSED_FOR_STORAGE,
				   ctx->set);
	}
}

static bool job_runner_progress(const struct import_progress *progress,
				bool final, void *context)
{
	struct job_runner_ctx *ctx = context;
	struct job current;
	const char *error;

	if (final || progress->elapsed_msecs <
	    ctx->last_update_msecs + JOB_RUNNER_UPDATE_INTERVAL_MSECS)
		return !ctx->cancelled && !ctx->paused;
	ctx->last_update_msecs = progress->elapsed_msecs;

	io_loop_time_refresh();
	job_runner_copy_progress(ctx->job, progress);
	job_runner_read_quota(ctx);
	ctx->job->status = JOB_STATUS_RUNNING;
	if (job_store_update(ctx->store, ctx->job, &error) < 0) {
		e_error(ctx->user->event, "import-remote: Job %llu: "
			"updating the job store failed: %s", ctx->job->id, error);
		ctx->store_failed = TRUE;
	}
	/* was it cancelled meanwhile? */
	p_clear(ctx->pool);
	if (job_store_get(ctx->store, ctx->pool, ctx->job->id, &current,
			  &error) > 0 && current.cancel_requested)
		ctx->cancelled = TRUE;
	job_runner_check_batch(ctx);
	return !ctx->cancelled && !ctx->paused;
}

static void job_runner_finish(struct job_runner_ctx *ctx,
			      const struct import_remote_error *error)
{
	struct job *job = ctx->job;
	const char *errstr;

	io_loop_time_refresh();
	job->finished = ioloop_time;
	job_runner_read_quota(ctx);
	if (error->code == IMPORT_REMOTE_ERROR_QUOTA_EXCEEDED && !ctx->paused) {
		/* the shared storage (not the user's own quota) filling up
		   pauses the batch instead of failing the job */
		job_runner_check_batch(ctx);
	}
	if (ctx->paused && (error->code == IMPORT_REMOTE_ERROR_CANCELLED ||
			    error->code == IMPORT_REMOTE_ERROR_QUOTA_EXCEEDED)) {
		/* its batch paused: back to the queue, to resume from what
		   it committed */
		job->status = JOB_STATUS_QUEUED;
		job->finished = 0;
		job->worker = "";
		job->error_code = "";
		job->error_detail = "";
	} else if (error->code == IMPORT_REMOTE_ERROR_NONE) {
		job->status = JOB_STATUS_COMPLETED;
		job->error_code = "";
		job->error_detail = "";
	} else {
		job->status = error->code == IMPORT_REMOTE_ERROR_CANCELLED ?
			JOB_STATUS_CANCELLED : JOB_STATUS_FAILED;
		job->error_code = import_remote_error_get_info(error->code)->name;
		job->error_detail = error->detail == NULL ? "" : error->detail;
	}
	if (job_store_update(ctx->store, job, &errstr) < 0) {
		e_error(ctx->user->event, "import-remote: Job %llu: "
			"storing the result failed: %s", job->id, errstr);
		ctx->store_failed = TRUE;
		return;
	}
	e_info(ctx->user->event, "import-remote: Job %llu: %s%s%s", job->id,
	       job_status_name(job->status),
	       job->error_code[0] == '\0' ? "" : ": ", job->error_code);
	if (job_status_is_final(job->status) && job->batch_id != 0) {
		batch_notify_job_ended(ctx->user->event, ctx->store,
				       job->batch_id, ctx->set);
	}
}

int job_runner_run(struct mail_user *user, struct job_store *store,
		   struct job *job,
		   const unsigned char key[SECRET_BOX_KEY_LEN],
		   const struct import_remote_config *global_set)
{
	struct job_runner_ctx ctx;
	struct import_remote_settings set;
	struct import_run_result result;
	struct import_remote_error error;
	const char *errstr, *password;
	pool_t pool;

	i_zero(&ctx);
	ctx.user = user;
	ctx.store = store;
	ctx.job = job;
	ctx.set = global_set;
	ctx.pool = pool_alloconly_create("import job", 1024);
	pool = pool_alloconly_create("import job run", 4096);

	i_zero(&error);
	import_remote_settings_init(pool, &set);
	set.host = job->source_host;
	set.port = job->source_port;
	set.username = job->source_user;
	if (job_runner_read_settings(&ctx, &errstr) < 0) {
		import_remote_error_set(&error, IMPORT_REMOTE_ERROR_INTERNAL,
			t_strdup_printf("Invalid settings: %s", errstr));
	} else if (import_remote_ssl_parse(job->source_ssl, &set.ssl) < 0 ||
	    import_remote_settings_import(pool, job->options, &set,
					  &errstr) < 0) {
		import_remote_error_set(&error, IMPORT_REMOTE_ERROR_INTERNAL,
			t_strdup_printf("Invalid job options: %s",
					job->options));
	} else if (job_secret_decrypt(key, job, pool, &password,
				      &errstr) < 0) {
		import_remote_error_set(&error, IMPORT_REMOTE_ERROR_INTERNAL,
			t_strdup_printf("The source password can't be read: %s",
					errstr));
	} else {
		set.password = password;
		/* what an earlier run of this job imported stays counted */
		job->run_base_imported = job->imported;
		job->run_base_bytes = job->bytes_done;
		job->status = JOB_STATUS_RUNNING;
		job_runner_read_quota(&ctx);
		if (job_store_update(store, job, &errstr) < 0) {
			e_error(user->event, "import-remote: Job %llu: "
				"updating the job store failed: %s",
				job->id, errstr);
		}
		/* a paused batch's (or a full storage's) job doesn't start */
		job_runner_check_batch(&ctx);
		if (ctx.paused || ctx.cancelled) {
			import_remote_error_set(&error,
				IMPORT_REMOTE_ERROR_CANCELLED, NULL);
		} else {
			(void)import_run(user, &set, job_runner_progress,
					 NULL, &ctx, pool, &result);
			job_runner_copy_progress(job, &result.progress);
			error = result.error;
		}
		safe_memset((char *)password, 0, strlen(password));
	}
	job_runner_finish(&ctx, &error);
	import_remote_config_free(&ctx.user_set);
	pool_unref(&ctx.pool);
	pool_unref(&pool);
	return ctx.store_failed ? -1 : 0;
}

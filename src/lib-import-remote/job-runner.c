/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "ioloop.h"
#include "mail-user.h"
#include "import-remote-error.h"
#include "import-remote-settings.h"
#include "import-run.h"
#include "job-store.h"
#include "job-runner.h"

struct job_runner_ctx {
	struct mail_user *user;
	struct job_store *store;
	struct job *job;
	pool_t pool;
	unsigned int last_update_msecs;
	bool cancelled, store_failed;
};

int job_runner_parse_store(const char *uri, const char **driver_r,
			   const char **connect_r, const char **error_r)
{
	const char *p = strchr(uri, ':');

	if (p == NULL || p == uri || p[1] == '\0') {
		*error_r = t_strdup_printf("Invalid import_remote_store '%s': "
			"use sqlite:<path> or pgsql:<connect string>", uri);
		return -1;
	}
	*driver_r = t_strdup_until(uri, p);
	*connect_r = p + 1;
	return 0;
}

static void job_runner_copy_progress(struct job *job,
				     const struct import_progress *progress)
{
	job->folders_done = progress->folders_done;
	job->folders_total = progress->folders_total;
	job->msgs_done = progress->msgs_done;
	job->msgs_total = progress->msgs_total;
	job->bytes_done = progress->bytes_done;
	job->bytes_total = progress->bytes_total;
	job->imported = progress->imported;
	job->skipped = progress->skipped_duplicates;
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
	progress_r->bytes_done = job->bytes_done;
	progress_r->bytes_total = job->bytes_total;
	if (job->started != 0 && end > job->started)
		progress_r->elapsed_msecs = (end - job->started) * 1000;
}

static bool job_runner_progress(const struct import_progress *progress,
				bool final, void *context)
{
	struct job_runner_ctx *ctx = context;
	struct job current;
	const char *error;

	if (final || progress->elapsed_msecs <
	    ctx->last_update_msecs + JOB_RUNNER_UPDATE_INTERVAL_MSECS)
		return !ctx->cancelled;
	ctx->last_update_msecs = progress->elapsed_msecs;

	io_loop_time_refresh();
	job_runner_copy_progress(ctx->job, progress);
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
	return !ctx->cancelled;
}

static void job_runner_finish(struct job_runner_ctx *ctx,
			      const struct import_remote_error *error)
{
	struct job *job = ctx->job;
	const char *errstr;

	io_loop_time_refresh();
	job->finished = ioloop_time;
	if (error->code == IMPORT_REMOTE_ERROR_NONE) {
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
	}
}

int job_runner_run(struct mail_user *user, struct job_store *store,
		   struct job *job,
		   const unsigned char key[SECRET_BOX_KEY_LEN])
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
	ctx.pool = pool_alloconly_create("import job", 1024);
	pool = pool_alloconly_create("import job run", 4096);

	i_zero(&error);
	import_remote_settings_init(pool, &set);
	set.host = job->source_host;
	set.port = job->source_port;
	set.username = job->source_user;
	if (import_remote_ssl_parse(job->source_ssl, &set.ssl) < 0 ||
	    import_remote_settings_import(pool, job->options, &set,
					  &errstr) < 0) {
		import_remote_error_set(&error, IMPORT_REMOTE_ERROR_INTERNAL,
			t_strdup_printf("Invalid job options: %s",
					job->options));
	} else if (secret_box_decrypt(key, job->source_password, pool,
				      &password, &errstr) < 0) {
		import_remote_error_set(&error, IMPORT_REMOTE_ERROR_INTERNAL,
			t_strdup_printf("The source password can't be read: %s",
					errstr));
	} else {
		set.password = password;
		job->status = JOB_STATUS_RUNNING;
		if (job_store_update(store, job, &errstr) < 0) {
			e_error(user->event, "import-remote: Job %llu: "
				"updating the job store failed: %s",
				job->id, errstr);
		}
		(void)import_run(user, &set, job_runner_progress, &ctx, pool,
				 &result);
		job_runner_copy_progress(job, &result.progress);
		error = result.error;
	}
	job_runner_finish(&ctx, &error);
	pool_unref(&ctx.pool);
	pool_unref(&pool);
	return ctx.store_failed ? -1 : 0;
}

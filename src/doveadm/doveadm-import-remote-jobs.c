/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* Queued imports: start, status, history, cancel. The job store and the
   key that encrypts source passwords come from the user's plugin settings
   import_remote_store and import_remote_key_file; the worker service
   (import-remote-worker) runs the jobs. */

#include "lib.h"
#include "array.h"
#include "time-util.h"
#include "ioloop.h"
#include "sleep.h"
#include "import-progress.h"
#include "safe-memset.h"
#include "doveadm.h"
#include "doveadm-cmd.h"
#include "doveadm-mail.h"
#include "doveadm-print.h"
#include "mail-user.h"
#include "import-remote-compat.h"
#include "import-remote-error.h"
#include "import-remote-settings.h"
#include "secret-box.h"
#include "job-secret.h"
#include "job-store.h"
#include "job-runner.h"
#include "job-caps.h"
#include "failed-message-store.h"
#include "doveadm-import-remote-compat.h"
#include "import-remote-event.h"
#include "doveadm-import-remote.h"
#include "doveadm-import-remote-progress.h"

#include <stdio.h>
#include <unistd.h>

/* What a command acting on jobs was asked: the same whether it runs as a
   mail command (-u: for that user's jobs) or as an admin's (no user) */
struct import_remote_job_request {
	struct doveadm_cmd_context *cctx;
	int64_t job_id;
	bool have_job_id;
	int exit_code;
};

/* status, history, watch, retry, cancel */
struct import_remote_job_cmd {
	/* for "Which job?" */
	const char *name;
	const char *print_type;
	bool require_job_id;
	void (*print_headers)(void);
	int (*act)(struct import_remote_job_request *req,
		   struct mail_user *user);
};

struct import_remote_job_cmd_context {
	struct doveadm_mail_cmd_context ctx;
	/* start: the import's options */
	struct import_remote_settings set;
	/* the others */
	const struct import_remote_job_cmd *cmd;
	struct import_remote_job_request req;
};

/* Look up a job by id. Jobs are visible to their own user; without -u, to
   the admin. Returns 1, 0 if there is no such job for this user, -1. */
static int
import_remote_job_get(struct job_store *store, pool_t pool,
		      struct mail_user *user, int64_t job_id,
		      struct job *job_r, const char **error_r)
{
	int ret;

	ret = job_store_get(store, pool, job_id, job_r, error_r);
	if (ret > 0 && user != NULL &&
	    strcmp(job_r->username, user->username) != 0)
		ret = 0;
	return ret;
}

static void
import_remote_job_not_found(struct import_remote_job_request *req,
			    int64_t job_id, struct mail_user *user)
{
	if (user == NULL)
		e_error(import_remote_event(), "No job %"PRId64, job_id);
	else {
		e_error(import_remote_event(), "No job %"PRId64" for %s",
			job_id, user->username);
	}
	req->exit_code = DOVEADM_EX_NOTFOUND;
}

static int
import_remote_job_store_open(struct import_remote_job_request *req,
			     struct mail_user *user, struct job_store **store_r)
{
	return doveadm_import_remote_store_open(req->cctx, user, store_r,
						NULL, &req->exit_code);
}

static const char *job_time(time_t t)
{
	return t == 0 ? "" : t_strflocaltime("%Y-%m-%d %H:%M:%S", t);
}

/* --- start --- */

static void import_remote_start_init(DOVEADM_IMPORT_REMOTE_INIT_ARGS)
{
	struct import_remote_job_cmd_context *ctx =
		(struct import_remote_job_cmd_context *)_ctx;

	if (doveadm_import_remote_read_options(_ctx, &ctx->set) < 0)
		return;
	doveadm_print_header_simple("job");
	doveadm_print_header_simple("status");
}

static int import_remote_start_run(struct doveadm_mail_cmd_context *_ctx,
				   struct mail_user *user)
{
	struct import_remote_job_cmd_context *ctx =
		(struct import_remote_job_cmd_context *)_ctx;
	unsigned char key[SECRET_BOX_KEY_LEN];
	struct job_store *store;
	struct job job;
	unsigned long long id;
	const char *error, *secret;
	int ret;

	/* 2.3 runs the command even when init() failed */
	if (_ctx->exit_code != 0)
		return -1;
	/* --oauth2-authorized: the job carries a copy of the kept grant in
	   its own encrypted secret (a rotation by the worker is stored in
	   the job) */
	if (doveadm_import_remote_authorized(_ctx)) {
		struct doveadm_import_remote_authorized *authorized;

		if (doveadm_import_remote_authorized_load(_ctx, user,
				&ctx->set, &authorized) < 0)
			return -1;
		ctx->set.oauth2_rotated_callback = NULL;
		ctx->set.oauth2_rotated_context = NULL;
		doveadm_import_remote_authorized_end(&authorized);
	}
	if (doveadm_import_remote_store_open(_ctx->cctx, user, &store, key,
					     &_ctx->exit_code) < 0)
		return -1;
	i_zero(&job);
	job.username = user->username;
	job.source_host = ctx->set.host;
	job.source_port = import_remote_settings_get_port(&ctx->set);
	job.source_ssl = import_remote_ssl_name(ctx->set.ssl);
	job.source_user = ctx->set.username;
	job.options = import_remote_settings_export(&ctx->set);
	/* --connections: the leases its claim asks for (0: 1) */
	job.connections = ctx->set.connections;
	/* a password or access token, or an OAuth2 grant's secrets */
	secret = import_remote_settings_export_secret(&ctx->set);
	job.source_password = job_secret_encrypt(key, &job, secret);
	safe_memset(key, 0, sizeof(key));
	safe_memset((char *)secret, 0, strlen(secret));
	if (ctx->set.password != NULL) {
		safe_memset((char *)ctx->set.password, 0,
			    strlen(ctx->set.password));
	}
	ret = job_store_create(store, &job, &id, &error);
	job_store_close(&store);
	if (ret < 0) {
		e_error(import_remote_event(),
			"Queueing the job failed: %s", error);
		_ctx->exit_code = EX_TEMPFAIL;
		return -1;
	}
	e_debug(import_remote_event_job_queued(import_remote_event(), "start",
			id, 0, job.username, job.source_host, job.source_port,
			job.source_user)->event(),
		"Job %llu: queued", id);
	doveadm_print(dec2str(id));
	doveadm_print(job_status_name(JOB_STATUS_QUEUED));
	return 0;
}

/* --- status, history --- */

static void import_remote_status_headers(void)
{
	doveadm_print_header_simple("job");
	doveadm_print_header_simple("status");
	doveadm_print_header_simple("source");
	doveadm_print_header_simple("folders");
	doveadm_print_header_simple("messages");
	doveadm_import_remote_header_num("imported");
	doveadm_import_remote_header_num("skipped");
	doveadm_import_remote_header_num("filtered");
	doveadm_import_remote_header_num("failed");
	doveadm_import_remote_header_num("bytes");
	/* while it runs: bytes per second and seconds left */
	doveadm_import_remote_header_num("rate");
	doveadm_print_header_simple("eta");
	doveadm_print_header_simple("created");
	doveadm_print_header_simple("started");
	doveadm_print_header_simple("finished");
	doveadm_import_remote_header_num("seconds");
	doveadm_import_remote_header_error();
	/* the bulk import it is part of, if any */
	doveadm_print_header_simple("batch");
	doveadm_import_remote_header_retry();
	/* a queued job whose source host (or account) has all the
	   connections its cap allows in use: what it waits for */
	doveadm_print_header_simple("waiting");
	/* the folder a running job copies now (the source's name) */
	doveadm_print_header_simple("folder");
}

static void import_remote_print_job(const struct job *job,
				    const char *waiting)
{
	struct import_progress progress;
	int eta;

	job_runner_get_progress(job, ioloop_time, &progress);
	eta = job_status_is_final(job->status) ? -1 :
		import_progress_get_eta_secs(&progress);

	doveadm_print(dec2str(job->id));
	doveadm_print(job_status_name(job->status));
	doveadm_import_remote_print_text(t_strdup_printf("%s@%s:%u",
		job->source_user, job->source_host, job->source_port));
	doveadm_print(t_strdup_printf("%u/%u", job->folders_done,
				      job->folders_total));
	doveadm_print(t_strdup_printf("%u/%u", job->msgs_done, job->msgs_total));
	doveadm_print_num(job->imported);
	doveadm_print_num(job->skipped);
	doveadm_print_num(job->filtered);
	doveadm_print_num(job->failed);
	doveadm_print_num(job->bytes_done);
	doveadm_print_num(import_progress_get_rate(&progress));
	doveadm_print(eta < 0 ? "" : dec2str(eta));
	doveadm_print(job_time(job->created));
	doveadm_print(job_time(job->started));
	doveadm_print(job_time(job->finished));
	/* how long it ran (so far) */
	doveadm_print_num(job->started == 0 ? 0 :
			  (job->finished != 0 ? job->finished : ioloop_time) -
			  job->started);
	doveadm_import_remote_print_error(job);
	doveadm_print(job->batch_id == 0 ? "" : dec2str(job->batch_id));
	doveadm_import_remote_print_retry_waiting(job, waiting);
	doveadm_import_remote_print_text(waiting == NULL ? "" : waiting);
	doveadm_import_remote_print_text(progress.folder == NULL ? "" :
					 progress.folder);
}

static int import_remote_status_act(struct import_remote_job_request *req,
				    struct mail_user *user)
{
	struct job_cap_usage *usage = NULL;
	struct job_store *store;
	ARRAY_TYPE(job) jobs;
	const struct job *job;
	struct job one;
	const char *error;
	pool_t pool;
	int ret = 0;

	if (!req->have_job_id && user == NULL) {
		return doveadm_import_remote_fail(&req->exit_code, EX_USAGE,
			"Whose jobs? (import-remote status -u USER | JOB)");
	}
	if (import_remote_job_store_open(req, user, &store) < 0)
		return -1;
	pool = pool_alloconly_create("jobs", 4096);
	p_array_init(&jobs, pool, 16);
	if (req->have_job_id) {
		ret = import_remote_job_get(store, pool, user, req->job_id,
					    &one, &error);
		if (ret > 0)
			array_push_back(&jobs, &one);
		else if (ret == 0) {
			import_remote_job_not_found(req, req->job_id, user);
			ret = -1;
		}
	} else {
		ret = job_store_list_user(store, pool, user->username,
					  &jobs, &error);
	}
	if (ret < 0 && req->exit_code == 0) {
		e_error(import_remote_event(), "%s", error);
		req->exit_code = EX_TEMPFAIL;
	}
	if (ret >= 0 && job_store_cap_usage(store, pool,
			JOB_RUNNER_DEFAULT_TAKEOVER_SECS, &usage, &error) < 0) {
		e_error(import_remote_event(), "%s", error);
		req->exit_code = EX_TEMPFAIL;
		ret = -1;
	}
	array_foreach(&jobs, job) {
		import_remote_print_job(job, usage == NULL ? NULL :
			job_cap_usage_waiting(store, usage, job));
	}
	job_store_close(&store);
	pool_unref(&pool);
	return ret < 0 ? -1 : 0;
}

/* --- watch --- */

#define WATCH_INTERVAL_MSECS 1000

static void
import_remote_watch_line(struct doveadm_import_remote_progress *display,
			 const struct job *job)
{
	struct import_progress progress;

	job_runner_get_progress(job, ioloop_time, &progress);
	doveadm_import_remote_progress_draw(display, t_strdup_printf(
		"job %llu %s", job->id, job_runner_status_text(job, ioloop_time)),
		&progress, job_status_is_final(job->status));
}

static int import_remote_watch_act(struct import_remote_job_request *req,
				   struct mail_user *user)
{
	struct job_store *store;
	struct job job;
	struct doveadm_import_remote_progress display;
	const char *error;
	unsigned int polls = 0;
	pool_t pool;
	int ret;

	if (import_remote_job_store_open(req, user, &store) < 0)
		return -1;
	doveadm_import_remote_progress_init(&display);
	pool = pool_alloconly_create("job", 1024);
	for (;;) {
		p_clear(pool);
		io_loop_time_refresh();
		ret = import_remote_job_get(store, pool, user, req->job_id,
					    &job, &error);
		if (ret <= 0 || job_status_is_final(job.status))
			break;
		/* on a terminal every poll redraws; otherwise a line every
		   five seconds */
		if (display.tty || polls % 5 == 0)
			import_remote_watch_line(&display, &job);
		polls++;
		i_sleep_msecs(WATCH_INTERVAL_MSECS);
	}
	/* the bar's last state, and the terminal's line ended */
	if (display.tty && polls > 0) {
		if (ret > 0)
			import_remote_watch_line(&display, &job);
		else
			fputc('\n', stderr);
	}
	if (ret > 0) {
		enum import_remote_error_code code =
			import_remote_error_from_name(job.error_code);

		import_remote_print_job(&job, NULL);
		if (job.status != JOB_STATUS_COMPLETED) {
			req->exit_code = code < IMPORT_REMOTE_ERROR_COUNT ?
				import_remote_error_get_info(code)->exit_code :
				EX_SOFTWARE;
		}
	} else if (ret == 0) {
		import_remote_job_not_found(req, req->job_id, user);
	} else {
		e_error(import_remote_event(), "%s", error);
		req->exit_code = EX_TEMPFAIL;
	}
	job_store_close(&store);
	pool_unref(&pool);
	return req->exit_code == 0 ? 0 : -1;
}

/* --- retry --- */

static void import_remote_retry_headers(void)
{
	doveadm_print_header_simple("job");
	doveadm_print_header_simple("status");
	doveadm_print_header_simple("retry_of");
}

static int import_remote_retry_act(struct import_remote_job_request *req,
				   struct mail_user *user)
{
	struct job_store *store;
	struct job job;
	unsigned long long new_id;
	const char *error;
	pool_t pool;
	int ret;

	if (import_remote_job_store_open(req, user, &store) < 0)
		return -1;
	pool = pool_alloconly_create("job", 1024);
	ret = import_remote_job_get(store, pool, user, req->job_id,
				    &job, &error);
	if (ret > 0)
		ret = job_store_retry(store, req->job_id, &new_id, &error);
	if (ret > 0) {
		doveadm_print(dec2str(new_id));
		doveadm_print(job_status_name(JOB_STATUS_QUEUED));
		doveadm_print(dec2str(req->job_id));
	} else if (ret == 0) {
		import_remote_job_not_found(req, req->job_id, user);
	} else {
		e_error(import_remote_event(), "%s", error);
		req->exit_code = EX_DATAERR;
	}
	job_store_close(&store);
	pool_unref(&pool);
	return ret > 0 ? 0 : -1;
}

/* --- cancel --- */

static void import_remote_cancel_headers(void)
{
	doveadm_print_header_simple("job");
	doveadm_print_header_simple("status");
}

static int import_remote_cancel_act(struct import_remote_job_request *req,
				    struct mail_user *user)
{
	struct job_store *store;
	struct job job;
	const char *error;
	pool_t pool;
	int ret;

	if (import_remote_job_store_open(req, user, &store) < 0)
		return -1;
	pool = pool_alloconly_create("job", 1024);
	ret = import_remote_job_get(store, pool, user, req->job_id,
				    &job, &error);
	if (ret > 0 && job_status_is_final(job.status)) {
		/* nothing to cancel: said, and not a success (as retry of
		   a job that did not fail) */
		e_error(import_remote_event(),
			"Job %llu has already ended (%s): "
			"nothing to cancel", job.id,
			job_status_name(job.status));
		req->exit_code = EX_DATAERR;
		job_store_close(&store);
		pool_unref(&pool);
		return -1;
	}
	if (ret > 0)
		ret = job_store_cancel(store, req->job_id, &error) < 0 ? -1 : 1;
	if (ret > 0)
		ret = job_store_get(store, pool, req->job_id, &job, &error);
	if (ret > 0) {
		doveadm_print(dec2str(job.id));
		doveadm_print(job.status == JOB_STATUS_CANCELLED ||
			      job_status_is_final(job.status) ?
			      job_status_name(job.status) : "cancelling");
	} else if (ret == 0) {
		import_remote_job_not_found(req, req->job_id, user);
	} else {
		e_error(import_remote_event(), "%s", error);
		req->exit_code = EX_TEMPFAIL;
	}
	job_store_close(&store);
	pool_unref(&pool);
	return ret > 0 ? 0 : -1;
}

/* --- report: the messages a job could not import --- */

static void import_remote_report_headers(void)
{
	doveadm_print_header_simple("job");
	doveadm_import_remote_header_failed_message();
}

static int import_remote_report_act(struct import_remote_job_request *req,
				    struct mail_user *user)
{
	struct job_store *store;
	ARRAY_TYPE(import_failed_message) msgs;
	const struct import_failed_message *msg;
	struct job job;
	const char *error;
	pool_t pool;
	int ret;

	if (import_remote_job_store_open(req, user, &store) < 0)
		return -1;
	pool = pool_alloconly_create("failed messages", 4096);
	p_array_init(&msgs, pool, 16);
	ret = import_remote_job_get(store, pool, user, req->job_id,
				    &job, &error);
	if (ret > 0) {
		ret = failed_message_store_list(store, pool, job.id, &msgs,
						&error) < 0 ? -1 : 1;
	}
	if (ret == 0)
		import_remote_job_not_found(req, req->job_id, user);
	else if (ret < 0) {
		e_error(import_remote_event(), "%s", error);
		req->exit_code = EX_TEMPFAIL;
	}
	array_foreach(&msgs, msg) {
		doveadm_print(dec2str(job.id));
		doveadm_import_remote_print_failed_message(msg);
	}
	job_store_close(&store);
	pool_unref(&pool);
	return ret > 0 ? 0 : -1;
}

static const struct import_remote_job_cmd import_remote_job_status = {
	"status", DOVEADM_PRINT_TYPE_FLOW, FALSE,
	import_remote_status_headers, import_remote_status_act,
};
static const struct import_remote_job_cmd import_remote_job_history = {
	"history", DOVEADM_PRINT_TYPE_TABLE, FALSE,
	import_remote_status_headers, import_remote_status_act,
};
static const struct import_remote_job_cmd import_remote_job_watch = {
	"watch", DOVEADM_PRINT_TYPE_FLOW, TRUE,
	import_remote_status_headers, import_remote_watch_act,
};
static const struct import_remote_job_cmd import_remote_job_retry = {
	"retry", DOVEADM_PRINT_TYPE_FLOW, TRUE,
	import_remote_retry_headers, import_remote_retry_act,
};
static const struct import_remote_job_cmd import_remote_job_cancel = {
	"cancel", DOVEADM_PRINT_TYPE_FLOW, TRUE,
	import_remote_cancel_headers, import_remote_cancel_act,
};
static const struct import_remote_job_cmd import_remote_job_report = {
	"report", DOVEADM_PRINT_TYPE_TABLE, TRUE,
	import_remote_report_headers, import_remote_report_act,
};

/* Read the job id and print the headers. Returns 0, or -1 (usage). */
static int
import_remote_job_request_init(const struct import_remote_job_cmd *cmd,
			       struct doveadm_cmd_context *cctx,
			       struct import_remote_job_request *req_r)
{
	i_zero(req_r);
	req_r->cctx = cctx;
	req_r->have_job_id = doveadm_cmd_param_int64(cctx, "job",
						     &req_r->job_id);
	if (req_r->have_job_id && req_r->job_id <= 0) {
		return doveadm_import_remote_fail(&req_r->exit_code, EX_USAGE,
						  "Invalid job id");
	}
	if (cmd->require_job_id && !req_r->have_job_id) {
		return doveadm_import_remote_fail(&req_r->exit_code, EX_USAGE,
			"Which job? (import-remote %s [-u USER] JOB)",
			cmd->name);
	}
	cmd->print_headers();
	return 0;
}

/* as a mail command (-u): for the user doveadm looked up */
static void import_remote_job_init(DOVEADM_IMPORT_REMOTE_INIT_ARGS)
{
	struct import_remote_job_cmd_context *ctx =
		(struct import_remote_job_cmd_context *)_ctx;

	if (import_remote_job_request_init(ctx->cmd, _ctx->cctx,
					   &ctx->req) < 0)
		_ctx->exit_code = ctx->req.exit_code;
}

static int import_remote_job_run(struct doveadm_mail_cmd_context *_ctx,
				 struct mail_user *user)
{
	struct import_remote_job_cmd_context *ctx =
		(struct import_remote_job_cmd_context *)_ctx;
	int ret;

	/* 2.3 runs the command even when init() failed */
	if (ctx->req.exit_code != 0)
		return -1;
	ret = ctx->cmd->act(&ctx->req, user);
	if (ctx->req.exit_code != 0)
		_ctx->exit_code = ctx->req.exit_code;
	return ret;
}

static struct doveadm_mail_cmd_context *
import_remote_job_alloc(const struct import_remote_job_cmd *cmd)
{
	struct import_remote_job_cmd_context *ctx;

	ctx = doveadm_mail_cmd_alloc(struct import_remote_job_cmd_context);
	ctx->cmd = cmd;
	ctx->ctx.v.init = import_remote_job_init;
	ctx->ctx.v.run = import_remote_job_run;
	doveadm_print_init(cmd->print_type);
	return &ctx->ctx;
}

static struct doveadm_mail_cmd_context *import_remote_start_alloc(void)
{
	struct import_remote_job_cmd_context *ctx;

	ctx = doveadm_mail_cmd_alloc(struct import_remote_job_cmd_context);
	ctx->ctx.v.init = import_remote_start_init;
	ctx->ctx.v.run = import_remote_start_run;
	doveadm_print_init(DOVEADM_PRINT_TYPE_FLOW);
	return &ctx->ctx;
}

static struct doveadm_mail_cmd_context *import_remote_status_alloc(void)
{
	return import_remote_job_alloc(&import_remote_job_status);
}

static struct doveadm_mail_cmd_context *import_remote_history_alloc(void)
{
	return import_remote_job_alloc(&import_remote_job_history);
}

static struct doveadm_mail_cmd_context *import_remote_watch_alloc(void)
{
	return import_remote_job_alloc(&import_remote_job_watch);
}

static struct doveadm_mail_cmd_context *import_remote_retry_alloc(void)
{
	return import_remote_job_alloc(&import_remote_job_retry);
}

static struct doveadm_mail_cmd_context *import_remote_cancel_alloc(void)
{
	return import_remote_job_alloc(&import_remote_job_cancel);
}

static struct doveadm_mail_cmd_context *import_remote_report_alloc(void)
{
	return import_remote_job_alloc(&import_remote_job_report);
}

/* status, watch, retry, cancel and report of one job also work without
   -u: the
   admin names the job, no user is looked up and no mail command runs.
   With -u they go through doveadm's mail command machinery like every
   other command. */
static void
import_remote_job_admin_cmd(struct doveadm_cmd_context *cctx,
			    const struct import_remote_job_cmd *cmd)
{
	struct import_remote_job_request req;
	const char *username;
	bool have_user, have_job;

	have_user = doveadm_cmd_param_str(cctx, "dest-user", &username);
	have_job = doveadm_cmd_param_int64(cctx, "job", &req.job_id);
	if (!have_user && !have_job && cmd->require_job_id) {
		/* said here: doveadm would go on to look up no user and
		   fail with its own, unrelated error */
		(void)doveadm_import_remote_fail(&req.exit_code, EX_USAGE,
			"Which job? (import-remote %s [-u USER] JOB)",
			cmd->name);
		doveadm_exit_code = req.exit_code;
		return;
	}
	if (have_user || !have_job) {
		doveadm_import_remote_mail_cmd(cctx);
		return;
	}
	doveadm_print_init(cmd->print_type);
	if (import_remote_job_request_init(cmd, cctx, &req) == 0)
		(void)cmd->act(&req, NULL);
	if (req.exit_code != 0)
		doveadm_exit_code = req.exit_code;
}

static void import_remote_status_cmd(struct doveadm_cmd_context *cctx)
{
	import_remote_job_admin_cmd(cctx, &import_remote_job_status);
}

static void import_remote_watch_cmd(struct doveadm_cmd_context *cctx)
{
	import_remote_job_admin_cmd(cctx, &import_remote_job_watch);
}

static void import_remote_retry_cmd(struct doveadm_cmd_context *cctx)
{
	import_remote_job_admin_cmd(cctx, &import_remote_job_retry);
}

static void import_remote_cancel_cmd(struct doveadm_cmd_context *cctx)
{
	import_remote_job_admin_cmd(cctx, &import_remote_job_cancel);
}

static void import_remote_report_cmd(struct doveadm_cmd_context *cctx)
{
	import_remote_job_admin_cmd(cctx, &import_remote_job_report);
}

struct doveadm_cmd_ver2 doveadm_cmd_import_remote_start = {
	.name = "import-remote start",
	.cmd = doveadm_import_remote_mail_cmd,
	.mail_cmd = import_remote_start_alloc,
	.usage = "-u <user> "DOVEADM_IMPORT_REMOTE_SOURCE_USAGE,
DOVEADM_CMD_PARAMS_START
DOVEADM_IMPORT_REMOTE_CMD_USER_PARAMS
DOVEADM_IMPORT_REMOTE_SOURCE_PARAMS
DOVEADM_CMD_PARAMS_END
};

struct doveadm_cmd_ver2 doveadm_cmd_import_remote_status = {
	.name = "import-remote status",
	.cmd = import_remote_status_cmd,
	.mail_cmd = import_remote_status_alloc,
	.usage = "[-u <user>] [<job>]",
DOVEADM_CMD_PARAMS_START
DOVEADM_IMPORT_REMOTE_CMD_USER_PARAMS
DOVEADM_CMD_PARAM('\0', "job", CMD_PARAM_INT64, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
};

struct doveadm_cmd_ver2 doveadm_cmd_import_remote_history = {
	.name = "import-remote history",
	.cmd = doveadm_import_remote_mail_cmd,
	.mail_cmd = import_remote_history_alloc,
	.usage = "-u <user>",
DOVEADM_CMD_PARAMS_START
DOVEADM_IMPORT_REMOTE_CMD_USER_PARAMS
DOVEADM_CMD_PARAMS_END
};

struct doveadm_cmd_ver2 doveadm_cmd_import_remote_watch = {
	.name = "import-remote watch",
	.cmd = import_remote_watch_cmd,
	.mail_cmd = import_remote_watch_alloc,
	.usage = "[-u <user>] <job>",
DOVEADM_CMD_PARAMS_START
DOVEADM_IMPORT_REMOTE_CMD_USER_PARAMS
DOVEADM_CMD_PARAM('\0', "job", CMD_PARAM_INT64, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
};

struct doveadm_cmd_ver2 doveadm_cmd_import_remote_retry = {
	.name = "import-remote retry",
	.cmd = import_remote_retry_cmd,
	.mail_cmd = import_remote_retry_alloc,
	.usage = "[-u <user>] <job>",
DOVEADM_CMD_PARAMS_START
DOVEADM_IMPORT_REMOTE_CMD_USER_PARAMS
DOVEADM_CMD_PARAM('\0', "job", CMD_PARAM_INT64, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
};

struct doveadm_cmd_ver2 doveadm_cmd_import_remote_cancel = {
	.name = "import-remote cancel",
	.cmd = import_remote_cancel_cmd,
	.mail_cmd = import_remote_cancel_alloc,
	.usage = "[-u <user>] <job>",
DOVEADM_CMD_PARAMS_START
DOVEADM_IMPORT_REMOTE_CMD_USER_PARAMS
DOVEADM_CMD_PARAM('\0', "job", CMD_PARAM_INT64, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
};

struct doveadm_cmd_ver2 doveadm_cmd_import_remote_report = {
	.name = "import-remote report",
	.cmd = import_remote_report_cmd,
	.mail_cmd = import_remote_report_alloc,
	.usage = "[-u <user>] <job>",
DOVEADM_CMD_PARAMS_START
DOVEADM_IMPORT_REMOTE_CMD_USER_PARAMS
DOVEADM_CMD_PARAM('\0', "job", CMD_PARAM_INT64, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
};

/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* An administrator's view of the whole job store: "jobs" lists the jobs of
   every user (filtered by status, source host and time); the filter
   options and the sanitizing of the store's text are top's too
   (doveadm-import-remote-top.c). A plain command: no -u, no user lookup;
   the store comes from the global settings. Nothing of a job's password
   is ever printed. */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "str-sanitize.h"
#include "ioloop.h"
#include "time-util.h"
#include "doveadm.h"
#include "doveadm-cmd.h"
#include "doveadm-print.h"
#include "import-remote-compat.h"
#include "import-remote-error.h"
#include "import-remote-settings.h"
#include "job-store.h"
#include "import-remote-event.h"
#include "job-runner.h"
#include "job-caps.h"
#include "doveadm-import-remote.h"

#define ADMIN_LIMIT_DEFAULT 100
#define ADMIN_LIMIT_MAX 100000

static const char *admin_time(time_t t)
{
	return t == 0 ? "" : t_strflocaltime("%Y-%m-%d %H:%M:%S", t);
}

/* --status: names separated by commas; "live" is preparing and running.
   Returns 0, or -1 after a usage error. */
static int admin_parse_status(const char *str, unsigned int *mask_r)
{
	const char *const *names = t_strsplit(str, ",");
	enum job_status status;

	*mask_r = 0;
	for (; *names != NULL; names++) {
		if (strcmp(*names, "live") == 0)
			*mask_r |= JOB_STATUS_LIVE_MASK;
		else if (job_status_parse(*names, &status) == 0)
			*mask_r |= JOB_STATUS_BIT(status);
		else {
			return doveadm_import_remote_fail(&doveadm_exit_code,
				EX_USAGE, "Invalid --status '%s': use queued, "
				"preparing, running, completed, failed, "
				"cancelled or live, separated by commas",
				str_sanitize(*names, 64));
		}
	}
	return 0;
}

/* --since: a day as run's --since takes it (YYYY-MM-DD, 00:00 UTC), or
   how long ago as a time setting is written ("30 mins", "2h", "7d").
   Returns 0, or -1 after a usage error. */
static int admin_parse_since(const char *str, time_t *since_r)
{
	unsigned int secs;
	const char *error;

	if (import_remote_date_parse(str, since_r) == 0)
		return 0;
	if (import_remote_compat_parse_interval(str, &secs, &error) == 0 &&
	    secs > 0 && (time_t)secs < ioloop_time) {
		*since_r = ioloop_time - secs;
		return 0;
	}
	return doveadm_import_remote_fail(&doveadm_exit_code, EX_USAGE,
		"Invalid --since '%s': use a day (YYYY-MM-DD) or how long "
		"ago (such as 30 mins, 2h or 7d)", str_sanitize(str, 64));
}

/* --limit: 1..ADMIN_LIMIT_MAX, default ADMIN_LIMIT_DEFAULT */
static int admin_parse_limit(struct doveadm_cmd_context *cctx,
			     unsigned int *limit_r)
{
	int64_t num;

	*limit_r = ADMIN_LIMIT_DEFAULT;
	if (!doveadm_cmd_param_int64(cctx, "limit", &num))
		return 0;
	if (num < 1 || num > ADMIN_LIMIT_MAX) {
		return doveadm_import_remote_fail(&doveadm_exit_code, EX_USAGE,
			"Invalid --limit %"PRId64": use 1 to %u",
			num, ADMIN_LIMIT_MAX);
	}
	*limit_r = num;
	return 0;
}

int doveadm_import_remote_read_job_filter(struct doveadm_cmd_context *cctx,
					  pool_t pool,
					  struct job_list_filter *filter_r,
					  unsigned int *limit_r)
{
	const char *str;

	i_zero(filter_r);
	if (doveadm_cmd_param_str(cctx, "status", &str) &&
	    admin_parse_status(str, &filter_r->status_mask) < 0)
		return -1;
	if (doveadm_cmd_param_str(cctx, "host", &str)) {
		if (str[0] == '\0') {
			return doveadm_import_remote_fail(&doveadm_exit_code,
				EX_USAGE, "Invalid --host: empty");
		}
		filter_r->host = p_strdup(pool, str);
	}
	if (doveadm_cmd_param_str(cctx, "since", &str) &&
	    admin_parse_since(str, &filter_r->since) < 0)
		return -1;
	(void)doveadm_cmd_param_bool(cctx, "all",
				     &filter_r->include_superseded);
	return admin_parse_limit(cctx, limit_r);
}

/* --- jobs --- */

static void admin_jobs_header(void)
{
	doveadm_print_header_simple("job");
	doveadm_print_header_simple("user");
	doveadm_print_header_simple("status");
	doveadm_print_header_simple("source");
	/* done/total, as status shows them */
	doveadm_print_header_simple("folders");
	doveadm_print_header_simple("messages");
	doveadm_print_header_simple("bytes");
	doveadm_print_header_simple("started");
	doveadm_print_header_simple("updated");
	doveadm_print_header_simple("finished");
	doveadm_import_remote_header_num("retry");
	doveadm_print_header_simple("error");
	doveadm_print_header_simple("error_title");
	/* the job that a retry queued in its place (--all shows them) */
	doveadm_print_header_simple("retried_by");
	/* a queued job whose source host (or account) has all the
	   connections its cap allows in use: what it waits for */
	doveadm_print_header_simple("waiting");
	/* the folder a running job copies now (the source's name) */
	doveadm_print_header_simple("folder");
}

static void admin_jobs_print(const struct job *job, const char *waiting)
{
	const char *folder;
	enum import_remote_error_code code =
		import_remote_error_from_name(job->error_code);
	bool known = code != IMPORT_REMOTE_ERROR_COUNT &&
		code != IMPORT_REMOTE_ERROR_NONE;

	doveadm_print(dec2str(job->id));
	doveadm_import_remote_print_text(job->username);
	doveadm_print(job_status_name(job->status));
	doveadm_import_remote_print_text(t_strdup_printf("%s:%u", job->source_host,
					 job->source_port));
	doveadm_print(t_strdup_printf("%u/%u", job->folders_done,
				      job->folders_total));
	doveadm_print(t_strdup_printf("%u/%u", job->msgs_done,
				      job->msgs_total));
	doveadm_print(t_strdup_printf("%llu/%llu", job->bytes_done,
				      job->bytes_total));
	doveadm_print(admin_time(job->started));
	doveadm_print(admin_time(job->updated));
	doveadm_print(admin_time(job->finished));
	doveadm_print_num(job->retry_count);
	doveadm_import_remote_print_text(job->error_code);
	doveadm_print(known ? import_remote_error_get_title_detail(code,
				job->error_detail) : "");
	doveadm_print(job->superseded_by == 0 ? "" :
		      dec2str(job->superseded_by));
	doveadm_import_remote_print_text(waiting == NULL ? "" : waiting);
	folder = job_runner_current_folder(job);
	doveadm_import_remote_print_text(folder == NULL ? "" : folder);
}

static void cmd_import_remote_jobs(struct doveadm_cmd_context *cctx)
{
	struct job_list_filter filter;
	struct job_cap_usage *usage;
	struct job_store *store;
	ARRAY_TYPE(job) jobs;
	const struct job *job;
	unsigned int limit, shown;
	const char *error;
	pool_t pool;

	pool = pool_alloconly_create("import-remote jobs", 16384);
	if (doveadm_import_remote_read_job_filter(cctx, pool, &filter,
						  &limit) < 0) {
		pool_unref(&pool);
		return;
	}
	if (doveadm_import_remote_store_open(cctx, NULL, &store, NULL,
					     &doveadm_exit_code) < 0) {
		pool_unref(&pool);
		return;
	}
	/* one more than shown: whether there are more is said */
	filter.limit = limit + 1;
	p_array_init(&jobs, pool, I_MIN(limit + 1, 256));
	if (job_store_list(store, pool, &filter, &jobs, &error) < 0 ||
	    job_store_cap_usage(store, pool, JOB_RUNNER_DEFAULT_TAKEOVER_SECS,
				&usage, &error) < 0) {
		e_error(import_remote_event(), "%s", error);
		doveadm_exit_code = EX_TEMPFAIL;
	} else {
		doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
		admin_jobs_header();
		shown = 0;
		array_foreach(&jobs, job) {
			if (shown++ == limit)
				break;
			admin_jobs_print(job, job_cap_usage_waiting(store,
							usage, job));
		}
		if (array_count(&jobs) > limit) {
			e_info(import_remote_event(), "The newest %u matching "
			       "job%s shown; there are more (--limit)", limit,
			       limit == 1 ? " is" : "s are");
		}
	}
	job_store_close(&store);
	pool_unref(&pool);
}

struct doveadm_cmd_ver2 doveadm_cmd_import_remote_jobs = {
	.name = "import-remote jobs",
	.cmd = cmd_import_remote_jobs,
	.usage = "[--status <status>[,<status>...]] [--host <host>] "
		"[--since <YYYY-MM-DD>|<time ago>] [--limit <n>] [--all]",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('\0', "status", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "host", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "since", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "limit", CMD_PARAM_INT64, 0)
DOVEADM_CMD_PARAM('\0', "all", CMD_PARAM_BOOL, 0)
DOVEADM_CMD_PARAMS_END
};

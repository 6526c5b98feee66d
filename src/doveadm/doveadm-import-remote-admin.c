/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* An administrator's view of the whole job store: "jobs" lists the jobs of
   every user (filtered by status, source host and time), "top" redraws the
   live and queued ones until interrupted. Plain commands: no -u, no user
   lookup; the store comes from the global settings. Nothing of a job's
   password is ever read into what they print. */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "str-sanitize.h"
#include "unichar.h"
#include "ioloop.h"
#include "sleep.h"
#include "lib-signals.h"
#include "write-full.h"
#include "time-util.h"
#include "master-service.h"
#include "doveadm.h"
#include "doveadm-cmd.h"
#include "doveadm-print.h"
#include "import-progress.h"
#include "import-remote-compat.h"
#include "import-remote-error.h"
#include "import-remote-settings.h"
#include "job-store.h"
#include "job-runner.h"
#include "doveadm-import-remote.h"

#include <unistd.h>
#include <sys/ioctl.h>
#include <termios.h>

#define ADMIN_LIMIT_DEFAULT 100
#define ADMIN_LIMIT_MAX 100000
#define ADMIN_TOP_INTERVAL_DEFAULT 2
#define ADMIN_TOP_INTERVAL_MAX 3600
/* how often top looks whether it was interrupted while it waits */
#define ADMIN_TOP_POLL_MSECS 100

#define JOB_STATUS_BIT(status) (1U << (status))
#define JOB_STATUS_LIVE_MASK \
	(JOB_STATUS_BIT(JOB_STATUS_PREPARING) | \
	 JOB_STATUS_BIT(JOB_STATUS_RUNNING))

/* Text from the store (every byte of it hostile) as one harmless line of
   at most max_chars characters (cut with '~'): C0 and C1 control
   characters (the 8-bit CSI among them), DEL, line separators, the
   direction overrides and bytes that are no UTF-8 become '?'.
   *chars_r is how many characters it has. */
static const char *
admin_text(const char *text, unsigned int max_chars, unsigned int *chars_r)
{
	size_t i, len = text == NULL ? 0 : strlen(text);
	/* the end of the first max_chars - 1 characters */
	size_t cut = 0;
	unsigned int chars = 0;
	unichar_t chr;
	string_t *str;
	int n;

	i_assert(max_chars > 0);
	str = t_str_new(I_MIN(len, 256) + 1);
	for (i = 0; i < len; chars++) {
		if (chars + 1 == max_chars)
			cut = str_len(str);
		if (chars == max_chars) {
			/* more than fits */
			str_truncate(str, cut);
			str_append_c(str, '~');
			break;
		}
		n = uni_utf8_get_char_n(text + i, len - i, &chr);
		if (n <= 0) {
			str_append_c(str, '?');
			i++;
			continue;
		}
		if (chr < 0x20 || (chr >= 0x7f && chr < 0xa0) ||
		    chr == 0x2028 || chr == 0x2029 ||
		    (chr >= 0x202a && chr <= 0x202e) ||
		    (chr >= 0x2066 && chr <= 0x2069))
			str_append_c(str, '?');
		else
			str_append_data(str, text + i, n);
		i += n;
	}
	if (chars_r != NULL)
		*chars_r = chars;
	return str_c(str);
}

static void admin_print_text(const char *text)
{
	doveadm_print(admin_text(text, 4096, NULL));
}

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

/* The filter options every command of this file has: --host (and
   --status, --since, --all where declared) */
static int admin_parse_filter(struct doveadm_cmd_context *cctx, pool_t pool,
			      struct job_list_filter *filter_r)
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
	return 0;
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
}

static void admin_jobs_print(const struct job *job)
{
	enum import_remote_error_code code =
		import_remote_error_from_name(job->error_code);
	bool known = code != IMPORT_REMOTE_ERROR_COUNT &&
		code != IMPORT_REMOTE_ERROR_NONE;

	doveadm_print(dec2str(job->id));
	admin_print_text(job->username);
	doveadm_print(job_status_name(job->status));
	admin_print_text(t_strdup_printf("%s:%u", job->source_host,
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
	admin_print_text(job->error_code);
	doveadm_print(known ? import_remote_error_get_title_detail(code,
				job->error_detail) : "");
	doveadm_print(job->superseded_by == 0 ? "" :
		      dec2str(job->superseded_by));
}

static void cmd_import_remote_jobs(struct doveadm_cmd_context *cctx)
{
	struct job_list_filter filter;
	struct job_store *store;
	ARRAY_TYPE(job) jobs;
	const struct job *job;
	unsigned int limit, shown;
	const char *error;
	pool_t pool;

	pool = pool_alloconly_create("import-remote jobs", 16384);
	if (admin_parse_filter(cctx, pool, &filter) < 0 ||
	    admin_parse_limit(cctx, &limit) < 0) {
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
	if (job_store_list(store, pool, &filter, &jobs, &error) < 0) {
		i_error("import-remote: %s", error);
		doveadm_exit_code = EX_TEMPFAIL;
	} else {
		doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
		admin_jobs_header();
		shown = 0;
		array_foreach(&jobs, job) {
			if (shown++ == limit)
				break;
			admin_jobs_print(job);
		}
		if (array_count(&jobs) > limit) {
			i_info("import-remote: The newest %u matching "
			       "job%s shown; there are more (--limit)", limit,
			       limit == 1 ? " is" : "s are");
		}
	}
	job_store_close(&store);
	pool_unref(&pool);
}

/* --- top --- */

struct admin_top {
	struct job_store *store;
	struct job_list_filter filter;
	unsigned int limit;
	unsigned int interval_secs;
	bool tty;
	bool once;
	/* the terminal's size (tty only) */
	unsigned int columns, rows;
	/* a frame's jobs, cleared for each */
	pool_t frame_pool;
};

/* A column: its title, its width in characters, right-aligned */
struct admin_top_column {
	const char *title;
	unsigned int width;
	bool right;
};

enum admin_top_column_idx {
	TOP_JOB,
	TOP_STATUS,
	TOP_USER,
	TOP_MESSAGES,
	TOP_BYTES,
	TOP_RATE,
	TOP_ETA,
	TOP_SOURCE,
	TOP_FOLDERS,
	TOP_RETRY,
	TOP_UPDATED,

	TOP_COLUMN_COUNT
};

static const struct admin_top_column admin_top_columns[TOP_COLUMN_COUNT] = {
	[TOP_JOB] = { "JOB", 8, TRUE },
	[TOP_STATUS] = { "STATUS", 9, FALSE },
	[TOP_USER] = { "USER", 24, FALSE },
	[TOP_MESSAGES] = { "MESSAGES", 13, TRUE },
	[TOP_BYTES] = { "BYTES", 19, TRUE },
	[TOP_RATE] = { "RATE", 11, TRUE },
	[TOP_ETA] = { "ETA", 8, TRUE },
	[TOP_SOURCE] = { "SOURCE", 28, FALSE },
	[TOP_FOLDERS] = { "FOLDERS", 9, TRUE },
	[TOP_RETRY] = { "RETRY", 5, TRUE },
	[TOP_UPDATED] = { "UPDATED", 8, FALSE },
};

static void admin_top_pad(string_t *frame, unsigned int pad)
{
	for (; pad > 0; pad--)
		str_append_c(frame, ' ');
}

/* the cells of one line, each sanitized, cut and padded to its column */
static void admin_top_line(string_t *frame, const char *const *cells)
{
	const struct admin_top_column *col;
	const char *text;
	unsigned int i, chars, pad;

	for (i = 0; i < TOP_COLUMN_COUNT; i++) {
		col = &admin_top_columns[i];
		text = admin_text(cells[i], col->width, &chars);
		pad = col->width > chars ? col->width - chars : 0;
		if (i > 0)
			str_append_c(frame, ' ');
		/* no spaces at the end of the line */
		if (!col->right && i + 1 == TOP_COLUMN_COUNT)
			pad = 0;
		if (col->right)
			admin_top_pad(frame, pad);
		str_append(frame, text);
		if (!col->right)
			admin_top_pad(frame, pad);
	}
	str_append_c(frame, '\n');
}

static const char *admin_top_size_pair(uoff_t done, uoff_t total)
{
	if (done == 0 && total == 0)
		return "";
	return t_strdup_printf("%s/%s", import_progress_format_size(done),
			       import_progress_format_size(total));
}

static void admin_top_job(string_t *frame, const struct job *job)
{
	const char *cells[TOP_COLUMN_COUNT];
	struct import_progress progress;
	bool live = (JOB_STATUS_BIT(job->status) & JOB_STATUS_LIVE_MASK) != 0;
	int eta = -1;

	job_runner_get_progress(job, ioloop_time, &progress);
	if (live)
		eta = import_progress_get_eta_secs(&progress);
	cells[TOP_JOB] = dec2str(job->id);
	cells[TOP_STATUS] = job_status_name(job->status);
	cells[TOP_USER] = job->username;
	cells[TOP_MESSAGES] = job->msgs_total == 0 && job->msgs_done == 0 ? "" :
		t_strdup_printf("%u/%u", job->msgs_done, job->msgs_total);
	cells[TOP_BYTES] = admin_top_size_pair(job->bytes_done,
					       job->bytes_total);
	cells[TOP_RATE] = !live || progress.elapsed_msecs == 0 ? "" :
		t_strconcat(import_progress_format_size(
			import_progress_get_rate(&progress)), "/s", NULL);
	cells[TOP_ETA] = eta < 0 ? "" : import_progress_format_duration(eta);
	cells[TOP_SOURCE] = t_strdup_printf("%s:%u", job->source_host,
					    job->source_port);
	cells[TOP_FOLDERS] = job->folders_total == 0 ? "" :
		t_strdup_printf("%u/%u", job->folders_done,
				job->folders_total);
	cells[TOP_RETRY] = job->retry_count == 0 ? "" :
		t_strdup_printf("%u/%u", job->retry_count, job->retry_limit);
	cells[TOP_UPDATED] = job->updated == 0 ? "" :
		t_strflocaltime("%H:%M:%S", job->updated);
	admin_top_line(frame, cells);
}

/* The list once: a title line with the counts, the columns' titles, the
   live jobs, then the queued ones (each newest first), as many as fit.
   Returns 0, or -1 with error_r. */
static int admin_top_frame(struct admin_top *top, string_t *frame,
			   const char **error_r)
{
	struct job_list_filter filter = top->filter;
	unsigned int counts[JOB_STATUS_COUNT], shown, rows = top->limit;
	const char *titles[TOP_COLUMN_COUNT];
	ARRAY_TYPE(job) jobs;
	const struct job *job;
	unsigned int i, more;

	p_clear(top->frame_pool);
	filter.status_mask = JOB_STATUS_LIVE_MASK |
		JOB_STATUS_BIT(JOB_STATUS_QUEUED);
	if (job_store_count(top->store, &filter, counts, error_r) < 0)
		return -1;
	if (top->tty && top->rows > 0) {
		/* the title, the columns' titles, "more" and the cursor's
		   line */
		rows = top->rows > 4 ? I_MIN(rows, top->rows - 4) : 1;
	}
	p_array_init(&jobs, top->frame_pool, I_MIN(rows, 256));
	filter.status_mask = JOB_STATUS_LIVE_MASK;
	filter.limit = rows;
	if (job_store_list(top->store, top->frame_pool, &filter, &jobs,
			   error_r) < 0)
		return -1;
	if (array_count(&jobs) < rows) {
		filter.status_mask = JOB_STATUS_BIT(JOB_STATUS_QUEUED);
		filter.limit = rows - array_count(&jobs);
		if (job_store_list(top->store, top->frame_pool, &filter, &jobs,
				   error_r) < 0)
			return -1;
	}

	str_printfa(frame, "import-remote top %s: %u running, %u preparing, "
		    "%u queued", t_strflocaltime("%Y-%m-%d %H:%M:%S",
						 ioloop_time),
		    counts[JOB_STATUS_RUNNING], counts[JOB_STATUS_PREPARING],
		    counts[JOB_STATUS_QUEUED]);
	if (top->filter.host != NULL) {
		str_printfa(frame, " (host %s)",
			    admin_text(top->filter.host, 64, NULL));
	}
	if (!top->once)
		str_printfa(frame, ", every %u s", top->interval_secs);
	str_append_c(frame, '\n');
	for (i = 0; i < TOP_COLUMN_COUNT; i++)
		titles[i] = admin_top_columns[i].title;
	admin_top_line(frame, titles);
	array_foreach(&jobs, job)
		admin_top_job(frame, job);
	shown = array_count(&jobs);
	more = counts[JOB_STATUS_RUNNING] + counts[JOB_STATUS_PREPARING] +
		counts[JOB_STATUS_QUEUED];
	/* the counts and the list are two reads: jobs may have come since */
	if (more > shown) {
		str_printfa(frame, "... and %u more (%s)\n", more - shown,
			    top->tty ? "a larger terminal shows more" :
			    "--limit");
	}
	return 0;
}

/* On a terminal the lines are cut at its width */
static void admin_top_fit(struct admin_top *top, string_t *frame)
{
	const char *const *lines;
	string_t *fitted;
	unsigned int chars;

	if (!top->tty || top->columns == 0)
		return;
	fitted = t_str_new(str_len(frame));
	/* the sequences that take the cursor home and clear the screen */
	str_append(fitted, "\033[H\033[2J");
	lines = t_strsplit(str_c(frame), "\n");
	for (; *lines != NULL; lines++) {
		if (**lines == '\0' && lines[1] == NULL)
			break;
		/* every character of it is harmless by now: cut only,
		   short of the last column (no wrap on any terminal) */
		str_append(fitted, admin_text(*lines, top->columns > 1 ?
					      top->columns - 1 : 1, &chars));
		str_append_c(fitted, '\n');
	}
	str_truncate(frame, 0);
	str_append_str(frame, fitted);
}

static void admin_top_terminal_size(struct admin_top *top)
{
	struct winsize ws;

	top->columns = top->rows = 0;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) {
		top->columns = ws.ws_col;
		top->rows = ws.ws_row;
	}
}

/* Returns 0, 1 if stdout is gone (a pager or head ended), -1 */
static int admin_top_draw(struct admin_top *top)
{
	string_t *frame = t_str_new(4096);
	const char *error;

	io_loop_time_refresh();
	if (top->tty)
		admin_top_terminal_size(top);
	if (admin_top_frame(top, frame, &error) < 0) {
		i_error("import-remote: %s", error);
		doveadm_exit_code = EX_TEMPFAIL;
		return -1;
	}
	admin_top_fit(top, frame);
	if (!top->tty && !top->once)
		str_append_c(frame, '\n');
	if (write_full(STDOUT_FILENO, str_data(frame), str_len(frame)) < 0) {
		if (errno == EPIPE)
			return 1;
		i_error("import-remote: write(stdout) failed: %m");
		doveadm_exit_code = EX_IOERR;
		return -1;
	}
	return 0;
}

/* Wait for the next frame. Returns TRUE if SIGINT or SIGTERM came (the
   end, not an error). */
static bool admin_top_wait(unsigned int secs, unsigned int term_counter)
{
	unsigned int i;

	for (i = 0; i < secs * 1000 / ADMIN_TOP_POLL_MSECS; i++) {
		if (signal_term_counter != term_counter ||
		    master_service_is_killed(master_service))
			return TRUE;
		i_sleep_msecs(ADMIN_TOP_POLL_MSECS);
	}
	return signal_term_counter != term_counter ||
		master_service_is_killed(master_service);
}

static void cmd_import_remote_top(struct doveadm_cmd_context *cctx)
{
	struct admin_top top;
	unsigned int term_counter = signal_term_counter;
	int64_t num;
	pool_t pool;
	int ret;

	i_zero(&top);
	top.interval_secs = ADMIN_TOP_INTERVAL_DEFAULT;
	if (cctx->conn_type != DOVEADM_CONNECTION_TYPE_CLI) {
		(void)doveadm_import_remote_fail(&doveadm_exit_code, EX_USAGE,
			"top works on the command line only (use jobs)");
		return;
	}
	if (doveadm_cmd_param_int64(cctx, "interval", &num)) {
		if (num < 1 || num > ADMIN_TOP_INTERVAL_MAX) {
			(void)doveadm_import_remote_fail(&doveadm_exit_code,
				EX_USAGE, "Invalid --interval %"PRId64": use "
				"1 to %u seconds", num, ADMIN_TOP_INTERVAL_MAX);
			return;
		}
		top.interval_secs = num;
	}
	(void)doveadm_cmd_param_bool(cctx, "once", &top.once);
	pool = pool_alloconly_create("import-remote top", 1024);
	if (admin_parse_filter(cctx, pool, &top.filter) < 0 ||
	    admin_parse_limit(cctx, &top.limit) < 0 ||
	    doveadm_import_remote_store_open(cctx, NULL, &top.store, NULL,
					     &doveadm_exit_code) < 0) {
		pool_unref(&pool);
		return;
	}
	top.frame_pool = pool_alloconly_create("import-remote top frame",
					       16384);
	/* --once draws like a pipe: no sequences that clear the screen */
	top.tty = !top.once && isatty(STDOUT_FILENO) == 1;
	for (;;) {
		T_BEGIN {
			ret = admin_top_draw(&top);
		} T_END;
		if (ret != 0 || top.once ||
		    admin_top_wait(top.interval_secs, term_counter))
			break;
	}
	job_store_close(&top.store);
	pool_unref(&top.frame_pool);
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

struct doveadm_cmd_ver2 doveadm_cmd_import_remote_top = {
	.name = "import-remote top",
	.cmd = cmd_import_remote_top,
	.usage = "[--interval <secs>] [--once] [--host <host>] [--limit <n>]",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('\0', "interval", CMD_PARAM_INT64, 0)
DOVEADM_CMD_PARAM('\0', "once", CMD_PARAM_BOOL, 0)
DOVEADM_CMD_PARAM('\0', "host", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "limit", CMD_PARAM_INT64, 0)
DOVEADM_CMD_PARAMS_END
};

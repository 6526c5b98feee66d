/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* "top": the live and queued jobs of every user, redrawn on a terminal
   every --interval seconds until SIGINT or SIGTERM; off a terminal, plain
   snapshots (or one with --once). A plain command, like "jobs". */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "ioloop.h"
#include "sleep.h"
#include "lib-signals.h"
#include "write-full.h"
#include "time-util.h"
#include "master-service.h"
#include "doveadm.h"
#include "doveadm-cmd.h"
#include "import-progress.h"
#include "job-store.h"
#include "job-runner.h"
#include "import-remote-event.h"
#include "job-caps.h"
#include "doveadm-import-remote.h"

#include <unistd.h>
#include <sys/ioctl.h>
#include <termios.h>

#define ADMIN_TOP_INTERVAL_DEFAULT 2
#define ADMIN_TOP_INTERVAL_MAX 3600
/* how often top looks whether it was interrupted while it waits */
#define ADMIN_TOP_POLL_MSECS 100

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
	/* the folder being copied (the source's name) */
	TOP_FOLDER,
	TOP_RETRY,
	TOP_UPDATED,
	/* a queued job whose host's (or account's) connections are all in
	   use: "waiting for <host>: 8 of 8 connections in use" */
	TOP_WAITING,

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
	[TOP_FOLDER] = { "FOLDER", 20, FALSE },
	[TOP_RETRY] = { "RETRY", 5, TRUE },
	[TOP_UPDATED] = { "UPDATED", 8, FALSE },
	[TOP_WAITING] = { "WAITING", 96, FALSE },
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
		text = doveadm_import_remote_sanitize(cells[i], col->width, &chars);
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
	/* nor after the last cells when they are empty */
	while (str_len(frame) > 0 && str_data(frame)[str_len(frame) - 1] == ' ')
		str_truncate(frame, str_len(frame) - 1);
	str_append_c(frame, '\n');
}

static const char *admin_top_size_pair(uoff_t done, uoff_t total)
{
	if (done == 0 && total == 0)
		return "";
	return t_strdup_printf("%s/%s", import_progress_format_size(done),
			       import_progress_format_size(total));
}

static void admin_top_job(string_t *frame, const struct job *job,
			  const char *waiting)
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
	cells[TOP_FOLDER] = job->folder == NULL ? "" : job->folder;
	cells[TOP_RETRY] = job->retry_count == 0 ? "" :
		t_strdup_printf("%u/%u", job->retry_count, job->retry_limit);
	cells[TOP_UPDATED] = job->updated == 0 ? "" :
		t_strflocaltime("%H:%M:%S", job->updated);
	cells[TOP_WAITING] = waiting == NULL ? "" : waiting;
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
	struct job_cap_usage *usage;
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
	if (job_store_cap_usage(top->store, top->frame_pool,
				JOB_RUNNER_DEFAULT_TAKEOVER_SECS, &usage,
				error_r) < 0)
		return -1;

	str_printfa(frame, "import-remote top %s: %u running, %u preparing, "
		    "%u queued", t_strflocaltime("%Y-%m-%d %H:%M:%S",
						 ioloop_time),
		    counts[JOB_STATUS_RUNNING], counts[JOB_STATUS_PREPARING],
		    counts[JOB_STATUS_QUEUED]);
	if (top->filter.host != NULL) {
		str_printfa(frame, " (host %s)",
			    doveadm_import_remote_sanitize(top->filter.host, 64, NULL));
	}
	if (!top->once)
		str_printfa(frame, ", every %u s", top->interval_secs);
	str_append_c(frame, '\n');
	for (i = 0; i < TOP_COLUMN_COUNT; i++)
		titles[i] = admin_top_columns[i].title;
	admin_top_line(frame, titles);
	array_foreach(&jobs, job)
		admin_top_job(frame, job, job_cap_usage_waiting(top->store,
							       usage, job));
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
		str_append(fitted, doveadm_import_remote_sanitize(*lines, top->columns > 1 ?
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
		e_error(import_remote_event(), "%s", error);
		doveadm_exit_code = EX_TEMPFAIL;
		return -1;
	}
	admin_top_fit(top, frame);
	if (!top->tty && !top->once)
		str_append_c(frame, '\n');
	if (write_full(STDOUT_FILENO, str_data(frame), str_len(frame)) < 0) {
		if (errno == EPIPE)
			return 1;
		e_error(import_remote_event(), "write(stdout) failed: %m");
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
	if (doveadm_import_remote_read_job_filter(cctx, pool, &top.filter,
						  &top.limit) < 0 ||
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

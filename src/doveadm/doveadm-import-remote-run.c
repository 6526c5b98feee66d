/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "doveadm.h"
#include "doveadm-cmd.h"
#include "doveadm-mail.h"
#include "doveadm-print.h"
#include "str-sanitize.h"
#include "import-remote-settings.h"
#include "import-progress.h"
#include "import-run.h"
#include "doveadm-import-remote-compat.h"
#include "doveadm-import-remote.h"

#include <stdio.h>
#include <unistd.h>
#include <fcntl.h>

/* How often progress is shown: redrawn in place on a terminal, a plain line
   otherwise (logs, control panels reading the output). */
#define PROGRESS_TTY_INTERVAL_MSECS 250
#define PROGRESS_PLAIN_INTERVAL_MSECS 5000

struct import_remote_run_cmd_context {
	struct doveadm_mail_cmd_context ctx;
	struct import_remote_settings set;
	bool stderr_is_tty;
	bool quiet;
	unsigned int last_progress_msecs;
	size_t last_line_len;
};

static bool
import_remote_run_progress(const struct import_progress *progress,
			   bool final, void *context)
{
	struct import_remote_run_cmd_context *ctx = context;
	unsigned int interval = ctx->stderr_is_tty ?
		PROGRESS_TTY_INTERVAL_MSECS : PROGRESS_PLAIN_INTERVAL_MSECS;
	const char *line;

	if (ctx->quiet)
		return TRUE;
	if (!final && progress->elapsed_msecs < ctx->last_progress_msecs + interval)
		return TRUE;
	ctx->last_progress_msecs = progress->elapsed_msecs;

	line = import_progress_format_line(progress);
	if (ctx->stderr_is_tty) {
		/* redraw in place; pad over a longer previous line */
		fprintf(stderr, "\r%s", line);
		if (strlen(line) < ctx->last_line_len) {
			fprintf(stderr, "%*s", (int)(ctx->last_line_len -
						    strlen(line)), "");
		}
		ctx->last_line_len = strlen(line);
		if (final)
			fputc('\n', stderr);
	} else {
		fprintf(stderr, "progress: %s\n", line);
	}
	fflush(stderr);
	return TRUE;
}

static void import_remote_run_init(DOVEADM_IMPORT_REMOTE_INIT_ARGS)
{
	struct import_remote_run_cmd_context *ctx =
		(struct import_remote_run_cmd_context *)_ctx;
	struct import_remote_settings *set = &ctx->set;

	if (doveadm_import_remote_read_options(_ctx, set) < 0)
		return;
	(void)doveadm_cmd_param_bool(_ctx->cctx, "dry-run", &set->dry_run);
	(void)doveadm_cmd_param_bool(_ctx->cctx, "quiet", &ctx->quiet);
	ctx->stderr_is_tty = isatty(STDERR_FILENO) == 1;

	if (set->dry_run) {
		doveadm_print_header_simple("source");
		doveadm_print_header_simple("destination");
		doveadm_print_header("messages", "messages",
				     DOVEADM_PRINT_HEADER_FLAG_NUMBER);
		doveadm_print_header("bytes", "bytes",
				     DOVEADM_PRINT_HEADER_FLAG_NUMBER);
		doveadm_print_header_simple("note");
	} else {
		doveadm_print_header_simple("result");
		doveadm_print_header("imported", "imported",
				     DOVEADM_PRINT_HEADER_FLAG_NUMBER);
		doveadm_print_header("skipped_duplicates", "skipped_duplicates",
				     DOVEADM_PRINT_HEADER_FLAG_NUMBER);
		doveadm_print_header("filtered_by_date", "filtered_by_date",
				     DOVEADM_PRINT_HEADER_FLAG_NUMBER);
		doveadm_print_header("failed", "failed",
				     DOVEADM_PRINT_HEADER_FLAG_NUMBER);
		doveadm_print_header("bytes", "bytes",
				     DOVEADM_PRINT_HEADER_FLAG_NUMBER);
		doveadm_print_header("folders", "folders",
				     DOVEADM_PRINT_HEADER_FLAG_NUMBER);
		doveadm_print_header_simple("seconds");
		doveadm_print_header_simple("error");
		doveadm_print_header_simple("error_title");
		doveadm_print_header_simple("error_detail");
		doveadm_print_header_simple("hint");
		doveadm_print_header("reconnects", "reconnects",
				     DOVEADM_PRINT_HEADER_FLAG_NUMBER);
		doveadm_print_header_simple("last_disconnect");
		/* a row per failed message (result=message_failed) */
		doveadm_import_remote_header_failed_message();
	}
}

static void
import_remote_run_print_plan(const struct import_run_result *result)
{
	const struct import_run_folder *folder;

	array_foreach(&result->folders, folder) {
		doveadm_import_remote_print_text(folder->source_name);
		doveadm_import_remote_print_text(folder->dest_name == NULL ?
						 "-" : folder->dest_name);
		doveadm_print_num(folder->msgs);
		doveadm_print_num(folder->bytes);
		doveadm_import_remote_print_text(folder->note);
	}
}

static void
import_remote_run_print_summary(struct import_remote_run_cmd_context *ctx,
				const struct import_run_result *result)
{
	const struct import_progress *p = &result->progress;
	const struct import_remote_error_info *info =
		import_remote_error_get_info(result->error.code);
	const char *hint = import_remote_error_get_hint_detail(
		result->error.code, result->error.detail, ctx->set.host);
	unsigned int i;

	doveadm_print(result->error.code == IMPORT_REMOTE_ERROR_NONE ?
		      "completed" : "failed");
	doveadm_print_num(p->imported);
	doveadm_print_num(p->skipped_duplicates);
	doveadm_print_num(p->filtered_by_date);
	doveadm_print_num(p->failed);
	doveadm_print_num(p->bytes_imported);
	doveadm_print_num(p->folders_done);
	doveadm_print(t_strdup_printf("%u.%u", p->elapsed_msecs / 1000,
				      (p->elapsed_msecs % 1000) / 100));
	if (result->error.code == IMPORT_REMOTE_ERROR_NONE) {
		doveadm_print("");
		doveadm_print("");
		doveadm_print("");
		doveadm_print("");
	} else {
		doveadm_print(info->name);
		doveadm_print(info->title);
		doveadm_import_remote_print_text(result->error.detail);
		doveadm_print(hint);
	}
	doveadm_print_num(p->reconnects);
	/* a server's words (a BYE's text) can be in it */
	doveadm_import_remote_print_text(p->last_disconnect);
	for (i = 0; i < 6; i++)
		doveadm_print("");
}

/* The messages that could not be imported, a row each after the summary */
static void
import_remote_run_print_failed(const struct import_run_result *result)
{
	const struct import_failed_message *msg;
	unsigned int i;

	array_foreach(&result->failed_messages, msg) {
		doveadm_print("message_failed");
		/* the summary's columns: 0 where a number is due (JSON) */
		for (i = 0; i < 6; i++)
			doveadm_print_num(0);
		for (i = 0; i < 5; i++)
			doveadm_print("");
		doveadm_print_num(0);
		doveadm_print("");
		doveadm_import_remote_print_failed_message(msg);
	}
}

static int
import_remote_run_run(struct doveadm_mail_cmd_context *_ctx,
		      struct mail_user *user)
{
	struct import_remote_run_cmd_context *ctx =
		(struct import_remote_run_cmd_context *)_ctx;
	struct import_run_result result;
	const char *warning;
	int ret;

	/* 2.3 runs the command even when init() failed */
	if (_ctx->exit_code != 0)
		return -1;
	ret = import_run(user, &ctx->set, import_remote_run_progress, NULL, ctx,
			 _ctx->pool, &result);
	array_foreach_elem(&result.warnings, warning)
		i_warning("import-remote: %s", str_sanitize_utf8(warning, 4096));
	if (ctx->set.dry_run)
		import_remote_run_print_plan(&result);
	if (ret < 0) {
		const struct import_remote_error_info *info =
			import_remote_error_get_info(result.error.code);

		i_error("import-remote: %s: %s", info->title,
			str_sanitize_utf8(result.error.detail == NULL ? "" :
					  result.error.detail, 4096));
		_ctx->exit_code = info->exit_code;
	}
	if (result.progress.failed > 0) {
		i_warning("import-remote: %u messages could not be imported "
			  "and were skipped (the rows with "
			  "result=message_failed say why)",
			  result.progress.failed);
	}
	if (!ctx->set.dry_run) {
		import_remote_run_print_summary(ctx, &result);
		import_remote_run_print_failed(&result);
	}
	return ret;
}

static struct doveadm_mail_cmd_context *import_remote_run_alloc(void)
{
	struct import_remote_run_cmd_context *ctx;

	ctx = doveadm_mail_cmd_alloc(struct import_remote_run_cmd_context);
	ctx->ctx.v.init = import_remote_run_init;
	ctx->ctx.v.run = import_remote_run_run;
	doveadm_print_init(DOVEADM_PRINT_TYPE_FLOW);
	return &ctx->ctx;
}

struct doveadm_cmd_ver2 doveadm_cmd_import_remote_run = {
	.name = "import-remote run",
	.cmd = doveadm_import_remote_mail_cmd,
	.mail_cmd = import_remote_run_alloc,
	.usage = "-u <user> "DOVEADM_IMPORT_REMOTE_SOURCE_USAGE
		" [--dry-run] [--quiet]",
DOVEADM_CMD_PARAMS_START
DOVEADM_IMPORT_REMOTE_CMD_USER_PARAMS
DOVEADM_IMPORT_REMOTE_SOURCE_PARAMS
DOVEADM_CMD_PARAM('\0', "dry-run", CMD_PARAM_BOOL, 0)
DOVEADM_CMD_PARAM('\0', "quiet", CMD_PARAM_BOOL, 0)
DOVEADM_CMD_PARAMS_END
};

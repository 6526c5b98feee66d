/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "safe-memset.h"
#include "array.h"
#include "str.h"
#include "istream.h"
#include "doveadm.h"
#include "doveadm-cmd.h"
#include "doveadm-mail.h"
#include "doveadm-print.h"
#include "str-sanitize.h"
#include "import-remote-settings.h"
#include "import-progress.h"
#include "import-run.h"
#include "doveadm-import-remote-compat.h"
#include "import-remote-error.h"
#include "import-remote-event.h"
#include "import-remote-audit.h"
#include "doveadm-import-remote-token-file.h"
#include "doveadm-import-remote.h"
#include "doveadm-import-remote-progress.h"

#include <stdio.h>
#include <unistd.h>
#include <fcntl.h>

/* How often progress is shown: redrawn in place on a terminal, a plain line
   otherwise (logs, control panels reading the output). */
#define PROGRESS_TTY_INTERVAL_MSECS 250
#define PROGRESS_PLAIN_INTERVAL_MSECS 5000
/* failed messages said on standard error, the rest counted */
#define RUN_MAX_FAILED_WARNINGS 100

struct import_remote_run_cmd_context {
	struct doveadm_mail_cmd_context ctx;
	struct import_remote_settings set;
	struct doveadm_import_remote_progress display;
	/* the audit lines' way to Dovecot's log */
	struct import_remote_audit *audit;
	/* --refresh-token-file: where a rotated refresh token is kept;
	   --refresh-token-stdin: nowhere */
	struct doveadm_import_remote_token_file *token_file;
	bool refresh_stdin;
	bool quiet;
	bool list_failed;
	unsigned int last_progress_msecs;
};

static bool
import_remote_run_progress(const struct import_progress *progress,
			   bool final, void *context)
{
	struct import_remote_run_cmd_context *ctx = context;
	unsigned int interval = ctx->display.tty ?
		PROGRESS_TTY_INTERVAL_MSECS : PROGRESS_PLAIN_INTERVAL_MSECS;

	/* a plan transfers nothing: no transfer line (0.0 kB/s) */
	if (ctx->quiet || ctx->set.dry_run)
		return TRUE;
	if (!final && progress->elapsed_msecs < ctx->last_progress_msecs + interval)
		return TRUE;
	ctx->last_progress_msecs = progress->elapsed_msecs;
	doveadm_import_remote_progress_draw(&ctx->display, NULL, progress,
					    final);
	return TRUE;
}

/* The token endpoint rotated the refresh token (the one given is spent):
   the new one is written to the file it was read from. The token itself is
   never printed or logged. */
static void import_remote_run_rotated(const char *refresh_token,
				      void *context)
{
	struct import_remote_run_cmd_context *ctx = context;
	const char *error;

	if (ctx->token_file == NULL) {
		e_warning(import_remote_event(), "The token endpoint rotated "
			"the refresh token: the one given%s is spent, and "
			"the new one is not kept (it is never printed; use "
			"--refresh-token-file, or authorize, to keep it)",
			ctx->refresh_stdin ? " on standard input" : "");
		return;
	}
	if (doveadm_import_remote_token_file_write(ctx->token_file,
						   refresh_token, &error) < 0) {
		e_warning(import_remote_event(), "The token endpoint rotated "
			"the refresh token, but writing the new one to %s "
			"failed: %s (the file still holds the old one, which "
			"is spent: sign in again for a new one)",
			doveadm_import_remote_token_file_path(ctx->token_file),
			error);
		return;
	}
	e_info(import_remote_event(), "The token endpoint rotated the "
	       "refresh token: the new one is written to %s",
	       doveadm_import_remote_token_file_path(ctx->token_file));
}

/* run --refresh-token-file: the file is kept for a rotated refresh token
   (its directory opened now, with the caller's rights) */
static void import_remote_run_token_file_init(struct import_remote_run_cmd_context *ctx)
{
	struct doveadm_mail_cmd_context *_ctx = &ctx->ctx;
	struct istream *input;
	const char *error;

	if (ctx->set.oauth2_grant != IMPORT_REMOTE_OAUTH2_GRANT_REFRESH_TOKEN ||
	    doveadm_import_remote_authorized(_ctx))
		return;
	(void)doveadm_cmd_param_bool(_ctx->cctx, "refresh-token-stdin",
				     &ctx->refresh_stdin);
	if (doveadm_cmd_param_istream(_ctx->cctx, "refresh-token-file",
				      &input)) {
		ctx->token_file = doveadm_import_remote_token_file_init(input,
							_ctx->pool, &error);
		if (ctx->token_file == NULL && error != NULL) {
			e_warning(import_remote_event(),
				"--refresh-token-file %s: a refresh token the "
				"endpoint rotates cannot be written back: %s",
				i_stream_get_name(input), error);
		}
	}
	ctx->set.oauth2_rotated_callback = import_remote_run_rotated;
	ctx->set.oauth2_rotated_context = ctx;
}

static void import_remote_run_init(DOVEADM_IMPORT_REMOTE_INIT_ARGS)
{
	struct import_remote_run_cmd_context *ctx =
		(struct import_remote_run_cmd_context *)_ctx;
	struct import_remote_settings *set = &ctx->set;

	if (doveadm_import_remote_read_options(_ctx, set) < 0)
		return;
	import_remote_run_token_file_init(ctx);
	(void)doveadm_cmd_param_bool(_ctx->cctx, "dry-run", &set->dry_run);
	(void)doveadm_cmd_param_bool(_ctx->cctx, "quiet", &ctx->quiet);
	(void)doveadm_cmd_param_bool(_ctx->cctx, "list-failed",
				     &ctx->list_failed);
	doveadm_import_remote_progress_init(&ctx->display);
	/* still root: Dovecot's log file is */
	ctx->audit = import_remote_audit_init();

	if (set->dry_run) {
		doveadm_print_header_simple("source");
		doveadm_print_header_simple("destination");
		doveadm_print_header("messages", "messages",
				     DOVEADM_PRINT_HEADER_FLAG_NUMBER);
		doveadm_print_header("to_copy", "to_copy",
				     DOVEADM_PRINT_HEADER_FLAG_NUMBER);
		doveadm_print_header("duplicates", "duplicates",
				     DOVEADM_PRINT_HEADER_FLAG_NUMBER);
		doveadm_print_header("filtered", "filtered",
				     DOVEADM_PRINT_HEADER_FLAG_NUMBER);
		doveadm_print_header("bytes", "bytes",
				     DOVEADM_PRINT_HEADER_FLAG_NUMBER);
		doveadm_print_header("bytes_to_copy", "bytes_to_copy",
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
		/* what copying every folder as it is would have stored */
		doveadm_print_header("mirror_messages", "mirror_messages",
				     DOVEADM_PRINT_HEADER_FLAG_NUMBER);
		doveadm_print_header("mirror_bytes", "mirror_bytes",
				     DOVEADM_PRINT_HEADER_FLAG_NUMBER);
		/* --list-failed: a row per failed message
		   (result=message_failed). Asked for, as the columns are
		   then the result row's too (empty): Dovecot 2.4's doveadm
		   takes no column once the command runs. */
		if (ctx->list_failed)
			doveadm_import_remote_header_failed_message();
	}
}

static const char *plural(unsigned int n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* The plan's rows by local name (INBOX first), as a person looks for
   them; a folder that is not copied by its own name */
static int
import_remote_run_folder_cmp(const struct import_run_folder *const *f1,
			     const struct import_run_folder *const *f2)
{
	const char *n1 = (*f1)->dest_name != NULL ? (*f1)->dest_name :
		(*f1)->source_name;
	const char *n2 = (*f2)->dest_name != NULL ? (*f2)->dest_name :
		(*f2)->source_name;
	bool inbox1 = strcmp(n1, "INBOX") == 0, inbox2 = strcmp(n2, "INBOX") == 0;
	int ret;

	if (inbox1 != inbox2)
		return inbox1 ? -1 : 1;
	ret = strcmp(n1, n2);
	return ret != 0 ? ret : strcmp((*f1)->source_name, (*f2)->source_name);
}

static void
import_remote_run_print_plan(const struct import_run_result *result)
{
	const struct import_run_folder *folder;
	ARRAY(const struct import_run_folder *) sorted;
	unsigned int msgs = 0, to_copy = 0, duplicates = 0, filtered = 0;
	unsigned int copied_folders = 0;
	uoff_t bytes = 0, bytes_to_copy = 0;
	const char *note, *last_dest = NULL;

	t_array_init(&sorted, array_count(&result->folders));
	array_foreach(&result->folders, folder)
		array_push_back(&sorted, &folder);
	array_sort(&sorted, import_remote_run_folder_cmp);

	array_foreach_elem(&sorted, folder) {
		doveadm_import_remote_print_text(folder->source_name);
		doveadm_import_remote_print_text(folder->dest_name == NULL ?
						 "-" : folder->dest_name);
		doveadm_print_num(folder->msgs);
		doveadm_print_num(folder->to_copy);
		doveadm_print_num(folder->skipped);
		doveadm_print_num(folder->filtered);
		doveadm_print_num(folder->listed_bytes);
		doveadm_print_num(folder->bytes_to_copy);
		note = folder->reason;
		if (folder->note[0] != '\0') {
			note = note[0] == '\0' ? folder->note :
				t_strdup_printf("%s; %s", note, folder->note);
		}
		doveadm_import_remote_print_text(note);

		msgs += folder->msgs;
		to_copy += folder->to_copy;
		duplicates += folder->skipped;
		filtered += folder->filtered;
		bytes += folder->listed_bytes;
		bytes_to_copy += folder->bytes_to_copy;
		/* (sorted: folders that land in one mailbox are together) */
		if (folder->dest_name != NULL &&
		    (last_dest == NULL || strcmp(folder->dest_name, last_dest) != 0)) {
			copied_folders++;
			last_dest = folder->dest_name;
		}
	}

	/* the totals: no folder row has an empty destination */
	doveadm_print("total");
	doveadm_print("");
	doveadm_print_num(msgs);
	doveadm_print_num(to_copy);
	doveadm_print_num(duplicates);
	doveadm_print_num(filtered);
	doveadm_print_num(bytes);
	doveadm_print_num(bytes_to_copy);
	doveadm_print(t_strdup_printf(
		"%u %s into %u %s (%s); a copy of every folder as it is: "
		"%u %s (%s)%s", to_copy, plural(to_copy, "message", "messages"),
		copied_folders, plural(copied_folders, "folder", "folders"),
		import_progress_format_size(bytes_to_copy),
		result->mirror_msgs,
		plural(result->mirror_msgs, "message", "messages"),
		import_progress_format_size(result->mirror_bytes),
		result->gmail ? "; Gmail: labels as folders, All Mail's "
		"other mail once, Starred and Important not copied "
		"(--mirror copies them all)" : ""));
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
		doveadm_print(import_remote_error_get_title_detail(
			result->error.code, result->error.detail));
		doveadm_import_remote_print_text(result->error.detail);
		doveadm_print(hint);
	}
	doveadm_print_num(p->reconnects);
	/* a server's words (a BYE's text) can be in it */
	doveadm_import_remote_print_text(p->last_disconnect);
	doveadm_print_num(result->mirror_msgs);
	doveadm_print_num(result->mirror_bytes);
	if (ctx->list_failed) {
		for (i = 0; i < 6; i++)
			doveadm_print("");
	}
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
		doveadm_print_num(0);
		doveadm_print_num(0);
		doveadm_import_remote_print_failed_message(msg);
	}
}

/* Without --list-failed, the messages that could not be imported are said
   where people read, a line each */
static void
import_remote_run_warn_failed(const struct import_run_result *result)
{
	const struct import_failed_message *msg;
	unsigned int count = array_count(&result->failed_messages);

	array_foreach(&result->failed_messages, msg) {
		if (array_foreach_idx(&result->failed_messages, msg) ==
		    RUN_MAX_FAILED_WARNINGS) {
			e_warning(import_remote_event(), "... and %u more "
				  "(--list-failed lists them all)",
				  count - RUN_MAX_FAILED_WARNINGS);
			break;
		}
		e_warning(import_remote_event(), "Not imported: %s",
			  doveadm_import_remote_failed_message_text(msg));
	}
}

/* What Gmail handling saved, said where people read it */
static void
import_remote_run_print_gmail(const struct import_run_result *result)
{
	const struct import_progress *p = &result->progress;

	/* a comparison that says nothing (a re-run: 0 and 0) is left out */
	if (!result->gmail || result->mirror_msgs <= p->imported)
		return;
	e_info(import_remote_event(), "Gmail: stored %u %s (%s); copying every "
	       "folder as it is (--mirror) would have stored %u (%s)",
	       p->imported, plural(p->imported, "message", "messages"),
	       import_progress_format_size(p->bytes_imported),
	       result->mirror_msgs,
	       import_progress_format_size(result->mirror_bytes));
}

/* "srcuser@host:port into user", for the audit lines */
static const char *
import_remote_run_audit_what(struct import_remote_run_cmd_context *ctx,
			     struct mail_user *user)
{
	return t_strdup_printf("%s@%s:%u into %s",
		str_sanitize(ctx->set.username, 255),
		str_sanitize(ctx->set.host, 255),
		import_remote_settings_get_port(&ctx->set),
		str_sanitize(user->username, 255));
}

/* The run's audit trail (import-remote-audit.h): its start. Returns the
   run's parent event, with the fields of who and from where. */
static struct event *
import_remote_run_audit_start(struct import_remote_run_cmd_context *ctx,
			      struct mail_user *user)
{
	struct event *event;

	event = import_remote_event_create(user->event);
	event_add_str(event, "user", user->username);
	event_add_str(event, "source_host", ctx->set.host);
	event_add_int(event, "source_port",
		      import_remote_settings_get_port(&ctx->set));
	event_add_str(event, "source_user", ctx->set.username);
	if (ctx->set.dry_run)
		event_add_int(event, "dry_run", 1);
	import_remote_audit(ctx->audit, event, user->username, t_strdup_printf(
		"Import of %s started (doveadm import-remote run%s)",
		import_remote_run_audit_what(ctx, user),
		ctx->set.dry_run ? " --dry-run" : ""));
	return event;
}

/* ... and its end: the result and its counts */
static void
import_remote_run_audit_end(struct import_remote_run_cmd_context *ctx,
			    struct event *event, struct mail_user *user,
			    const struct import_run_result *result)
{
	const struct import_progress *p = &result->progress;
	const char *code = import_remote_error_get_info(result->error.code)->name;

	import_remote_audit(ctx->audit, event_create_passthrough(event)->
		add_str("error_code", code)->
		add_int("messages", p->imported)->
		add_int("bytes", p->bytes_imported)->
		add_int("skipped", p->skipped_duplicates)->
		add_int("failed", p->failed)->event(),
		user->username, t_strdup_printf(
		"Import of %s ended: %s%s%s, %u imported (%"PRIuUOFF_T
		" bytes), %u skipped, %u failed in %u.%u s",
		import_remote_run_audit_what(ctx, user),
		result->error.code == IMPORT_REMOTE_ERROR_NONE ?
		"completed" : "failed",
		result->error.code == IMPORT_REMOTE_ERROR_NONE ? "" : ": ",
		result->error.code == IMPORT_REMOTE_ERROR_NONE ? "" : code,
		p->imported, p->bytes_imported, p->skipped_duplicates,
		p->failed, p->elapsed_msecs / 1000,
		(p->elapsed_msecs % 1000) / 100));
}

static int
import_remote_run_run(struct doveadm_mail_cmd_context *_ctx,
		      struct mail_user *user)
{
	struct import_remote_run_cmd_context *ctx =
		(struct import_remote_run_cmd_context *)_ctx;
	struct import_run_result result;
	struct doveadm_import_remote_authorized *authorized = NULL;
	struct event *event;
	const char *warning;
	int ret;

	/* 2.3 runs the command even when init() failed */
	if (_ctx->exit_code != 0)
		return -1;
	if (doveadm_import_remote_authorized(_ctx) &&
	    doveadm_import_remote_authorized_load(_ctx, user, &ctx->set,
						  &authorized) < 0)
		return -1;
	event = import_remote_run_audit_start(ctx, user);
	ctx->set.event_parent = event;
	ret = import_run(user, &ctx->set, import_remote_run_progress, NULL, ctx,
			 _ctx->pool, &result);
	ctx->set.event_parent = NULL;
	if (authorized != NULL) {
		ctx->set.oauth2_rotated_callback = NULL;
		ctx->set.oauth2_rotated_context = NULL;
	}
	doveadm_import_remote_authorized_end(&authorized);
	import_remote_run_audit_end(ctx, event, user, &result);
	event_unref(&event);
	array_foreach_elem(&result.warnings, warning)
		e_warning(import_remote_event(),
			"%s", str_sanitize_utf8(warning, 4096));
	if (ctx->set.dry_run)
		import_remote_run_print_plan(&result);
	if (ret < 0) {
		const struct import_remote_error_info *info =
			import_remote_error_get_info(result.error.code);

		e_error(import_remote_event(), "%s: %s",
			import_remote_error_get_title_detail(result.error.code,
							     result.error.detail),
			str_sanitize_utf8(result.error.detail == NULL ? "" :
					  result.error.detail, 4096));
		_ctx->exit_code = info->exit_code;
	}
	if (result.progress.failed > 0) {
		e_warning(import_remote_event(),
			  "%u %s could not be imported and "
			  "%s skipped (%s)", result.progress.failed,
			  plural(result.progress.failed, "message", "messages"),
			  plural(result.progress.failed, "was", "were"),
			  ctx->list_failed ? "the rows with "
			  "result=message_failed say why" : "below: why");
		if (!ctx->list_failed)
			import_remote_run_warn_failed(&result);
	}
	if (!ctx->set.dry_run) {
		import_remote_run_print_summary(ctx, &result);
		if (ctx->list_failed)
			import_remote_run_print_failed(&result);
		if (!ctx->quiet)
			import_remote_run_print_gmail(&result);
	}
	return ret;
}

/* the source password was kept for the reconnects of every user's run */
static void import_remote_run_deinit(struct doveadm_mail_cmd_context *_ctx)
{
	struct import_remote_run_cmd_context *ctx =
		(struct import_remote_run_cmd_context *)_ctx;

	if (ctx->set.password != NULL) {
		safe_memset((char *)ctx->set.password, 0,
			    strlen(ctx->set.password));
	}
	if (ctx->set.oauth2_client_key != NULL) {
		safe_memset((char *)ctx->set.oauth2_client_key, 0,
			    strlen(ctx->set.oauth2_client_key));
	}
	import_remote_audit_deinit(&ctx->audit);
	doveadm_import_remote_token_file_deinit(&ctx->token_file);
}

static struct doveadm_mail_cmd_context *import_remote_run_alloc(void)
{
	struct import_remote_run_cmd_context *ctx;

	ctx = doveadm_mail_cmd_alloc(struct import_remote_run_cmd_context);
	ctx->ctx.v.init = import_remote_run_init;
	ctx->ctx.v.run = import_remote_run_run;
	ctx->ctx.v.deinit = import_remote_run_deinit;
	doveadm_print_init(DOVEADM_PRINT_TYPE_FLOW);
	return &ctx->ctx;
}

struct doveadm_cmd_ver2 doveadm_cmd_import_remote_run = {
	.name = "import-remote run",
	.cmd = doveadm_import_remote_mail_cmd,
	.mail_cmd = import_remote_run_alloc,
	.usage = "-u <user> "DOVEADM_IMPORT_REMOTE_SOURCE_USAGE
		" [--dry-run] [--quiet] [--list-failed]",
DOVEADM_CMD_PARAMS_START
DOVEADM_IMPORT_REMOTE_CMD_USER_PARAMS
DOVEADM_IMPORT_REMOTE_SOURCE_PARAMS
DOVEADM_CMD_PARAM('\0', "dry-run", CMD_PARAM_BOOL, 0)
DOVEADM_CMD_PARAM('\0', "quiet", CMD_PARAM_BOOL, 0)
DOVEADM_CMD_PARAM('\0', "list-failed", CMD_PARAM_BOOL, 0)
DOVEADM_CMD_PARAMS_END
};

/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "time-util.h"
#include "module-dir.h"
#include "doveadm.h"
#include "doveadm-cmd.h"
#include "doveadm-util.h"
#include "doveadm-print.h"
#include "str.h"
#include "unichar.h"
#include "import-remote-error.h"
#include "mail-user.h"
#include "import-remote-config.h"
#include "job-store.h"
#include "job-runner.h"
#include "job-store-open.h"
#include "import-run.h"
#include "doveadm-import-remote-compat.h"
#include "import-remote-event.h"
#include "doveadm-import-remote.h"

#include <time.h>

const char *doveadm_import_remote_plugin_version = DOVECOT_ABI_VERSION;

/* doveadm names the destination user parameter "user" (-u). Our commands
   also take --user for the source account, as DESIGN fixes, so they declare
   -u as "dest-user" and rename both before handing over to doveadm's mail
   command machinery (user lookup, doveadm-server): that is all it needs to
   find the user where it looks on both versions. init() reads our options
   by name. */
void doveadm_import_remote_mail_cmd(struct doveadm_cmd_context *cctx)
{
	struct doveadm_cmd_param *argv;
	int i;

	argv = t_new(struct doveadm_cmd_param, cctx->argc);
	for (i = 0; i < cctx->argc; i++) {
		argv[i] = cctx->argv[i];
		if (strcmp(argv[i].name, "user") == 0) {
			argv[i].name = DOVEADM_IMPORT_REMOTE_PARAM_SOURCE_USER;
			doveadm_import_remote_param_for_mail_cmd(&argv[i]);
		} else if (strcmp(argv[i].name, "dest-user") == 0)
			argv[i].name = "user";
		else if (strcmp(argv[i].name, "socket-path") != 0)
			doveadm_import_remote_param_for_mail_cmd(&argv[i]);
	}
	cctx->argv = argv;
	doveadm_cmd_ver2_to_mail_cmd_wrapper(cctx);
}

int doveadm_import_remote_store_open(struct doveadm_cmd_context *cctx,
				     struct mail_user *user,
				     struct job_store **store_r,
				     unsigned char key_r[SECRET_BOX_KEY_LEN],
				     int *exit_code_r)
{
	const struct import_remote_config *set;
	const char *error;
	int ret;

	/* a command without -u (an admin addressing a job or a batch) reads
	   the global settings and, running as root, creates the store's
	   files as the mail user that owns their directory */
	ret = user != NULL ?
		import_remote_config_get_user(user, &set, &error) :
		doveadm_import_remote_global_config(cctx, &set, &error);
	if (ret == 0) {
		ret = job_store_open_config(set,
			user == NULL ? NULL : user->event,
			user == NULL ? JOB_STORE_OPEN_FLAG_AS_DIR_OWNER : 0,
			store_r, key_r, &error);
		import_remote_config_free(&set);
	}
	if (ret < 0) {
		e_error(import_remote_event(), "%s", error);
		*exit_code_r = EX_CONFIG;
	}
	return ret;
}

const char *
doveadm_import_remote_sanitize(const char *text, unsigned int max_chars,
			       unsigned int *chars_r)
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

void doveadm_import_remote_print_text(const char *text)
{
	doveadm_print(doveadm_import_remote_sanitize(text, 4096, NULL));
}

/* "2024-01-31T10:00:00Z", "" if unknown */
static const char *doveadm_import_remote_date(time_t t)
{
	struct tm *tm;
	char buf[32];

	if (t == 0 || (tm = gmtime(&t)) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", tm) == 0)
		return "";
	return t_strdup(buf);
}

void doveadm_import_remote_header_failed_message(void)
{
	doveadm_print_header_simple("folder");
	doveadm_print_header_simple("uid");
	doveadm_print_header_simple("size");
	doveadm_print_header_simple("message_id");
	doveadm_print_header_simple("received");
	doveadm_print_header_simple("reason");
}

void doveadm_import_remote_print_failed_message(
	const struct import_failed_message *msg)
{
	/* the folder name, Message-ID and reason come from the server */
	doveadm_import_remote_print_text(msg->folder);
	doveadm_print(dec2str(msg->uid));
	doveadm_print(dec2str(msg->size));
	doveadm_import_remote_print_text(msg->message_id);
	doveadm_print(doveadm_import_remote_date(msg->received));
	doveadm_import_remote_print_text(msg->reason);
}

const char *
doveadm_import_remote_failed_message_text(const struct import_failed_message *msg)
{
	/* the folder name, Message-ID and reason come from the server */
	return t_strdup_printf("folder %s, UID %u, %"PRIuUOFF_T" bytes, "
		"Message-ID %s, received %s: %s",
		doveadm_import_remote_sanitize(msg->folder, 256, NULL),
		msg->uid, msg->size,
		msg->message_id == NULL || msg->message_id[0] == '\0' ? "(none)" :
		doveadm_import_remote_sanitize(msg->message_id, 256, NULL),
		msg->received == 0 ? "unknown" :
		doveadm_import_remote_date(msg->received),
		doveadm_import_remote_sanitize(msg->reason, 1024, NULL));
}

void doveadm_import_remote_header_num(const char *name)
{
	doveadm_print_header(name, name, DOVEADM_PRINT_HEADER_FLAG_NUMBER);
}

void doveadm_import_remote_header_error(void)
{
	doveadm_print_header_simple("error");
	doveadm_print_header_simple("error_title");
	doveadm_print_header_simple("error_detail");
	doveadm_print_header_simple("hint");
}

void doveadm_import_remote_print_error(const struct job *job)
{
	enum import_remote_error_code code =
		import_remote_error_from_name(job->error_code);
	bool known = code != IMPORT_REMOTE_ERROR_COUNT &&
		code != IMPORT_REMOTE_ERROR_NONE;

	doveadm_import_remote_print_text(job->error_code);
	doveadm_print(known ? import_remote_error_get_title_detail(code,
				job->error_detail) : "");
	doveadm_import_remote_print_text(job->error_detail);
	doveadm_print(known ? import_remote_error_get_hint_detail(code,
				job->error_detail, job->source_host) : "");
}

static struct doveadm_cmd_ver2 *const doveadm_import_remote_commands[] = {
	&doveadm_cmd_import_remote_run,
	&doveadm_cmd_import_remote_start,
	&doveadm_cmd_import_remote_status,
	&doveadm_cmd_import_remote_history,
	&doveadm_cmd_import_remote_watch,
	&doveadm_cmd_import_remote_retry,
	&doveadm_cmd_import_remote_cancel,
	&doveadm_cmd_import_remote_report,
	&doveadm_cmd_import_remote_jobs,
	&doveadm_cmd_import_remote_top,
	&doveadm_cmd_import_remote_batch_create,
	&doveadm_cmd_import_remote_batch_status,
	&doveadm_cmd_import_remote_batch_list,
	&doveadm_cmd_import_remote_batch_pause,
	&doveadm_cmd_import_remote_batch_resume,
	&doveadm_cmd_import_remote_batch_cancel,
	&doveadm_cmd_import_remote_batch_retry_failed,
	&doveadm_cmd_import_remote_authorize,
};
void doveadm_import_remote_header_retry(void)
{
	doveadm_print_header_simple("status_text");
	doveadm_import_remote_header_num("retry");
	doveadm_import_remote_header_num("retry_limit");
	doveadm_print_header_simple("retry_at");
}

void doveadm_import_remote_print_retry(const struct job *job)
{
	doveadm_import_remote_print_retry_waiting(job, NULL);
}

void doveadm_import_remote_print_retry_waiting(const struct job *job,
					       const char *cap_waiting)
{
	bool waiting = job->status == JOB_STATUS_QUEUED && job->retry_at != 0;
	const char *text = job_runner_status_text(job, ioloop_time);

	/* "queued — waiting for imap.example.com: 8 of 8 connections in
	   use" */
	if (cap_waiting != NULL && job->retry_count == 0) {
		text = t_strdup_printf("%s \xE2\x80\x94 %s", text,
			doveadm_import_remote_sanitize(cap_waiting, 512, NULL));
	}
	doveadm_print(text);
	doveadm_print_num(job->retry_count);
	doveadm_print_num(job->retry_limit);
	doveadm_print(!waiting ? "" :
		      t_strflocaltime("%Y-%m-%d %H:%M:%S", job->retry_at));
}

void doveadm_import_remote_plugin_init(struct module *module ATTR_UNUSED)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(doveadm_import_remote_commands); i++)
		doveadm_cmd_register_ver2(doveadm_import_remote_commands[i]);
}

void doveadm_import_remote_plugin_deinit(void)
{
	import_remote_event_deinit();
}

/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "hostpid.h"
#include "ioloop.h"
#include "istream.h"
#include "message-date.h"
#include "str-sanitize.h"
#include "guid.h"
#include "mail-namespace.h"
#include "mail-storage.h"
#include "mail-user.h"
#include "import-remote-config.h"
#include "import-remote-error.h"
#include "import-remote-event.h"
#include "job-store.h"
#include "import-notice.h"

#include <fcntl.h>
#include <unistd.h>

/* a template bigger than this is not a notice's */
#define IMPORT_NOTICE_TEMPLATE_MAX (64*1024)

#define IMPORT_NOTICE_COMPLETED_SUBJECT "Your mail from %{host} has been imported"
#define IMPORT_NOTICE_COMPLETED_BODY \
	"Your old mailbox %{source_user} on %{host} has been copied into " \
	"this mailbox.\n\n" \
	"  Messages imported: %{imported}\n" \
	"  Already here (not copied twice): %{skipped}\n" \
	"  Folders: %{folders}\n" \
	"%{sync}\n" \
	"This message was written by the mail server; there is no need to " \
	"answer it.\n"
#define IMPORT_NOTICE_SYNC_LINE \
	"\nNew mail that still arrives there will be copied over too, " \
	"until %s.\n"
#define IMPORT_NOTICE_FAILED_SUBJECT "Importing your mail from %{host} failed"
#define IMPORT_NOTICE_FAILED_BODY \
	"Your old mailbox %{source_user} on %{host} could not be copied " \
	"into this mailbox: %{title}.\n\n" \
	"What to do: %{hint}\n\n" \
	"  Messages imported before it stopped: %{imported}\n\n" \
	"Once the cause is fixed, the import starts again by itself at a " \
	"later login (or ask your administrator).\n\n" \
	"This message was written by the mail server; there is no need to " \
	"answer it.\n"

struct import_notice_var {
	const char *name, *value;
};

/* %{name} replaced by its value; an unknown one is left as it is */
static const char *
import_notice_expand(const char *text, const struct import_notice_var *vars,
		     unsigned int vars_count)
{
	string_t *str = t_str_new(strlen(text) + 256);
	const char *p, *end;
	unsigned int i;

	while ((p = strstr(text, "%{")) != NULL) {
		str_append_data(str, text, p - text);
		end = strchr(p, '}');
		for (i = 0; end != NULL && i < vars_count; i++) {
			if (strlen(vars[i].name) == (size_t)(end - p - 2) &&
			    strncmp(p + 2, vars[i].name, end - p - 2) == 0)
				break;
		}
		if (end == NULL || i == vars_count) {
			str_append(str, "%{");
			text = p + 2;
			continue;
		}
		str_append(str, vars[i].value);
		text = end + 1;
	}
	str_append(str, text);
	return str_c(str);
}

void import_notice_format(const struct job *job, const char *sync_until,
			  const char *template_text,
			  const char **subject_r, const char **body_r)
{
	enum import_remote_error_code code =
		import_remote_error_from_name(job->error_code);
	bool completed = job->status == JOB_STATUS_COMPLETED;
	const char *subject, *body, *title = "", *hint = "";
	const char *sync = "";

	if (!completed && code != IMPORT_REMOTE_ERROR_COUNT &&
	    code != IMPORT_REMOTE_ERROR_NONE) {
		title = import_remote_error_get_info(code)->title;
		hint = import_remote_error_get_hint(code, job->source_host);
	} else if (!completed) {
		title = "the import stopped";
		hint = "ask your administrator.";
	}
	if (completed && sync_until[0] != '\0')
		sync = t_strdup_printf(IMPORT_NOTICE_SYNC_LINE, sync_until);
	const struct import_notice_var vars[] = {
		{ "status", completed ? "completed" : "failed" },
		{ "title", title },
		{ "hint", hint },
		/* from the settings: still no line breaks in them */
		{ "host", str_sanitize(job->source_host, 255) },
		{ "source_user", str_sanitize(job->source_user, 255) },
		{ "imported", dec2str(job->imported) },
		{ "skipped", dec2str(job->skipped) },
		{ "folders", dec2str(job->folders_total) },
		{ "until", sync_until },
		{ "sync", sync },
	};

	if (template_text != NULL) {
		/* "Subject: ..." first, then the body */
		const char *nl = strchr(template_text, '\n');

		subject = nl == NULL ? template_text :
			t_strdup_until(template_text, nl);
		if (strncasecmp(subject, "Subject:", 8) == 0)
			subject = t_str_trim(subject + 8, " \t\r");
		body = nl == NULL ? "" : nl + 1;
	} else if (completed) {
		subject = IMPORT_NOTICE_COMPLETED_SUBJECT;
		body = IMPORT_NOTICE_COMPLETED_BODY;
	} else {
		subject = IMPORT_NOTICE_FAILED_SUBJECT;
		body = IMPORT_NOTICE_FAILED_BODY;
	}
	/* a subject is one line */
	*subject_r = str_sanitize(import_notice_expand(subject, vars,
						       N_ELEMENTS(vars)), 200);
	*body_r = import_notice_expand(body, vars, N_ELEMENTS(vars));
}

static int
import_notice_read_template(const char *path, const char **text_r,
			    const char **error_r)
{
	char *buf;
	ssize_t ret;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd == -1) {
		*error_r = t_strdup_printf("open(%s) failed: %m", path);
		return -1;
	}
	buf = t_malloc0(IMPORT_NOTICE_TEMPLATE_MAX + 1);
	ret = read(fd, buf, IMPORT_NOTICE_TEMPLATE_MAX + 1);
	i_close_fd(&fd);
	if (ret < 0) {
		*error_r = t_strdup_printf("read(%s) failed: %m", path);
		return -1;
	}
	if (ret > IMPORT_NOTICE_TEMPLATE_MAX) {
		*error_r = t_strdup_printf("%s: larger than %u bytes", path,
					   IMPORT_NOTICE_TEMPLATE_MAX);
		return -1;
	}
	*text_r = buf;
	return 0;
}

/* A userdb field of the user sets this setting: "key=value", also as
   "plugin/key" (2.3) or with a filter prefix (2.4's "x/key") */
static bool import_notice_set_by_userdb(struct mail_user *user,
					const char *key)
{
	const char *const *field;
	const char *name, *p;
	size_t key_len = strlen(key), len;

	if (user->userdb_fields == NULL)
		return FALSE;
	for (field = user->userdb_fields; *field != NULL; field++) {
		p = strchr(*field, '=');
		name = p == NULL ? *field : t_strdup_until(*field, p);
		len = strlen(name);
		if (len < key_len || strcmp(name + len - key_len, key) != 0)
			continue;
		/* the whole name, or after a prefix ("plugin/",
		   "userdb_") */
		if (len == key_len || name[len - key_len - 1] == '/' ||
		    name[len - key_len - 1] == '_')
			return TRUE;
	}
	return FALSE;
}

/* path is a file in dir (or below it), no ".." on the way */
static bool import_notice_path_in_dir(const char *path, const char *dir)
{
	const char *const *parts;
	size_t dir_len = strlen(dir);

	while (dir_len > 1 && dir[dir_len - 1] == '/')
		dir_len--;
	if (dir[0] != '/' || strncmp(path, dir, dir_len) != 0 ||
	    path[dir_len] != '/')
		return FALSE;
	for (parts = t_strsplit(path + dir_len, "/"); *parts != NULL; parts++) {
		if (strcmp(*parts, "..") == 0)
			return FALSE;
	}
	return TRUE;
}

/* The template file the notice may be read from, or NULL for the built-in
   text. A template that a userdb field names (whoever writes userdb - a
   control panel's form - would otherwise have any file the mail uid can
   read, the key file included, delivered to the user's INBOX) is read
   only from import_remote_notice_template_dir, itself global
   configuration only. */
static const char *
import_notice_template_path(struct mail_user *user, struct event *event,
			    const struct import_remote_config *set)
{
	const char *path =
		import_remote_config_str(set->import_remote_notice_template);
	const char *dir =
		import_remote_config_str(set->import_remote_notice_template_dir);

	if (path == NULL ||
	    !import_notice_set_by_userdb(user, "import_remote_notice_template"))
		return path;
	if (dir != NULL &&
	    import_notice_set_by_userdb(user,
					"import_remote_notice_template_dir")) {
		e_error(event,
			"import_remote_notice_template_dir can't be set by a "
			"userdb field: ignored");
		dir = NULL;
	}
	if (dir == NULL) {
		e_error(event,
			"import_remote_notice_template from userdb (%s) is not "
			"read: a userdb field may name a template only in "
			"import_remote_notice_template_dir (not set). The "
			"built-in notice is used", str_sanitize(path, 256));
		return NULL;
	}
	if (!import_notice_path_in_dir(path, dir)) {
		e_error(event,
			"import_remote_notice_template from userdb (%s) is not "
			"in import_remote_notice_template_dir (%s): not read. "
			"The built-in notice is used",
			str_sanitize(path, 256), str_sanitize(dir, 256));
		return NULL;
	}
	return path;
}

/* The whole message, CRLF line ends */
static const char *
import_notice_message(struct mail_user *user,
		      const struct import_remote_config *set,
		      const char *subject, const char *body)
{
	const char *from = import_remote_config_notify_from(set,
							user->username);
	string_t *msg = t_str_new(1024);
	const char *p;

	str_printfa(msg, "From: %s\r\n", from);
	str_printfa(msg, "To: %s\r\n", str_sanitize(user->username, 255));
	str_printfa(msg, "Subject: %s\r\n", subject);
	str_printfa(msg, "Date: %s\r\n", message_date_create(ioloop_time));
	str_printfa(msg, "Message-ID: <import-remote-%s@%s>\r\n",
		    guid_generate(), my_hostname);
	str_append(msg, "MIME-Version: 1.0\r\n"
		   "Content-Type: text/plain; charset=utf-8\r\n"
		   "Content-Transfer-Encoding: 8bit\r\n"
		   "Auto-Submitted: auto-generated\r\n\r\n");
	for (p = body; *p != '\0'; p++) {
		if (*p == '\n' && (p == body || p[-1] != '\r'))
			str_append_c(msg, '\r');
		str_append_c(msg, *p);
	}
	return str_c(msg);
}

int import_notice_deliver(struct mail_user *user,
			  const struct import_remote_config *set,
			  const struct job *job, const char **error_r)
{
	struct mail_namespace *ns;
	struct mailbox *box;
	struct mailbox_transaction_context *trans;
	struct mail_save_context *save_ctx;
	struct istream *input;
	struct event *event;
	const char *template_text = NULL, *template_path;
	const char *subject, *body, *msg;
	enum mail_error mail_error;
	int ret = 0;

	event = import_remote_event_create(user->event);
	template_path = import_notice_template_path(user, event, set);
	event_unref(&event);
	if (template_path != NULL &&
	    import_notice_read_template(template_path, &template_text,
					error_r) < 0)
		return -1;
	import_notice_format(job, strcmp(set->import_remote_source_mode,
					 "sync") == 0 ?
			     set->import_remote_sync_until : "",
			     template_text, &subject, &body);
	msg = import_notice_message(user, set, subject, body);

	ns = mail_namespace_find_inbox(user->namespaces);
	box = mailbox_alloc(ns->list, "INBOX", MAILBOX_FLAG_SAVEONLY);
	if (mailbox_open(box) < 0) {
		*error_r = t_strdup_printf("Opening INBOX for the notice "
			"failed: %s", mailbox_get_last_error(box, &mail_error));
		mailbox_free(&box);
		return -1;
	}
	trans = mailbox_transaction_begin(box,
		MAILBOX_TRANSACTION_FLAG_EXTERNAL, __func__);
	save_ctx = mailbox_save_alloc(trans);
	input = i_stream_create_from_data(msg, strlen(msg));
	if (mailbox_save_begin(&save_ctx, input) < 0)
		ret = -1;
	while (ret == 0 && i_stream_read(input) > 0) {
		if (mailbox_save_continue(save_ctx) < 0)
			ret = -1;
	}
	if (ret == 0 && mailbox_save_continue(save_ctx) < 0)
		ret = -1;
	if (ret == 0 && mailbox_save_finish(&save_ctx) < 0)
		ret = -1;
	if (ret < 0 && save_ctx != NULL)
		mailbox_save_cancel(&save_ctx);
	if (ret == 0 && mailbox_transaction_commit(&trans) < 0)
		ret = -1;
	if (ret < 0) {
		*error_r = t_strdup_printf("Saving the notice into INBOX "
			"failed: %s", mailbox_get_last_error(box, &mail_error));
		if (trans != NULL)
			mailbox_transaction_rollback(&trans);
	}
	i_stream_unref(&input);
	mailbox_free(&box);
	return ret;
}

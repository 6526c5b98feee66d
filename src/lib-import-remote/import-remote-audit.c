/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "str-sanitize.h"
#include "time-util.h"
#include "write-full.h"
#include "syslog-util.h"
#include "master-service.h"
#include "import-remote-compat.h"
#include "import-remote-event.h"
#include "import-remote-audit.h"

#include <fcntl.h>
#include <unistd.h>
#include <syslog.h>
#include <time.h>

struct import_remote_audit {
	/* Dovecot's log file, or -1: syslog, or nothing to add */
	int fd;
	bool syslog;
	int facility;
	char *timestamp;
};

/* Does this process's info line reach Dovecot's log by itself? */
static bool import_remote_audit_logs_to_dovecot(void)
{
	failure_callback_t *fatal, *error, *info, *debug;

	i_get_failure_handlers(&fatal, &error, &info, &debug);
	return i_failure_handler_is_internal(info) ||
		info == i_syslog_error_handler;
}

struct import_remote_audit *import_remote_audit_init(void)
{
	struct import_remote_audit *audit;
	const char *path, *timestamp, *facility_name;

	audit = i_new(struct import_remote_audit, 1);
	audit->fd = -1;
	if (import_remote_audit_logs_to_dovecot())
		return audit;
	import_remote_compat_log_settings(&path, &timestamp, &facility_name);
	audit->timestamp = i_strdup(timestamp);
	if (strcmp(path, "syslog") == 0) {
		audit->syslog = TRUE;
		if (!syslog_facility_find(facility_name, &audit->facility))
			audit->facility = LOG_MAIL;
	} else if (path[0] == '/' && strcmp(path, "/dev/stderr") != 0) {
		audit->fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
		if (audit->fd == -1) {
			e_error(import_remote_event(), "open(%s) failed: "
				"%m (the audit trail of this import is not "
				"in Dovecot's log)", path);
		}
	}
	return audit;
}

void import_remote_audit_deinit(struct import_remote_audit **_audit)
{
	struct import_remote_audit *audit = *_audit;

	if (audit == NULL)
		return;
	*_audit = NULL;
	i_close_fd(&audit->fd);
	i_free(audit->timestamp);
	i_free(audit);
}

static void
import_remote_audit_append(struct import_remote_audit *audit,
			   const char *user, const char *text)
{
	const char *timestamp = audit->timestamp, *line;

	user = str_sanitize(user, 255);
	if (audit->syslog) {
		openlog("dovecot", LOG_NDELAY, audit->facility);
		syslog(LOG_INFO, "%s(%s): import-remote: %s",
		       master_service_get_name(master_service), user, text);
		closelog();
		return;
	}
	if (audit->fd == -1)
		return;
	if (timestamp[0] != '\0') {
		/* log_timestamp is a strftime() format, as Dovecot's own
		   log writer takes it */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		timestamp = t_strflocaltime(timestamp, time(NULL));
#pragma GCC diagnostic pop
	}
	line = t_strdup_printf("%s%s(%s): Info: import-remote: %s\n",
			       timestamp, master_service_get_name(master_service),
			       user, text);
	if (write_full(audit->fd, line, strlen(line)) < 0) {
		e_error(import_remote_event(), "write() to Dovecot's log "
			"failed: %m");
	}
}

void import_remote_audit(struct import_remote_audit *audit,
			 struct event *event, const char *user,
			 const char *text)
{
	if (audit == NULL || (!audit->syslog && audit->fd == -1)) {
		/* this process's info lines are in Dovecot's log (or the
		   log is this process's stderr) */
		e_info(event, "%s", text);
		return;
	}
	/* a standalone program: its own log is its stderr, where the line
	   shows with debug logging only (event may be a passthrough one,
	   gone once logged: the last use) */
	T_BEGIN {
		import_remote_audit_append(audit, user, text);
	} T_END;
	e_debug(event, "%s", text);
}

#ifndef IMPORT_REMOTE_AUDIT_H
#define IMPORT_REMOTE_AUDIT_H

/* The audit trail: every import says in Dovecot's log who (the user), from
   where (the source host, port and user; never a password), when (the
   log's timestamp), and its result with its counts - a line when it starts
   and one when it ends.

   A process that logs to Dovecot's log (the worker, a doveadm server)
   logs the line with e_info(). A standalone doveadm (a foreground run on a
   terminal) logs to its stderr: the line goes to Dovecot's log (the
   configured info_log_path or log_path, or syslog) as well, where an
   administrator looks for it. */

struct event;

/* Open Dovecot's log for the audit lines of a standalone program: before
   the privileges are dropped (the log file is root's). An error is logged
   if it can't be opened. */
struct import_remote_audit *import_remote_audit_init(void);
void import_remote_audit_deinit(struct import_remote_audit **audit);

/* Log text (already sanitized) as the audit line of user's import, with
   event's fields. audit NULL: this process logs to Dovecot's log. */
void import_remote_audit(struct import_remote_audit *audit,
			 struct event *event, const char *user,
			 const char *text);

#endif

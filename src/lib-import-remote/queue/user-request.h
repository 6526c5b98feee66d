#ifndef USER_REQUEST_H
#define USER_REQUEST_H

/* A user's own requests over IMAP METADATA (the mail plugin's entries
   under /private/vendor/vendor.dovecot/import-remote/, when
   import_remote_user_requests = yes): queue an import of their old
   mailbox as "doveadm import-remote start" does, cancel or retry their
   own job, read their history. Every request counts towards the user's
   hourly limit (import_remote_user_request_limit), refused ones too. */

struct mail_user;

enum user_request_action {
	/* value: JSON {"host","port","security","user","password",
	   "since","before","newest_first"} */
	USER_REQUEST_START = 0,
	/* value: a job id of the user's, or "" / "last": the newest */
	USER_REQUEST_CANCEL,
	USER_REQUEST_RETRY,
};

/* The entries' names below the prefix */
#define USER_REQUEST_ENTRY_REQUEST "request"
#define USER_REQUEST_ENTRY_CANCEL "cancel"
#define USER_REQUEST_ENTRY_RETRY "retry"
#define USER_REQUEST_ENTRY_HISTORY "history"

/* The longest request value taken */
#define USER_REQUEST_MAX_VALUE_SIZE 4096
/* Jobs in the history */
#define USER_REQUEST_HISTORY_JOBS 10

/* Returns 1 when done, 0 when refused (error_r: the catalogue's title and
   what was wrong, for the user), -1 on an internal error (error_r: for
   the log). value is wiped (it may hold a password). */
int user_request(struct mail_user *user, enum user_request_action action,
		 char *value, const char **error_r);
/* The user's newest jobs as a JSON array. Returns 0, or -1. */
int user_request_history(struct mail_user *user, const char **json_r,
			 const char **error_r);

#endif

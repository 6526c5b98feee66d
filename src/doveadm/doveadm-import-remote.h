#ifndef DOVEADM_IMPORT_REMOTE_H
#define DOVEADM_IMPORT_REMOTE_H

#include "secret-box.h"

/* One doveadm sub-command a file; this registers them all. */
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_run;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_start;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_status;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_history;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_watch;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_retry;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_cancel;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_report;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_jobs;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_top;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_batch_create;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_batch_status;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_batch_list;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_batch_pause;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_batch_resume;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_batch_cancel;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_batch_retry_failed;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_authorize;

/* Parameter name under which init() finds --user (the source account) */
#define DOVEADM_IMPORT_REMOTE_PARAM_SOURCE_USER "source-user"
/* The common parameters of a command that acts on one local user (-u).
   No -A/-F: one source account is imported into one user. */
#define DOVEADM_IMPORT_REMOTE_CMD_USER_PARAMS \
DOVEADM_CMD_PARAM('S', "socket-path", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('u', "dest-user", CMD_PARAM_STR, 0)

/* The source server and the import options: run, start, batch create */
#define DOVEADM_IMPORT_REMOTE_JOB_PARAMS \
DOVEADM_CMD_PARAM('\0', "host", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('\0', "port", CMD_PARAM_INT64, 0) \
DOVEADM_CMD_PARAM('\0', "ssl", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('\0', "tls-insecure", CMD_PARAM_BOOL, 0) \
DOVEADM_CMD_PARAM('\0', "folder", CMD_PARAM_ARRAY, 0) \
DOVEADM_CMD_PARAM('\0', "exclude", CMD_PARAM_ARRAY, 0) \
DOVEADM_CMD_PARAM('\0', "dest-parent", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('\0', "timeout", CMD_PARAM_INT64, 0) \
DOVEADM_CMD_PARAM('\0', "stall-timeout", CMD_PARAM_INT64, 0) \
DOVEADM_CMD_PARAM('\0', "reconnects", CMD_PARAM_INT64, 0) \
DOVEADM_CMD_PARAM('\0', "connections", CMD_PARAM_INT64, 0) \
DOVEADM_CMD_PARAM('\0', "fetch-chunk", CMD_PARAM_INT64, 0) \
DOVEADM_CMD_PARAM('\0', "throttle-retries", CMD_PARAM_INT64, 0) \
DOVEADM_CMD_PARAM('\0', "since", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('\0', "before", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('\0', "newest-first", CMD_PARAM_BOOL, 0) \
DOVEADM_CMD_PARAM('\0', "mirror", CMD_PARAM_BOOL, 0) \
DOVEADM_CMD_PARAM('\0', "dedup", CMD_PARAM_STR, 0)
/* ... and the source account: run and start */
#define DOVEADM_IMPORT_REMOTE_SOURCE_PARAMS \
DOVEADM_IMPORT_REMOTE_JOB_PARAMS \
DOVEADM_CMD_PARAM('\0', "user", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('\0', "password-file", CMD_PARAM_ISTREAM, 0) \
DOVEADM_CMD_PARAM('\0', "password-stdin", CMD_PARAM_BOOL, 0) \
DOVEADM_CMD_PARAM('\0', "access-token-file", CMD_PARAM_ISTREAM, 0) \
DOVEADM_CMD_PARAM('\0', "access-token-stdin", CMD_PARAM_BOOL, 0) \
DOVEADM_CMD_PARAM('\0', "refresh-token-file", CMD_PARAM_ISTREAM, 0) \
DOVEADM_CMD_PARAM('\0', "refresh-token-stdin", CMD_PARAM_BOOL, 0) \
DOVEADM_CMD_PARAM('\0', "oauth2-authorized", CMD_PARAM_BOOL, 0) \
DOVEADM_IMPORT_REMOTE_GRANT_PARAMS
/* An OAuth2 grant: run, start, and shared by a batch's rows */
#define DOVEADM_IMPORT_REMOTE_GRANT_PARAMS \
DOVEADM_CMD_PARAM('\0', "auth-mechanism", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('\0', "oauth2-token-url", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('\0', "oauth2-client-id", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('\0', "oauth2-client-secret-file", CMD_PARAM_ISTREAM, 0) \
DOVEADM_CMD_PARAM('\0', "oauth2-client-certificate-file", CMD_PARAM_ISTREAM, 0) \
DOVEADM_CMD_PARAM('\0', "oauth2-client-key-file", CMD_PARAM_ISTREAM, 0) \
DOVEADM_CMD_PARAM('\0', "oauth2-scope", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('\0', "oauth2-grant", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('\0', "oauth2-service-account-file", CMD_PARAM_ISTREAM, 0) \
DOVEADM_CMD_PARAM('\0', "oauth2-tenant", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('\0', "provider", CMD_PARAM_STR, 0)
#define DOVEADM_IMPORT_REMOTE_JOB_USAGE \
	"[--port <port>] [--ssl imaps|starttls|none] [--tls-insecure] " \
	"[--folder <pattern> ...] [--exclude <pattern> ...] " \
	"[--dest-parent <folder>] [--since YYYY-MM-DD] " \
	"[--before YYYY-MM-DD] [--newest-first] " \
	"[--dedup folder|account|off] [--mirror] [--timeout <secs>] " \
	"[--stall-timeout <secs>] [--reconnects <n>] [--connections <k>] " \
	"[--fetch-chunk <n>] [--throttle-retries <n>]"
#define DOVEADM_IMPORT_REMOTE_SOURCE_USAGE \
	"--host <host> --user <remote user> " \
	"(--password-file <path> | --password-stdin | " \
	"--access-token-file <path> | --access-token-stdin | " \
	"(--refresh-token-file <path> | --refresh-token-stdin) " \
	"--oauth2-token-url <url> --oauth2-client-id <id> " \
	"[--oauth2-client-secret-file <path>] [--oauth2-scope <scope>] | " \
	"--oauth2-grant client-credentials --oauth2-client-id <id> " \
	"(--oauth2-client-secret-file <path> | " \
	"--oauth2-client-certificate-file <path> " \
	"--oauth2-client-key-file <path>) | " \
	"--oauth2-service-account-file <path>) " \
	"[--provider google|microsoft] [--oauth2-tenant <tenant>] " \
	"[--auth-mechanism auto|plain|login|oauth2|xoauth2|oauthbearer] " \
	DOVEADM_IMPORT_REMOTE_JOB_USAGE

struct doveadm_cmd_context;
struct doveadm_mail_cmd_context;
struct import_remote_settings;
/* A failure the caller must see (a usage error, bad input): logged, and
   its exit code put in *exit_code_r. Never i_fatal() in a command: over
   doveadm's HTTP API that ends the server process, and the caller gets no
   answer. Returns -1. */
/* --oauth2-authorized: the grant `authorize` kept for the user */
struct oauth2_grant;
struct import_remote_settings;
struct job_store;
struct mail_user;
struct doveadm_mail_cmd_context;
bool doveadm_import_remote_authorized(struct doveadm_mail_cmd_context *_ctx);
/* Fill set's grant from the store (set->oauth2_grant etc.) and check set.
   With grant_r, the store stays open for storing a rotated refresh token
   back (doveadm_import_remote_authorized_rotated(): the callback's context
   is *grant_r); close it with doveadm_import_remote_authorized_end().
   Returns 0, or -1 after setting _ctx->exit_code. */
struct doveadm_import_remote_authorized;
int doveadm_import_remote_authorized_load(struct doveadm_mail_cmd_context *_ctx,
		struct mail_user *user, struct import_remote_settings *set,
		struct doveadm_import_remote_authorized **auth_r);
void doveadm_import_remote_authorized_end(
		struct doveadm_import_remote_authorized **auth);
int doveadm_import_remote_fail(int *exit_code_r, int exit_code,
			       const char *fmt, ...) ATTR_FORMAT(3, 4);
/* Read the import options and --host/--port/--ssl, not the source account.
   Returns 0, or -1 after doveadm_import_remote_fail(). */
int doveadm_import_remote_read_job_options(struct doveadm_cmd_context *cctx,
					   pool_t pool,
					   struct import_remote_settings *set,
					   int *exit_code_r);
/* A batch's OAuth2 grant, shared by all its rows
   (DOVEADM_IMPORT_REMOTE_GRANT_PARAMS): client credentials or a service
   account, and --provider. Returns 0 (no grant: set->oauth2_grant stays
   NONE), or -1 after doveadm_import_remote_fail(). */
int doveadm_import_remote_read_shared_grant(struct doveadm_cmd_context *cctx,
					    pool_t pool,
					    struct import_remote_settings *set,
					    int *exit_code_r);
/* Read and check DOVEADM_IMPORT_REMOTE_SOURCE_PARAMS into the mail
   command's exit code. Returns 0, or -1. */
int doveadm_import_remote_read_options(struct doveadm_mail_cmd_context *ctx,
				       struct import_remote_settings *set);

/* .cmd of every command that uses DOVEADM_IMPORT_REMOTE_CMD_USER_PARAMS */
void doveadm_import_remote_mail_cmd(struct doveadm_cmd_context *cctx);

struct mail_user;
struct job_store;
/* Open the job store (and load the password key unless key_r is NULL) of
   the user's settings, or the command's global ones when user is NULL. On
   failure logs why and sets the exit code. */
int doveadm_import_remote_store_open(struct doveadm_cmd_context *cctx,
				     struct mail_user *user,
				     struct job_store **store_r,
				     unsigned char key_r[SECRET_BOX_KEY_LEN],
				     int *exit_code_r);

/* Print text that came from outside (a server's reply, a folder name, a
   store row) through doveadm_import_remote_sanitize() (at most 4096
   characters): it can't forge lines in flow/tab output or a terminal's
   display. */
void doveadm_import_remote_print_text(const char *text);

/* Text from the store (every byte of it hostile) as one harmless line of
   at most max_chars characters (cut with '~'): C0 and C1 control
   characters (the 8-bit CSI among them), DEL, line separators, the
   direction overrides and bytes that are no UTF-8 become '?'. *chars_r
   (if not NULL) is how many characters it has. */
const char *
doveadm_import_remote_sanitize(const char *text, unsigned int max_chars,
			       unsigned int *chars_r);
struct job_list_filter;
/* jobs' and top's options: --status, --host, --since and --all (those the
   command declares) into filter_r, --limit (default 100) into limit_r.
   Returns 0, or -1 after a usage error (doveadm_exit_code set). */
int doveadm_import_remote_read_job_filter(struct doveadm_cmd_context *cctx,
					  pool_t pool,
					  struct job_list_filter *filter_r,
					  unsigned int *limit_r);

/* doveadm_print headers: a number column; error, error_title,
   error_detail and hint */
void doveadm_import_remote_header_num(const char *name);
void doveadm_import_remote_header_error(void);
struct import_failed_message;
/* folder, uid, size, message_id, received, reason: a message that was not
   imported (run's result=message_failed rows, report) */
void doveadm_import_remote_header_failed_message(void);
/* A failed message in a line: folder, UID, size, Message-ID, date, why */
const char *
doveadm_import_remote_failed_message_text(const struct import_failed_message *msg);
void doveadm_import_remote_print_failed_message(
	const struct import_failed_message *msg);
struct job;
/* The job's error, its catalogue title, detail and provider-aware hint */
void doveadm_import_remote_print_error(const struct job *job);
/* doveadm_print headers: status_text, retry, retry_limit, retry_at */
void doveadm_import_remote_header_retry(void);
/* How the job stands in words ("queued — retry 2 of 5 at 14:05 after:
   Connection timed out"), the number of its automatic retry (0: none yet),
   of how many, and while it waits for it, when it runs */
void doveadm_import_remote_print_retry(const struct job *job);
/* The same; a queued job whose source host's (or account's) connections
   are all in use says so: "queued — waiting for <host>: 8 of 8
   connections in use" (cap_waiting: job_cap_usage_waiting()'s text) */
void doveadm_import_remote_print_retry_waiting(const struct job *job,
					       const char *cap_waiting);

struct module;
void doveadm_import_remote_plugin_init(struct module *module);
void doveadm_import_remote_plugin_deinit(void);

#endif

#ifndef DOVEADM_IMPORT_REMOTE_H
#define DOVEADM_IMPORT_REMOTE_H

/* One doveadm sub-command a file; this registers them all. */
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_run;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_start;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_status;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_history;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_watch;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_retry;
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_cancel;

/* Parameter name under which init() finds --user (the source account) */
#define DOVEADM_IMPORT_REMOTE_PARAM_SOURCE_USER "source-user"
/* The common parameters of a command that acts on one local user (-u).
   No -A/-F: one source account is imported into one user. */
#define DOVEADM_IMPORT_REMOTE_CMD_USER_PARAMS \
DOVEADM_CMD_PARAM('S', "socket-path", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('u', "dest-user", CMD_PARAM_STR, 0)

/* The source account and import options, shared by run and start */
#define DOVEADM_IMPORT_REMOTE_SOURCE_PARAMS \
DOVEADM_CMD_PARAM('\0', "host", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('\0', "port", CMD_PARAM_INT64, 0) \
DOVEADM_CMD_PARAM('\0', "ssl", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('\0', "tls-insecure", CMD_PARAM_BOOL, 0) \
DOVEADM_CMD_PARAM('\0', "user", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('\0', "password-file", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('\0', "password-stdin", CMD_PARAM_BOOL, 0) \
DOVEADM_CMD_PARAM('\0', "folder", CMD_PARAM_ARRAY, 0) \
DOVEADM_CMD_PARAM('\0', "exclude", CMD_PARAM_ARRAY, 0) \
DOVEADM_CMD_PARAM('\0', "dest-parent", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('\0', "timeout", CMD_PARAM_INT64, 0) \
DOVEADM_CMD_PARAM('\0', "fetch-chunk", CMD_PARAM_INT64, 0) \
DOVEADM_CMD_PARAM('\0', "throttle-retries", CMD_PARAM_INT64, 0) \
DOVEADM_CMD_PARAM('\0', "since", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('\0', "before", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('\0', "newest-first", CMD_PARAM_BOOL, 0) \
DOVEADM_CMD_PARAM('\0', "dedup", CMD_PARAM_STR, 0)
#define DOVEADM_IMPORT_REMOTE_SOURCE_USAGE \
	"--host <host> --user <remote user> " \
	"(--password-file <path> | --password-stdin) " \
	"[--port <port>] [--ssl imaps|starttls|none] [--tls-insecure] " \
	"[--folder <pattern> ...] [--exclude <pattern> ...] " \
	"[--dest-parent <folder>] [--since YYYY-MM-DD] " \
	"[--before YYYY-MM-DD] [--newest-first] " \
	"[--dedup folder|account|off] [--timeout <secs>] " \
	"[--fetch-chunk <n>] [--throttle-retries <n>]"

struct doveadm_mail_cmd_context;
struct import_remote_settings;
/* Read and check DOVEADM_IMPORT_REMOTE_SOURCE_PARAMS (exits on usage
   errors, with doveadm's exit codes). */
void doveadm_import_remote_read_options(struct doveadm_mail_cmd_context *ctx,
					struct import_remote_settings *set);

struct doveadm_cmd_context;
/* .cmd of every command that uses DOVEADM_IMPORT_REMOTE_CMD_USER_PARAMS */
void doveadm_import_remote_mail_cmd(struct doveadm_cmd_context *cctx);

void doveadm_import_remote_plugin_init(struct module *module);
void doveadm_import_remote_plugin_deinit(void);

#endif

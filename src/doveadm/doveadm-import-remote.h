#ifndef DOVEADM_IMPORT_REMOTE_H
#define DOVEADM_IMPORT_REMOTE_H

/* One doveadm sub-command a file; this registers them all. */
extern struct doveadm_cmd_ver2 doveadm_cmd_import_remote_run;

/* Parameter name under which init() finds --user (the source account) */
#define DOVEADM_IMPORT_REMOTE_PARAM_SOURCE_USER "source-user"
/* The common parameters of a command that acts on one local user (-u).
   No -A/-F: one source account is imported into one user. */
#define DOVEADM_IMPORT_REMOTE_CMD_USER_PARAMS \
DOVEADM_CMD_PARAM('S', "socket-path", CMD_PARAM_STR, 0) \
DOVEADM_CMD_PARAM('u', "dest-user", CMD_PARAM_STR, 0)

struct doveadm_cmd_context;
/* .cmd of every command that uses DOVEADM_IMPORT_REMOTE_CMD_USER_PARAMS */
void doveadm_import_remote_mail_cmd(struct doveadm_cmd_context *cctx);

void doveadm_import_remote_plugin_init(struct module *module);
void doveadm_import_remote_plugin_deinit(void);

#endif

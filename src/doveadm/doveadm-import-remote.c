/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "module-dir.h"
#include "doveadm.h"
#include "doveadm-cmd.h"
#include "doveadm-import-remote.h"

const char *doveadm_import_remote_plugin_version = DOVECOT_ABI_VERSION;

/* doveadm names the destination user parameter "user" (-u). Our commands
   also take --user for the source account, as DESIGN fixes, so they declare
   -u as "dest-user" and rename both before handing over to doveadm's mail
   command machinery (user lookup, -A, -F, doveadm-server). Our own options
   are marked positional so that machinery passes them through instead of
   wanting a getopt parse_arg() for each; init() reads them by name. */
void doveadm_import_remote_mail_cmd(struct doveadm_cmd_context *cctx)
{
	struct doveadm_cmd_param *argv;
	int i;

	argv = t_new(struct doveadm_cmd_param, cctx->argc);
	for (i = 0; i < cctx->argc; i++) {
		argv[i] = cctx->argv[i];
		if (strcmp(argv[i].name, "user") == 0) {
			argv[i].name = DOVEADM_IMPORT_REMOTE_PARAM_SOURCE_USER;
			argv[i].flags |= CMD_PARAM_FLAG_POSITIONAL;
		} else if (strcmp(argv[i].name, "dest-user") == 0)
			argv[i].name = "user";
		else if (strcmp(argv[i].name, "all-users") != 0 &&
			 strcmp(argv[i].name, "socket-path") != 0 &&
			 strcmp(argv[i].name, "user-file") != 0 &&
			 strcmp(argv[i].name, "trans-flags") != 0)
			argv[i].flags |= CMD_PARAM_FLAG_POSITIONAL;
	}
	cctx->argv = argv;
	doveadm_cmd_ver2_to_mail_cmd_wrapper(cctx);
}

void doveadm_import_remote_plugin_init(struct module *module ATTR_UNUSED)
{
	doveadm_cmd_register_ver2(&doveadm_cmd_import_remote_run);
	doveadm_cmd_register_ver2(&doveadm_cmd_import_remote_start);
	doveadm_cmd_register_ver2(&doveadm_cmd_import_remote_status);
	doveadm_cmd_register_ver2(&doveadm_cmd_import_remote_history);
	doveadm_cmd_register_ver2(&doveadm_cmd_import_remote_watch);
	doveadm_cmd_register_ver2(&doveadm_cmd_import_remote_retry);
	doveadm_cmd_register_ver2(&doveadm_cmd_import_remote_cancel);
}

void doveadm_import_remote_plugin_deinit(void)
{
}

/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "doveadm.h"
#include "doveadm-cmd.h"
#include "import-remote-config.h"
#include "doveadm-import-remote-compat.h"

#if DOVECOT_PREREQ(2, 4, 0)
int doveadm_import_remote_global_config(struct doveadm_cmd_context *cctx,
		const struct import_remote_config **set_r,
		const char **error_r)
{
	return import_remote_config_get(cctx->set_event, NULL, NULL,
					set_r, error_r);
}

void doveadm_import_remote_param_for_mail_cmd(
		struct doveadm_cmd_param *param ATTR_UNUSED)
{
}
#else
static const char *
doveadm_import_remote_getenv(const char *name, void *context ATTR_UNUSED)
{
	return doveadm_plugin_getenv(name);
}

int doveadm_import_remote_global_config(
		struct doveadm_cmd_context *cctx ATTR_UNUSED,
		const struct import_remote_config **set_r,
		const char **error_r)
{
	return import_remote_config_get(NULL, doveadm_import_remote_getenv,
					NULL, set_r, error_r);
}

void doveadm_import_remote_param_for_mail_cmd(struct doveadm_cmd_param *param)
{
	param->flags |= CMD_PARAM_FLAG_POSITIONAL;
}
#endif

/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "module-dir.h"
#include "doveadm.h"
#include "doveadm-cmd.h"
#include "doveadm-util.h"
#include "doveadm-print.h"
#include "import-remote-error.h"
#include "mail-user.h"
#include "import-remote-compat.h"
#include "job-store.h"
#include "job-runner.h"
#include "doveadm-import-remote.h"

#include <unistd.h>
#include <sys/stat.h>

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

/* A command without -u (an admin addressing a job or a batch) has no user,
   so it reads the global plugin { } settings. */
static const char *
import_remote_store_setting(struct mail_user *user, const char *name)
{
	if (user == NULL)
		return doveadm_plugin_getenv(name);
	return import_remote_compat_plugin_setting(user, name);
}

/* An admin command (no -u) runs as root, but the workers (and doveadm's
   per-user commands) work as the mail user: files it creates must be that
   user's. Take on the owner of the directory the file lives in, while
   opening. Returns TRUE if the effective ids changed. */
static bool import_remote_become_dir_owner(const char *path)
{
	const char *slash = strrchr(path, '/'), *dir;
	struct stat st;

	if (geteuid() != 0 || slash == NULL)
		return FALSE;
	dir = slash == path ? "/" : t_strdup_until(path, slash);
	if (stat(dir, &st) < 0 || st.st_uid == 0)
		return FALSE;
	if (setegid(st.st_gid) < 0 || seteuid(st.st_uid) < 0) {
		i_error("import-remote: seteuid(%s owner) failed: %m", dir);
		if (setegid(0) < 0)
			i_fatal("import-remote: setegid(0) failed: %m");
		return FALSE;
	}
	return TRUE;
}

static void import_remote_become_root_again(bool changed)
{
	if (!changed)
		return;
	if (seteuid(0) < 0 || setegid(0) < 0)
		i_fatal("import-remote: Returning to root failed: %m");
}

int doveadm_import_remote_store_open(struct mail_user *user,
				     struct job_store **store_r,
				     unsigned char key_r[SECRET_BOX_KEY_LEN],
				     int *exit_code_r)
{
	const char *uri, *key_file, *driver, *connect, *error;
	bool changed;
	int ret;

	uri = import_remote_store_setting(user, "import_remote_store");
	if (uri == NULL)
		uri = JOB_RUNNER_DEFAULT_STORE;
	if (job_runner_parse_store(uri, &driver, &connect, &error) < 0) {
		i_error("import-remote: %s", error);
		*exit_code_r = EX_CONFIG;
		return -1;
	}
	changed = user == NULL && strcmp(driver, "sqlite") == 0 &&
		import_remote_become_dir_owner(connect);
	ret = job_store_open(driver, connect, user == NULL ? NULL : user->event,
			     store_r, &error);
	import_remote_become_root_again(changed);
	if (ret < 0) {
		i_error("import-remote: %s", error);
		*exit_code_r = EX_CONFIG;
		return -1;
	}
	if (key_r == NULL)
		return 0;
	key_file = import_remote_store_setting(user, "import_remote_key_file");
	if (key_file == NULL)
		key_file = JOB_RUNNER_DEFAULT_KEY_FILE;
	changed = user == NULL && import_remote_become_dir_owner(key_file);
	ret = secret_box_key_load(key_file, TRUE, key_r, &error);
	import_remote_become_root_again(changed);
	if (ret < 0) {
		i_error("import-remote: %s", error);
		*exit_code_r = EX_CONFIG;
		job_store_close(store_r);
		return -1;
	}
	return 0;
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

	doveadm_print(job->error_code);
	doveadm_print(known ? import_remote_error_get_info(code)->title : "");
	doveadm_print(job->error_detail);
	doveadm_print(known ? import_remote_error_get_hint(code,
				job->source_host) : "");
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
	doveadm_cmd_register_ver2(&doveadm_cmd_import_remote_batch_create);
	doveadm_cmd_register_ver2(&doveadm_cmd_import_remote_batch_status);
	doveadm_cmd_register_ver2(&doveadm_cmd_import_remote_batch_list);
	doveadm_cmd_register_ver2(&doveadm_cmd_import_remote_batch_pause);
	doveadm_cmd_register_ver2(&doveadm_cmd_import_remote_batch_resume);
	doveadm_cmd_register_ver2(&doveadm_cmd_import_remote_batch_cancel);
	doveadm_cmd_register_ver2(&doveadm_cmd_import_remote_batch_retry_failed);
}

void doveadm_import_remote_plugin_deinit(void)
{
}

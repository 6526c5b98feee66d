/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "doveadm.h"
#include "doveadm-cmd.h"
#include "doveadm-mail.h"
#include "import-remote-settings.h"
#include "doveadm-import-remote.h"

#include <unistd.h>
#include <fcntl.h>

static const char *
import_remote_read_password(struct doveadm_mail_cmd_context *_ctx,
				const char *path, bool from_stdin)
{
	const char *password, *error;
	int fd;

	if (from_stdin) {
		if (import_remote_password_read_fd(STDIN_FILENO, _ctx->pool,
						   &password, &error) < 0)
			i_fatal_status(EX_USAGE, "--password-stdin: %s", error);
		return password;
	}
	fd = open(path, O_RDONLY);
	if (fd == -1)
		i_fatal_status(EX_NOINPUT, "open(%s) failed: %m", path);
	if (import_remote_password_read_fd(fd, _ctx->pool, &password,
					   &error) < 0)
		i_fatal_status(EX_DATAERR, "--password-file %s: %s", path, error);
	i_close_fd(&fd);
	return password;
}

static void
import_remote_param_array(struct doveadm_cmd_context *cctx, pool_t pool,
			  const char *name, ARRAY_TYPE(const_string) *dest)
{
	const char *const *values;

	if (!doveadm_cmd_param_array(cctx, name, &values))
		return;
	for (; *values != NULL; values++) {
		const char *value = p_strdup(pool, *values);
		array_push_back(dest, &value);
	}
}

void doveadm_import_remote_read_job_options(struct doveadm_cmd_context *cctx,
					    pool_t pool,
					    struct import_remote_settings *set)
{
	const char *str;
	int64_t num;

	import_remote_settings_init(pool, set);
	if (doveadm_cmd_param_str(cctx, "host", &str))
		set->host = p_strdup(pool, str);
	if (doveadm_cmd_param_int64(cctx, "port", &num)) {
		if (num <= 0 || num > 65535)
			i_fatal_status(EX_USAGE, "Invalid --port: %"PRId64, num);
		set->port = (in_port_t)num;
	}
	if (doveadm_cmd_param_str(cctx, "ssl", &str) &&
	    import_remote_ssl_parse(str, &set->ssl) < 0) {
		i_fatal_status(EX_USAGE,
			"Invalid --ssl '%s': use imaps, starttls or none", str);
	}
	(void)doveadm_cmd_param_bool(cctx, "tls-insecure", &set->tls_insecure);
	import_remote_param_array(cctx, pool, "folder", &set->include_folders);
	import_remote_param_array(cctx, pool, "exclude", &set->exclude_folders);
	if (doveadm_cmd_param_str(cctx, "dest-parent", &str) && str[0] != '\0')
		set->dest_parent = p_strdup(pool, str);
	if (doveadm_cmd_param_str(cctx, "dedup", &str) &&
	    import_remote_dedup_parse(str, &set->dedup) < 0) {
		i_fatal_status(EX_USAGE,
			"Invalid --dedup '%s': use folder, account or off", str);
	}
	if (doveadm_cmd_param_str(cctx, "since", &str) &&
	    import_remote_date_parse(str, &set->since) < 0)
		i_fatal_status(EX_USAGE, "Invalid --since '%s': use YYYY-MM-DD", str);
	if (doveadm_cmd_param_str(cctx, "before", &str) &&
	    import_remote_date_parse(str, &set->before) < 0)
		i_fatal_status(EX_USAGE, "Invalid --before '%s': use YYYY-MM-DD", str);
	(void)doveadm_cmd_param_bool(cctx, "newest-first", &set->newest_first);
	if (doveadm_cmd_param_int64(cctx, "timeout", &num)) {
		if (num <= 0 || num > 3600)
			i_fatal_status(EX_USAGE, "Invalid --timeout: %"PRId64, num);
		set->connect_timeout_msecs = num * 1000;
	}
	if (doveadm_cmd_param_int64(cctx, "throttle-retries", &num)) {
		if (num < 0 || num > 100)
			i_fatal_status(EX_USAGE, "Invalid --throttle-retries: %"PRId64, num);
		set->throttle_retries = num;
	}
	if (doveadm_cmd_param_int64(cctx, "fetch-chunk", &num)) {
		if (num <= 0 || num > 1000000)
			i_fatal_status(EX_USAGE, "Invalid --fetch-chunk: %"PRId64, num);
		set->fetch_chunk = num;
	}
	if (set->tls_insecure) {
		i_warning("--tls-insecure: the source server's certificate is "
			  "NOT verified; the password and mail can be "
			  "intercepted");
	}
}

void doveadm_import_remote_read_options(struct doveadm_mail_cmd_context *_ctx,
					struct import_remote_settings *set)
{
	const char *str, *password_file = NULL, *error;
	bool password_stdin = FALSE;

	doveadm_import_remote_read_job_options(_ctx->cctx, _ctx->pool, set);
	if (doveadm_cmd_param_str(_ctx->cctx,
				  DOVEADM_IMPORT_REMOTE_PARAM_SOURCE_USER, &str))
		set->username = p_strdup(_ctx->pool, str);
	(void)doveadm_cmd_param_str(_ctx->cctx, "password-file", &password_file);
	(void)doveadm_cmd_param_bool(_ctx->cctx, "password-stdin",
				     &password_stdin);
	if (password_file != NULL && password_stdin)
		i_fatal_status(EX_USAGE,
			"Give either --password-file or --password-stdin");
	if (password_file != NULL || password_stdin) {
		set->password = import_remote_read_password(_ctx,
			password_file, password_stdin);
	}
	if (import_remote_settings_check(set, &error) < 0)
		i_fatal_status(EX_USAGE, "%s", error);
}

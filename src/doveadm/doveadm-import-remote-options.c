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
import_remote_param_array(struct doveadm_mail_cmd_context *_ctx,
			      const char *name, ARRAY_TYPE(const_string) *dest)
{
	const char *const *values;

	if (!doveadm_cmd_param_array(_ctx->cctx, name, &values))
		return;
	for (; *values != NULL; values++) {
		const char *value = p_strdup(_ctx->pool, *values);
		array_push_back(dest, &value);
	}
}

void doveadm_import_remote_read_options(struct doveadm_mail_cmd_context *_ctx,
					struct import_remote_settings *set)
{
	const char *str, *password_file = NULL, *error;
	int64_t port;
	bool password_stdin = FALSE;

	import_remote_settings_init(_ctx->pool, set);
	if (doveadm_cmd_param_str(_ctx->cctx, "host", &str))
		set->host = p_strdup(_ctx->pool, str);
	if (doveadm_cmd_param_str(_ctx->cctx,
				  DOVEADM_IMPORT_REMOTE_PARAM_SOURCE_USER, &str))
		set->username = p_strdup(_ctx->pool, str);
	if (doveadm_cmd_param_int64(_ctx->cctx, "port", &port)) {
		if (port <= 0 || port > 65535)
			i_fatal_status(EX_USAGE, "Invalid --port: %"PRId64, port);
		set->port = (in_port_t)port;
	}
	if (doveadm_cmd_param_str(_ctx->cctx, "ssl", &str) &&
	    import_remote_ssl_parse(str, &set->ssl) < 0) {
		i_fatal_status(EX_USAGE,
			"Invalid --ssl '%s': use imaps, starttls or none", str);
	}
	(void)doveadm_cmd_param_bool(_ctx->cctx, "tls-insecure",
				     &set->tls_insecure);
	(void)doveadm_cmd_param_str(_ctx->cctx, "password-file", &password_file);
	(void)doveadm_cmd_param_bool(_ctx->cctx, "password-stdin",
				     &password_stdin);
	if (password_file != NULL && password_stdin)
		i_fatal_status(EX_USAGE,
			"Give either --password-file or --password-stdin");
	import_remote_param_array(_ctx, "folder", &set->include_folders);
	import_remote_param_array(_ctx, "exclude", &set->exclude_folders);
	if (doveadm_cmd_param_str(_ctx->cctx, "dest-parent", &str) &&
	    str[0] != '\0')
		set->dest_parent = p_strdup(_ctx->pool, str);
	if (doveadm_cmd_param_str(_ctx->cctx, "dedup", &str) &&
	    import_remote_dedup_parse(str, &set->dedup) < 0) {
		i_fatal_status(EX_USAGE,
			"Invalid --dedup '%s': use folder, account or off", str);
	}
	if (doveadm_cmd_param_str(_ctx->cctx, "since", &str) &&
	    import_remote_date_parse(str, &set->since) < 0)
		i_fatal_status(EX_USAGE, "Invalid --since '%s': use YYYY-MM-DD", str);
	if (doveadm_cmd_param_str(_ctx->cctx, "before", &str) &&
	    import_remote_date_parse(str, &set->before) < 0)
		i_fatal_status(EX_USAGE, "Invalid --before '%s': use YYYY-MM-DD", str);
	(void)doveadm_cmd_param_bool(_ctx->cctx, "newest-first",
				     &set->newest_first);
	if (doveadm_cmd_param_int64(_ctx->cctx, "timeout", &port)) {
		if (port <= 0 || port > 3600)
			i_fatal_status(EX_USAGE, "Invalid --timeout: %"PRId64, port);
		set->connect_timeout_msecs = port * 1000;
	}

	if (doveadm_cmd_param_int64(_ctx->cctx, "throttle-retries", &port)) {
		if (port < 0 || port > 100)
			i_fatal_status(EX_USAGE, "Invalid --throttle-retries: %"PRId64, port);
		set->throttle_retries = port;
	}
	if (doveadm_cmd_param_int64(_ctx->cctx, "fetch-chunk", &port)) {
		if (port <= 0 || port > 1000000)
			i_fatal_status(EX_USAGE, "Invalid --fetch-chunk: %"PRId64, port);
		set->fetch_chunk = port;
	}

	if (password_file != NULL || password_stdin) {
		set->password = import_remote_read_password(_ctx,
			password_file, password_stdin);
	}
	if (import_remote_settings_check(set, &error) < 0)
		i_fatal_status(EX_USAGE, "%s", error);
	if (set->tls_insecure) {
		i_warning("--tls-insecure: the source server's certificate is "
			  "NOT verified; the password and mail can be "
			  "intercepted");
	}
}

/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "istream.h"
#include "doveadm.h"
#include "doveadm-cmd.h"
#include "doveadm-mail.h"
#include "import-remote-settings.h"
#include "import-remote-event.h"
#include "doveadm-import-remote.h"

#include <unistd.h>

/* --password-file is a stream parameter: on the command line doveadm
   opens the file named, with the rights of whoever runs doveadm; over
   doveadm's HTTP API the caller sends the content itself, so no caller can
   make the server read a file of its own. */
static int
import_remote_read_password(struct doveadm_mail_cmd_context *_ctx,
			    struct istream *input, const char **password_r)
{
	const char *error;

	if (input == NULL) {
		if (import_remote_password_read_fd(STDIN_FILENO, _ctx->pool,
						   password_r, &error) < 0) {
			return doveadm_import_remote_fail(&_ctx->exit_code,
				EX_USAGE, "--password-stdin: %s", error);
		}
		return 0;
	}
	/* over the HTTP API doveadm has already read it to its end */
	i_stream_seek(input, 0);
	if (import_remote_password_read_stream(input, _ctx->pool, password_r,
					       &error) < 0) {
		return doveadm_import_remote_fail(&_ctx->exit_code,
			input->stream_errno == 0 ? EX_DATAERR : EX_NOINPUT,
			"--password-file: %s", error);
	}
	return 0;
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

/* a usage error of an option */
#define IMPORT_REMOTE_USAGE(...) \
	doveadm_import_remote_fail(exit_code_r, EX_USAGE, __VA_ARGS__)

int doveadm_import_remote_read_job_options(struct doveadm_cmd_context *cctx,
					   pool_t pool,
					   struct import_remote_settings *set,
					   int *exit_code_r)
{
	const char *str;
	int64_t num;

	import_remote_settings_init(pool, set);
	if (doveadm_cmd_param_str(cctx, "host", &str))
		set->host = p_strdup(pool, str);
	if (doveadm_cmd_param_int64(cctx, "port", &num)) {
		if (num <= 0 || num > 65535)
			return IMPORT_REMOTE_USAGE("Invalid --port: %"PRId64, num);
		set->port = (in_port_t)num;
	}
	if (doveadm_cmd_param_str(cctx, "ssl", &str) &&
	    import_remote_ssl_parse(str, &set->ssl) < 0) {
		return IMPORT_REMOTE_USAGE(
			"Invalid --ssl '%s': use imaps, starttls or none", str);
	}
	(void)doveadm_cmd_param_bool(cctx, "tls-insecure", &set->tls_insecure);
	import_remote_param_array(cctx, pool, "folder", &set->include_folders);
	import_remote_param_array(cctx, pool, "exclude", &set->exclude_folders);
	if (doveadm_cmd_param_str(cctx, "dest-parent", &str) && str[0] != '\0')
		set->dest_parent = p_strdup(pool, str);
	if (doveadm_cmd_param_str(cctx, "dedup", &str) &&
	    import_remote_dedup_parse(str, &set->dedup) < 0) {
		return IMPORT_REMOTE_USAGE(
			"Invalid --dedup '%s': use folder, account or off", str);
	}
	if (doveadm_cmd_param_str(cctx, "since", &str) &&
	    import_remote_date_parse(str, &set->since) < 0)
		return IMPORT_REMOTE_USAGE("Invalid --since '%s': use YYYY-MM-DD", str);
	if (doveadm_cmd_param_str(cctx, "before", &str) &&
	    import_remote_date_parse(str, &set->before) < 0)
		return IMPORT_REMOTE_USAGE("Invalid --before '%s': use YYYY-MM-DD", str);
	(void)doveadm_cmd_param_bool(cctx, "newest-first", &set->newest_first);
	(void)doveadm_cmd_param_bool(cctx, "mirror", &set->mirror);
	if (doveadm_cmd_param_int64(cctx, "timeout", &num)) {
		if (num <= 0 || num > 3600)
			return IMPORT_REMOTE_USAGE("Invalid --timeout: %"PRId64, num);
		set->connect_timeout_msecs = num * 1000;
	}
	if (doveadm_cmd_param_int64(cctx, "stall-timeout", &num)) {
		if (num <= 0 || num > 24*3600) {
			return IMPORT_REMOTE_USAGE(
				"Invalid --stall-timeout: %"PRId64, num);
		}
		set->cmd_timeout_msecs = num * 1000;
	}
	if (doveadm_cmd_param_int64(cctx, "reconnects", &num)) {
		if (num < 0 || num > 1000)
			return IMPORT_REMOTE_USAGE("Invalid --reconnects: %"PRId64, num);
		set->reconnects = num;
	}
	if (doveadm_cmd_param_int64(cctx, "throttle-retries", &num)) {
		if (num < 0 || num > 100) {
			return IMPORT_REMOTE_USAGE(
				"Invalid --throttle-retries: %"PRId64, num);
		}
		set->throttle_retries = num;
	}
	if (doveadm_cmd_param_int64(cctx, "fetch-chunk", &num)) {
		if (num <= 0 || num > 1000000)
			return IMPORT_REMOTE_USAGE("Invalid --fetch-chunk: %"PRId64, num);
		set->fetch_chunk = num;
	}
	if (set->tls_insecure) {
		i_warning("--tls-insecure: the source server's certificate is "
			  "NOT verified; the password and mail can be "
			  "intercepted");
	}
	return 0;
}

int doveadm_import_remote_read_options(struct doveadm_mail_cmd_context *_ctx,
				       struct import_remote_settings *set)
{
	const char *str, *error;
	struct istream *password_file = NULL;
	bool password_stdin = FALSE;
	int *exit_code_r = &_ctx->exit_code;

	if (doveadm_import_remote_read_job_options(_ctx->cctx, _ctx->pool, set,
						   exit_code_r) < 0)
		return -1;
	if (doveadm_cmd_param_str(_ctx->cctx,
				  DOVEADM_IMPORT_REMOTE_PARAM_SOURCE_USER, &str))
		set->username = p_strdup(_ctx->pool, str);
	(void)doveadm_cmd_param_istream(_ctx->cctx, "password-file",
					&password_file);
	(void)doveadm_cmd_param_bool(_ctx->cctx, "password-stdin",
				     &password_stdin);
	if (password_file != NULL && password_stdin) {
		return IMPORT_REMOTE_USAGE(
			"Give either --password-file or --password-stdin");
	}
	if ((password_file != NULL || password_stdin) &&
	    import_remote_read_password(_ctx,
			password_stdin ? NULL : password_file,
			&set->password) < 0)
		return -1;
	if (import_remote_settings_check(set, &error) < 0)
		return IMPORT_REMOTE_USAGE("%s", error);
	return 0;
}

int doveadm_import_remote_fail(int *exit_code_r, int exit_code,
			       const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	e_error(import_remote_event(), "%s", t_strdup_vprintf(fmt, args));
	va_end(args);
	*exit_code_r = exit_code;
	return -1;
}

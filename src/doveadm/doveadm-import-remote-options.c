/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "istream.h"
#include "doveadm.h"
#include "doveadm-cmd.h"
#include "doveadm-mail.h"
#include "import-remote-settings.h"
#include "oauth2-token.h"
#include "oauth2-jwt.h"
#include "import-remote-event.h"
#include "doveadm-import-remote.h"

#include <unistd.h>

/* a usage error of an option */
#define IMPORT_REMOTE_USAGE(...) \
	doveadm_import_remote_fail(exit_code_r, EX_USAGE, __VA_ARGS__)

/* --password-file is a stream parameter: on the command line doveadm
   opens the file named, with the rights of whoever runs doveadm; over
   doveadm's HTTP API the caller sends the content itself, so no caller can
   make the server read a file of its own. */
/* What the option readers need of a command (a mail command's or not) */
struct import_remote_opt_ctx {
	struct doveadm_cmd_context *cctx;
	pool_t pool;
	int *exit_code_r;
};

static int
import_remote_read_password(struct import_remote_opt_ctx *oc,
			    const char *what, struct istream *input,
			    const char **password_r)
{
	const char *error;

	if (input == NULL) {
		if (import_remote_password_read_fd(STDIN_FILENO, oc->pool,
						   password_r, &error) < 0) {
			return doveadm_import_remote_fail(oc->exit_code_r,
				EX_USAGE, "--%s-stdin: %s", what, error);
		}
		return 0;
	}
	/* over the HTTP API doveadm has already read it to its end */
	i_stream_seek(input, 0);
	if (import_remote_password_read_stream(input, oc->pool, password_r,
					       &error) < 0) {
		return doveadm_import_remote_fail(oc->exit_code_r,
			input->stream_errno == 0 ? EX_DATAERR : EX_NOINPUT,
			"--%s-file: %s", what, error);
	}
	return 0;
}

/* A service account key file: all of it (JSON), at most 16 kB; likewise
   a certificate credential's PEM files. what: the option, kind: what its
   file is to be. */
#define IMPORT_REMOTE_KEY_FILE_MAX (16*1024)
static int
import_remote_read_small_file(struct import_remote_opt_ctx *oc,
			      const char *what, const char *kind,
			      struct istream *input, const char **text_r)
{
	int *exit_code_r = oc->exit_code_r;
	const unsigned char *data;
	size_t size;
	ssize_t ret;

	i_stream_seek(input, 0);
	while ((ret = i_stream_read(input)) > 0) {
		(void)i_stream_get_data(input, &size);
		if (size > IMPORT_REMOTE_KEY_FILE_MAX)
			break;
	}
	data = i_stream_get_data(input, &size);
	if (input->stream_errno != 0) {
		return doveadm_import_remote_fail(exit_code_r, EX_NOINPUT,
			"--%s: %s", what, i_stream_get_error(input));
	}
	if (size > IMPORT_REMOTE_KEY_FILE_MAX || size == 0 ||
	    memchr(data, '\0', size) != NULL) {
		return IMPORT_REMOTE_USAGE("--%s: not %s (empty, binary or "
					   "over 16 kB)", what, kind);
	}
	*text_r = p_strndup(oc->pool, data, size);
	return 0;
}

static int
import_remote_read_key_file(struct import_remote_opt_ctx *oc,
			    struct istream *input, const char **json_r)
{
	return import_remote_read_small_file(oc, "oauth2-service-account-file",
		"a service account key file", input, json_r);
}

static int
import_remote_read_pem_file(struct import_remote_opt_ctx *oc,
			    const char *what, struct istream *input,
			    const char **pem_r)
{
	return import_remote_read_small_file(oc, what, "a PEM file", input,
					     pem_r);
}

/* --provider google|microsoft: what is known of the provider, where the
   command line says nothing else */
static int
import_remote_provider(struct import_remote_opt_ctx *oc,
		       struct import_remote_settings *set)
{
	int *exit_code_r = oc->exit_code_r;
	const char *provider, *tenant = NULL;
	bool google;

	if (!doveadm_cmd_param_str(oc->cctx, "provider", &provider)) {
		if (doveadm_cmd_param_str(oc->cctx, "oauth2-tenant", &tenant))
			return IMPORT_REMOTE_USAGE("--oauth2-tenant goes with "
						   "--provider microsoft");
		return 0;
	}
	if (strcmp(provider, "google") == 0)
		google = TRUE;
	else if (strcmp(provider, "microsoft") == 0)
		google = FALSE;
	else {
		return IMPORT_REMOTE_USAGE("Invalid --provider: %s (google, "
					   "microsoft)", provider);
	}
	if (set->host == NULL)
		set->host = google ? "imap.gmail.com" : "outlook.office365.com";
	if (google) {
		if (set->oauth2_token_url == NULL) {
			set->oauth2_token_url =
				"https://oauth2.googleapis.com/token";
		}
		if (set->oauth2_scope == NULL &&
		    set->oauth2_grant == IMPORT_REMOTE_OAUTH2_GRANT_JWT_BEARER)
			set->oauth2_scope = "https://mail.google.com/";
		return 0;
	}
	if (doveadm_cmd_param_str(oc->cctx, "oauth2-tenant", &tenant) &&
	    (tenant[0] == '\0' ||
	     strspn(tenant, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789.-") != strlen(tenant))) {
		return IMPORT_REMOTE_USAGE("Invalid --oauth2-tenant: %s",
					   tenant);
	}
	if (set->oauth2_token_url == NULL && tenant != NULL) {
		set->oauth2_token_url = p_strdup_printf(oc->pool,
			"https://login.microsoftonline.com/%s/oauth2/v2.0/token",
			tenant);
	}
	if (set->oauth2_token_url == NULL &&
	    set->oauth2_grant != IMPORT_REMOTE_OAUTH2_GRANT_NONE) {
		return IMPORT_REMOTE_USAGE("--provider microsoft needs "
			"--oauth2-tenant (the tenant id or domain)");
	}
	if (set->oauth2_scope == NULL) {
		if (set->oauth2_grant ==
		    IMPORT_REMOTE_OAUTH2_GRANT_CLIENT_CREDENTIALS) {
			set->oauth2_scope =
				"https://outlook.office365.com/.default";
		} else if (set->oauth2_grant ==
			   IMPORT_REMOTE_OAUTH2_GRANT_REFRESH_TOKEN) {
			set->oauth2_scope = "https://outlook.office365.com/"
				"IMAP.AccessAsUser.All offline_access";
		}
	}
	return 0;
}

/* An OAuth2 grant: a refresh token (--refresh-token-file/-stdin), the
   client's own credentials (--oauth2-grant client-credentials) or a
   service account's JWT (--oauth2-service-account-file), with the
   endpoint and the client; secrets from files (never argv). */
static int
import_remote_read_grant(struct import_remote_opt_ctx *oc,
			 bool have_password,
			 struct import_remote_settings *set)
{
	int *exit_code_r = oc->exit_code_r;
	struct istream *refresh_file = NULL, *secret_file = NULL;
	struct istream *account_file = NULL, *cert_file = NULL;
	struct istream *key_file = NULL;
	struct oauth2_service_account account;
	bool refresh_stdin = FALSE;
	const char *str, *error;

	if (doveadm_cmd_param_str(oc->cctx, "oauth2-token-url", &str)) {
		if (oauth2_token_url_check(str, &error) < 0) {
			return IMPORT_REMOTE_USAGE("Invalid --oauth2-token-url: "
						   "%s", error);
		}
		set->oauth2_token_url = p_strdup(oc->pool, str);
	}
	if (doveadm_cmd_param_str(oc->cctx, "oauth2-client-id", &str))
		set->oauth2_client_id = p_strdup(oc->pool, str);
	if (doveadm_cmd_param_str(oc->cctx, "oauth2-scope", &str))
		set->oauth2_scope = p_strdup(oc->pool, str);
	if (doveadm_cmd_param_str(oc->cctx, "oauth2-grant", &str) &&
	    import_remote_oauth2_grant_parse(str, &set->oauth2_grant) < 0) {
		return IMPORT_REMOTE_USAGE("Invalid --oauth2-grant: %s "
			"(refresh-token, client-credentials, jwt-bearer)", str);
	}
	(void)doveadm_cmd_param_istream(oc->cctx, "refresh-token-file",
					&refresh_file);
	(void)doveadm_cmd_param_bool(oc->cctx, "refresh-token-stdin",
				     &refresh_stdin);
	(void)doveadm_cmd_param_istream(oc->cctx,
					"oauth2-client-secret-file",
					&secret_file);
	(void)doveadm_cmd_param_istream(oc->cctx,
					"oauth2-service-account-file",
					&account_file);
	(void)doveadm_cmd_param_istream(oc->cctx,
					"oauth2-client-certificate-file",
					&cert_file);
	(void)doveadm_cmd_param_istream(oc->cctx, "oauth2-client-key-file",
					&key_file);
	if (refresh_file != NULL && refresh_stdin) {
		return IMPORT_REMOTE_USAGE("Give either --refresh-token-file "
					   "or --refresh-token-stdin");
	}
	if (set->oauth2_grant == IMPORT_REMOTE_OAUTH2_GRANT_NONE) {
		if (refresh_file != NULL || refresh_stdin)
			set->oauth2_grant = IMPORT_REMOTE_OAUTH2_GRANT_REFRESH_TOKEN;
		else if (account_file != NULL)
			set->oauth2_grant = IMPORT_REMOTE_OAUTH2_GRANT_JWT_BEARER;
	}
	if (set->oauth2_grant == IMPORT_REMOTE_OAUTH2_GRANT_NONE) {
		if (set->oauth2_token_url != NULL ||
		    set->oauth2_client_id != NULL || secret_file != NULL ||
		    cert_file != NULL || key_file != NULL ||
		    set->oauth2_scope != NULL) {
			return IMPORT_REMOTE_USAGE("The --oauth2-* options "
				"go with an OAuth2 grant (--refresh-token-file, "
				"--oauth2-grant client-credentials, "
				"--oauth2-service-account-file)");
		}
		return import_remote_provider(oc, set);
	}
	if (have_password) {
		return IMPORT_REMOTE_USAGE("Give either a password or an "
					   "OAuth2 grant");
	}
	if ((refresh_file != NULL || refresh_stdin) !=
	    (set->oauth2_grant == IMPORT_REMOTE_OAUTH2_GRANT_REFRESH_TOKEN) ||
	    (account_file != NULL) !=
	    (set->oauth2_grant == IMPORT_REMOTE_OAUTH2_GRANT_JWT_BEARER)) {
		return IMPORT_REMOTE_USAGE("--oauth2-grant %s does not go "
			"with the token or key given",
			import_remote_oauth2_grant_name(set->oauth2_grant));
	}
	if (set->auth_mech == IMPORT_REMOTE_AUTH_PASSWORD)
		set->auth_mech = IMPORT_REMOTE_AUTH_OAUTH2;
	if ((refresh_file != NULL || refresh_stdin) &&
	    import_remote_read_password(oc, "refresh-token",
			refresh_stdin ? NULL : refresh_file,
			&set->oauth2_refresh_token) < 0)
		return -1;
	if (secret_file != NULL &&
	    import_remote_read_password(oc, "oauth2-client-secret",
					secret_file,
					&set->oauth2_client_secret) < 0)
		return -1;
	if ((cert_file != NULL || key_file != NULL) &&
	    set->oauth2_grant != IMPORT_REMOTE_OAUTH2_GRANT_CLIENT_CREDENTIALS) {
		return IMPORT_REMOTE_USAGE("--oauth2-client-certificate-file "
			"and --oauth2-client-key-file go with --oauth2-grant "
			"client-credentials");
	}
	if ((cert_file != NULL) != (key_file != NULL)) {
		return IMPORT_REMOTE_USAGE("A certificate credential needs both "
			"--oauth2-client-certificate-file and "
			"--oauth2-client-key-file");
	}
	if (cert_file != NULL && secret_file != NULL) {
		return IMPORT_REMOTE_USAGE("Give either "
			"--oauth2-client-secret-file or a certificate "
			"credential (--oauth2-client-certificate-file)");
	}
	if (cert_file != NULL) {
		if (import_remote_read_pem_file(oc,
				"oauth2-client-certificate-file", cert_file,
				&set->oauth2_client_certificate) < 0 ||
		    import_remote_read_pem_file(oc, "oauth2-client-key-file",
				key_file, &set->oauth2_client_key) < 0)
			return -1;
		/* checked now: a bad file is a usage error, not a run's */
		if (oauth2_jwt_cert_check(set->oauth2_client_certificate,
					  set->oauth2_client_key, &error) < 0) {
			return IMPORT_REMOTE_USAGE("--oauth2-client-"
				"certificate-file, --oauth2-client-key-file: "
				"%s", error);
		}
	}
	if (account_file != NULL) {
		if (import_remote_read_key_file(oc, account_file,
						&set->oauth2_service_account) < 0)
			return -1;
		/* checked now: a bad file is a usage error, not a run's */
		if (oauth2_service_account_parse(set->oauth2_service_account,
						 pool_datastack_create(),
						 &account, &error) < 0) {
			return IMPORT_REMOTE_USAGE(
				"--oauth2-service-account-file: %s", error);
		}
		if (set->oauth2_token_url == NULL &&
		    account.token_uri != NULL) {
			if (oauth2_token_url_check(account.token_uri,
						   &error) < 0) {
				return IMPORT_REMOTE_USAGE("The service account's "
					"token_uri: %s", error);
			}
			set->oauth2_token_url =
				p_strdup(oc->pool, account.token_uri);
		}
	}
	return import_remote_provider(oc, set);
}

/* --access-token-file/-stdin (read like a password: a stream, never
   argv) and --auth-mechanism. The token travels in set->password. */
static int
import_remote_read_token(struct doveadm_mail_cmd_context *_ctx,
			 bool have_password,
			 struct import_remote_settings *set)
{
	int *exit_code_r = &_ctx->exit_code;
	struct import_remote_opt_ctx oc = {
		.cctx = _ctx->cctx, .pool = _ctx->pool,
		.exit_code_r = &_ctx->exit_code,
	};
	struct istream *token_file = NULL;
	bool token_stdin = FALSE;
	const char *str;

	if (doveadm_cmd_param_str(_ctx->cctx, "auth-mechanism", &str) &&
	    import_remote_auth_mech_parse(str, &set->auth_mech) < 0) {
		return IMPORT_REMOTE_USAGE("Invalid --auth-mechanism: %s "
			"(auto, plain, login, oauth2, xoauth2, oauthbearer)",
			str);
	}
	if (import_remote_read_grant(&oc, have_password, set) < 0)
		return -1;
	(void)doveadm_cmd_param_istream(_ctx->cctx, "access-token-file",
					&token_file);
	(void)doveadm_cmd_param_bool(_ctx->cctx, "access-token-stdin",
				     &token_stdin);
	if (set->oauth2_grant != IMPORT_REMOTE_OAUTH2_GRANT_NONE &&
	    (token_file != NULL || token_stdin)) {
		return IMPORT_REMOTE_USAGE("Give either an access token or an "
					   "OAuth2 grant");
	}
	if (token_file == NULL && !token_stdin &&
	    set->oauth2_grant != IMPORT_REMOTE_OAUTH2_GRANT_NONE)
		return 0;
	if (token_file == NULL && !token_stdin) {
		if (import_remote_auth_mech_is_oauth2(set->auth_mech)) {
			return IMPORT_REMOTE_USAGE("--auth-mechanism %s needs "
				"--access-token-file or --access-token-stdin",
				import_remote_auth_mech_name(set->auth_mech));
		}
		return 0;
	}
	if (token_file != NULL && token_stdin) {
		return IMPORT_REMOTE_USAGE(
			"Give either --access-token-file or --access-token-stdin");
	}
	if (have_password) {
		return IMPORT_REMOTE_USAGE("Give either a password "
			"(--password-file, --password-stdin) or an access "
			"token (--access-token-file, --access-token-stdin)");
	}
	if (set->auth_mech == IMPORT_REMOTE_AUTH_PASSWORD)
		set->auth_mech = IMPORT_REMOTE_AUTH_OAUTH2;
	else if (!import_remote_auth_mech_is_oauth2(set->auth_mech)) {
		return IMPORT_REMOTE_USAGE("--auth-mechanism %s sends a "
			"password, not an access token",
			import_remote_auth_mech_name(set->auth_mech));
	}
	return import_remote_read_password(&oc, "access-token",
			token_stdin ? NULL : token_file, &set->password);
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
	if (doveadm_cmd_param_int64(cctx, "connections", &num)) {
		if (num < 1 || num > IMPORT_REMOTE_MAX_CONNECTIONS) {
			return IMPORT_REMOTE_USAGE(
				"Invalid --connections: %"PRId64" (use 1 to %u)",
				num, IMPORT_REMOTE_MAX_CONNECTIONS);
		}
		set->connections = num;
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
	struct import_remote_opt_ctx oc = {
		.cctx = _ctx->cctx, .pool = _ctx->pool,
		.exit_code_r = &_ctx->exit_code,
	};

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
	if (doveadm_import_remote_authorized(_ctx)) {
		/* the grant kept by authorize: read from the store by
		   run(), where the user is known, and checked there */
		struct istream *input;
		bool flag = FALSE;

		if (password_file != NULL || password_stdin ||
		    doveadm_cmd_param_str(_ctx->cctx, "oauth2-token-url", &str) ||
		    doveadm_cmd_param_str(_ctx->cctx, "oauth2-client-id", &str) ||
		    doveadm_cmd_param_str(_ctx->cctx, "oauth2-grant", &str) ||
		    doveadm_cmd_param_istream(_ctx->cctx, "access-token-file",
					      &input) ||
		    doveadm_cmd_param_istream(_ctx->cctx, "refresh-token-file",
					      &input) ||
		    doveadm_cmd_param_istream(_ctx->cctx,
				"oauth2-client-secret-file", &input) ||
		    doveadm_cmd_param_istream(_ctx->cctx,
				"oauth2-service-account-file", &input) ||
		    doveadm_cmd_param_istream(_ctx->cctx,
				"oauth2-client-certificate-file", &input) ||
		    doveadm_cmd_param_istream(_ctx->cctx,
				"oauth2-client-key-file", &input) ||
		    (doveadm_cmd_param_bool(_ctx->cctx, "access-token-stdin",
					    &flag) && flag) ||
		    (doveadm_cmd_param_bool(_ctx->cctx, "refresh-token-stdin",
					    &flag) && flag)) {
			return IMPORT_REMOTE_USAGE("--oauth2-authorized uses "
				"the grant kept by authorize: give no "
				"password, token or other grant");
		}
		if (doveadm_cmd_param_str(_ctx->cctx, "auth-mechanism", &str) &&
		    import_remote_auth_mech_parse(str, &set->auth_mech) < 0) {
			return IMPORT_REMOTE_USAGE("Invalid --auth-mechanism: "
						   "%s", str);
		}
		if (set->auth_mech == IMPORT_REMOTE_AUTH_PASSWORD)
			set->auth_mech = IMPORT_REMOTE_AUTH_OAUTH2;
		return import_remote_provider(&oc, set);
	}
	if (import_remote_read_token(_ctx,
			password_file != NULL || password_stdin, set) < 0)
		return -1;
	if ((password_file != NULL || password_stdin) &&
	    import_remote_read_password(&oc, "password",
			password_stdin ? NULL : password_file,
			&set->password) < 0)
		return -1;
	if (import_remote_settings_check(set, &error) < 0)
		return IMPORT_REMOTE_USAGE("%s", error);
	return 0;
}

int doveadm_import_remote_read_shared_grant(struct doveadm_cmd_context *cctx,
					    pool_t pool,
					    struct import_remote_settings *set,
					    int *exit_code_r)
{
	struct import_remote_opt_ctx oc = {
		.cctx = cctx, .pool = pool, .exit_code_r = exit_code_r,
	};
	const char *str;

	if (doveadm_cmd_param_str(cctx, "auth-mechanism", &str) &&
	    import_remote_auth_mech_parse(str, &set->auth_mech) < 0) {
		return IMPORT_REMOTE_USAGE("Invalid --auth-mechanism: %s",
					   str);
	}
	if (import_remote_read_grant(&oc, FALSE, set) < 0)
		return -1;
	if (set->oauth2_grant == IMPORT_REMOTE_OAUTH2_GRANT_REFRESH_TOKEN) {
		return IMPORT_REMOTE_USAGE("A refresh token is one user's: a "
			"batch shares a client credentials or service account "
			"grant only");
	}
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

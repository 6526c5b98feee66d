/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* The declaration of the import_remote_* settings: built into the engine
   and, for Dovecot 2.4, into the settings module that Dovecot's config
   process loads (so it needs nothing but lib-settings). */

#include "lib.h"
#include "settings-parser.h"
#include "utc-mktime.h"
#include "import-remote-config.h"
#include "import-remote-settings.h"
#include "outbound-guard.h"

#undef DEF
#define DEF(type, name) \
	SETTING_DEFINE_STRUCT_##type(#name, name, struct import_remote_config)

static const struct setting_define import_remote_config_setting_defines[] = {
	DEF(STR, import_remote_store),
	DEF(STR, import_remote_key_file),
	DEF(UINT, import_remote_workers),
	DEF(UINT, import_remote_job_retries),
	DEF(TIME, import_remote_job_retry_delay),
	DEF(TIME, import_remote_run_timeout),
	DEF(UINT, import_remote_max_folders),
	DEF(UINT, import_remote_connections),
	DEF(UINT, import_remote_host_connections),
	DEF(UINT, import_remote_account_connections),
	DEF(STR, import_remote_host_connection_limits),
	DEF(UINT, import_remote_pause_percent),
	DEF(STR, import_remote_shared_quota_root),
	DEF(STR, import_remote_submission_host),
	DEF(STR, import_remote_sendmail_path),
	DEF(STR, import_remote_notify_from),
	DEF(STR, import_remote_webhook_url),
	DEF(STR, import_remote_webhook_secret),
	DEF(TIME, import_remote_notify_retry_interval),
	DEF(STR, import_remote_allowed_networks),
	DEF(BOOL, import_remote_allow_plaintext),
	DEF(STR, import_remote_ssl_min_protocol),
	DEF(STR, import_remote_source_host),
	DEF(IN_PORT, import_remote_source_port),
	DEF(STR, import_remote_source_ssl),
	DEF(STR, import_remote_source_user),
	DEF(STR, import_remote_source_password),
	DEF(STR, import_remote_source_auth_mechanism),
	DEF(STR, import_remote_source_oauth2_grant),
	DEF(STR, import_remote_source_oauth2_token_url),
	DEF(STR, import_remote_source_oauth2_client_id),
	DEF(STR, import_remote_source_oauth2_client_secret_file),
	DEF(STR, import_remote_source_oauth2_service_account_file),
	DEF(STR, import_remote_source_oauth2_scope),
	DEF(STR, import_remote_source_oauth2_client_certificate_file),
	DEF(STR, import_remote_source_oauth2_client_key_file),
	DEF(STR, import_remote_source_provider),
	DEF(STR, import_remote_source_oauth2_tenant),
	DEF(STR, import_remote_source_mode),
	DEF(TIME, import_remote_sync_interval),
	DEF(STR, import_remote_sync_until),
	DEF(BOOL, import_remote_notice),
	DEF(STR, import_remote_notice_template),
	DEF(STR, import_remote_notice_template_dir),
	DEF(BOOL, import_remote_user_requests),
	DEF(UINT, import_remote_user_request_limit),
	DEF(BOOL, import_remote_user_request_oauth2),
	SETTING_DEFINE_LIST_END
};

static const struct import_remote_config import_remote_config_defaults = {
	.import_remote_store = "sqlite:/var/lib/dovecot/import-remote/import-remote.db",
	.import_remote_key_file = "/var/lib/dovecot/import-remote/import-remote.key",
	.import_remote_workers = 4,
	.import_remote_job_retries = 5,
	.import_remote_job_retry_delay = 60,
	.import_remote_run_timeout = 24*60*60,
	.import_remote_max_folders = 10000,
	.import_remote_connections = IMPORT_REMOTE_DEFAULT_CONNECTIONS,
	/* most hosts ban an address that opens many IMAP connections at
	   once (fail2ban, cPanel's and Courier's per-address limits) and
	   allow a user a handful (Dovecot's mail_max_userip_connections is
	   10, and the user's own phone and desktop hold some of those
	   during a migration): 8 per host, 4 per account */
	.import_remote_host_connections = 8,
	.import_remote_account_connections = 4,
	.import_remote_host_connection_limits = "",
	.import_remote_pause_percent = 90,
	.import_remote_shared_quota_root = "",
	.import_remote_submission_host = "",
	.import_remote_sendmail_path = "/usr/sbin/sendmail",
	.import_remote_notify_from = "",
	.import_remote_webhook_url = "",
	.import_remote_webhook_secret = "",
	.import_remote_notify_retry_interval = 30,
	.import_remote_allowed_networks = "",
	.import_remote_allow_plaintext = FALSE,
	.import_remote_ssl_min_protocol = "TLSv1.2",
	.import_remote_source_host = "",
	.import_remote_source_port = 0,
	.import_remote_source_ssl = "imaps",
	.import_remote_source_user = "",
	.import_remote_source_password = "",
	.import_remote_source_auth_mechanism = "auto",
	.import_remote_source_oauth2_grant = "",
	.import_remote_source_oauth2_token_url = "",
	.import_remote_source_oauth2_client_id = "",
	.import_remote_source_oauth2_client_secret_file = "",
	.import_remote_source_oauth2_service_account_file = "",
	.import_remote_source_oauth2_scope = "",
	.import_remote_source_oauth2_client_certificate_file = "",
	.import_remote_source_oauth2_client_key_file = "",
	.import_remote_source_provider = "",
	.import_remote_source_oauth2_tenant = "",
	.import_remote_source_mode = "once",
	.import_remote_sync_interval = 60*60,
	.import_remote_sync_until = "",
	.import_remote_notice = TRUE,
	.import_remote_notice_template = "",
	.import_remote_notice_template_dir = "",
	.import_remote_user_requests = FALSE,
	.import_remote_user_request_limit = 10,
	.import_remote_user_request_oauth2 = FALSE,
};

/* YYYY-MM-DD as the UTC midnight it begins with */
static bool import_remote_config_parse_day(const char *str, time_t *time_r)
{
	struct tm tm;
	unsigned int y, m, d;

	if (strlen(str) != 10 || str[4] != '-' || str[7] != '-' ||
	    str_to_uint(t_strndup(str, 4), &y) < 0 ||
	    str_to_uint(t_strndup(str + 5, 2), &m) < 0 ||
	    str_to_uint(str + 8, &d) < 0 ||
	    y < 1970 || m < 1 || m > 12 || d < 1 || d > 31)
		return FALSE;
	i_zero(&tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	*time_r = utc_mktime(&tm);
	return *time_r != (time_t)-1;
}

static bool
import_remote_config_check_source(struct import_remote_config *set,
				  const char **error_r)
{
	set->parsed_sync_until = 0;
	if (strcmp(set->import_remote_source_ssl, "imaps") != 0 &&
	    strcmp(set->import_remote_source_ssl, "ssl") != 0 &&
	    strcmp(set->import_remote_source_ssl, "tls") != 0 &&
	    strcmp(set->import_remote_source_ssl, "starttls") != 0 &&
	    strcmp(set->import_remote_source_ssl, "none") != 0) {
		*error_r = t_strdup_printf("import_remote_source_ssl: Invalid "
			"value '%s': use imaps, starttls or none",
			set->import_remote_source_ssl);
		return FALSE;
	}
	if (strcmp(set->import_remote_source_mode, "once") != 0 &&
	    strcmp(set->import_remote_source_mode, "sync") != 0) {
		*error_r = t_strdup_printf("import_remote_source_mode: Invalid "
			"value '%s': use once or sync",
			set->import_remote_source_mode);
		return FALSE;
	}
	if (set->import_remote_sync_until[0] != '\0' &&
	    !import_remote_config_parse_day(set->import_remote_sync_until,
					    &set->parsed_sync_until)) {
		*error_r = t_strdup_printf("import_remote_sync_until: Invalid "
			"date '%s': use YYYY-MM-DD",
			set->import_remote_sync_until);
		return FALSE;
	}
	if (strcmp(set->import_remote_source_mode, "sync") == 0 &&
	    set->import_remote_source_host[0] != '\0' &&
	    set->parsed_sync_until == 0) {
		*error_r = "import_remote_source_mode = sync needs "
			"import_remote_sync_until (the cut-over date)";
		return FALSE;
	}
	if (set->import_remote_source_oauth2_grant[0] != '\0' &&
	    strcmp(set->import_remote_source_oauth2_grant,
		   "client_credentials") != 0 &&
	    strcmp(set->import_remote_source_oauth2_grant,
		   "client-credentials") != 0 &&
	    strcmp(set->import_remote_source_oauth2_grant, "jwt_bearer") != 0 &&
	    strcmp(set->import_remote_source_oauth2_grant, "jwt-bearer") != 0) {
		*error_r = t_strdup_printf("import_remote_source_oauth2_grant: "
			"Invalid value '%s': use client_credentials or "
			"jwt_bearer", set->import_remote_source_oauth2_grant);
		return FALSE;
	}
	if (set->import_remote_sync_interval == 0) {
		*error_r = "import_remote_sync_interval: Invalid value 0: "
			"use 1m or more";
		return FALSE;
	}
	return TRUE;
}

/* import_remote_host_connection_limits: "host=N[/M]" words, N the cap
   of the host, M of one account on it (the default's if left out) */
static bool
import_remote_config_parse_host_caps(struct import_remote_config *set,
				     pool_t pool, const char **error_r)
{
	const char *const *words, *word, *p, *slash;
	struct import_remote_host_cap *caps;
	unsigned int i, count, n;

	words = t_strsplit_spaces(set->import_remote_host_connection_limits,
				  " ");
	count = str_array_length(words);
	caps = count == 0 ? NULL :
		p_new(pool, struct import_remote_host_cap, count);
	for (i = 0; i < count; i++) {
		word = words[i];
		p = strchr(word, '=');
		slash = p == NULL ? NULL : strchr(p, '/');
		caps[i].per_account = set->import_remote_account_connections;
		if (p == NULL || p == word || p - word > 255 ||
		    str_to_uint(slash == NULL ? p + 1 :
				t_strdup_until(p + 1, slash), &n) < 0 ||
		    (slash != NULL &&
		     str_to_uint(slash + 1, &caps[i].per_account) < 0)) {
			*error_r = t_strdup_printf(
				"import_remote_host_connection_limits: "
				"Invalid '%s': use host=N or host=N/M (N "
				"connections to the host, M to one account "
				"on it; 0: no cap)", word);
			return FALSE;
		}
		caps[i].host = p_strdup(pool, t_str_lcase(
			t_strdup_until(word, p)));
		caps[i].per_host = n;
	}
	set->parsed_host_caps = caps;
	set->parsed_host_caps_count = count;
	return TRUE;
}

/* import_remote_source_provider: what is known of the provider, where
   the settings say nothing else */
static bool
import_remote_config_check_provider(struct import_remote_config *set,
				    pool_t pool, const char **error_r)
{
	const char *provider = set->import_remote_source_provider;
	const char *grant = set->import_remote_source_oauth2_grant;
	const char *tenant = set->import_remote_source_oauth2_tenant;
	bool client_credentials = strcmp(grant, "client_credentials") == 0 ||
		strcmp(grant, "client-credentials") == 0;
	bool jwt_bearer = strcmp(grant, "jwt_bearer") == 0 ||
		strcmp(grant, "jwt-bearer") == 0;

	/* (the tenant is Microsoft's only: a userdb override to another
	   provider leaves a global one unused) */
	if (provider[0] == '\0')
		return TRUE;
	if (strcmp(provider, "google") == 0) {
		if (set->import_remote_source_host[0] == '\0')
			set->import_remote_source_host = "imap.gmail.com";
		/* a service account's key file names its own token_uri */
		if (set->import_remote_source_oauth2_token_url[0] == '\0' &&
		    grant[0] != '\0' &&
		    set->import_remote_source_oauth2_service_account_file[0] == '\0') {
			set->import_remote_source_oauth2_token_url =
				"https://oauth2.googleapis.com/token";
		}
		if (set->import_remote_source_oauth2_scope[0] == '\0' &&
		    jwt_bearer)
			set->import_remote_source_oauth2_scope =
				"https://mail.google.com/";
		return TRUE;
	}
	if (strcmp(provider, "microsoft") != 0) {
		*error_r = t_strdup_printf("import_remote_source_provider: "
			"Invalid value '%s': use google or microsoft", provider);
		return FALSE;
	}
	if (strspn(tenant, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		   "0123456789.-") != strlen(tenant)) {
		*error_r = t_strdup_printf("import_remote_source_oauth2_tenant: "
			"Invalid value '%s': the tenant id or domain", tenant);
		return FALSE;
	}
	if (set->import_remote_source_host[0] == '\0')
		set->import_remote_source_host = "outlook.office365.com";
	if (set->import_remote_source_oauth2_token_url[0] == '\0' &&
	    tenant[0] != '\0') {
		set->import_remote_source_oauth2_token_url = p_strdup_printf(pool,
			"https://login.microsoftonline.com/%s/oauth2/v2.0/token",
			tenant);
	}
	if (set->import_remote_source_oauth2_scope[0] == '\0' &&
	    client_credentials) {
		set->import_remote_source_oauth2_scope =
			"https://outlook.office365.com/.default";
	}
	return TRUE;
}

static bool
import_remote_config_check(void *_set, pool_t pool,
			   const char **error_r)
{
	struct import_remote_config *set = _set;
	const char *store = set->import_remote_store, *p;
	struct outbound_guard *guard;

	p = strchr(store, ':');
	if (p == NULL || p == store || p[1] == '\0' ||
	    (strncmp(store, "sqlite:", 7) != 0 &&
	     strncmp(store, "pgsql:", 6) != 0)) {
		*error_r = t_strdup_printf("import_remote_store: "
			"Invalid value '%s': use sqlite:<path> or "
			"pgsql:<connect string>", store);
		return FALSE;
	}
	if (set->import_remote_key_file[0] == '\0') {
		*error_r = "import_remote_key_file: must not be empty";
		return FALSE;
	}
	if (set->import_remote_connections < 1 ||
	    set->import_remote_connections > IMPORT_REMOTE_MAX_CONNECTIONS) {
		*error_r = t_strdup_printf("import_remote_connections: "
			"Invalid value %u: use 1 to %u",
			set->import_remote_connections,
			IMPORT_REMOTE_MAX_CONNECTIONS);
		return FALSE;
	}
	if (set->import_remote_workers == 0) {
		*error_r = "import_remote_workers: Invalid value 0: "
			"use 1 or more";
		return FALSE;
	}
	if (set->import_remote_job_retry_delay == 0) {
		*error_r = "import_remote_job_retry_delay: "
			"Invalid value 0: use 1s or more";
		return FALSE;
	}
	if (set->import_remote_pause_percent == 0 ||
	    set->import_remote_pause_percent > 100) {
		*error_r = t_strdup_printf("import_remote_pause_percent: "
			"Invalid value %u: use 1-100",
			set->import_remote_pause_percent);
		return FALSE;
	}
	if (strcmp(set->import_remote_ssl_min_protocol, "TLSv1") != 0 &&
	    strcmp(set->import_remote_ssl_min_protocol, "TLSv1.1") != 0 &&
	    strcmp(set->import_remote_ssl_min_protocol, "TLSv1.2") != 0 &&
	    strcmp(set->import_remote_ssl_min_protocol, "TLSv1.3") != 0) {
		*error_r = t_strdup_printf("import_remote_ssl_min_protocol: "
			"Invalid value '%s': use TLSv1, TLSv1.1, TLSv1.2 or "
			"TLSv1.3", set->import_remote_ssl_min_protocol);
		return FALSE;
	}
	if (outbound_guard_init(set->import_remote_allowed_networks, &guard,
				error_r) < 0)
		return FALSE;
	if (!import_remote_config_check_source(set, error_r))
		return FALSE;
	outbound_guard_deinit(&guard);
	if (!import_remote_config_check_provider(set, pool, error_r))
		return FALSE;
	if (!import_remote_config_parse_host_caps(set, pool, error_r))
		return FALSE;
	if (set->import_remote_notify_retry_interval == 0) {
		*error_r = "import_remote_notify_retry_interval: "
			"Invalid value 0: use 1s or more";
		return FALSE;
	}
	return TRUE;
}

const struct setting_parser_info import_remote_config_setting_parser_info = {
#if DOVECOT_PREREQ(2, 4, 0)
	.name = "import_remote",
	.pool_offset1 = 1 + offsetof(struct import_remote_config, pool),
#else
	.module_name = "import_remote",
	.type_offset = SIZE_MAX,
	.parent_offset = SIZE_MAX,
#endif
	.defines = import_remote_config_setting_defines,
	.defaults = &import_remote_config_defaults,
	.struct_size = sizeof(struct import_remote_config),
	.check_func = import_remote_config_check,
};

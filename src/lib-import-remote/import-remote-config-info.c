/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* The declaration of the import_remote_* settings: built into the engine
   and, for Dovecot 2.4, into the settings module that Dovecot's config
   process loads (so it needs nothing but lib-settings). */

#include "lib.h"
#include "settings-parser.h"
#include "import-remote-config.h"
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
	SETTING_DEFINE_LIST_END
};

static const struct import_remote_config import_remote_config_defaults = {
	.import_remote_store = "sqlite:/var/lib/dovecot/import-remote.db",
	.import_remote_key_file = "/var/lib/dovecot/import-remote.key",
	.import_remote_workers = 4,
	.import_remote_job_retries = 5,
	.import_remote_job_retry_delay = 60,
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
};

static bool
import_remote_config_check(void *_set, pool_t pool ATTR_UNUSED,
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
	outbound_guard_deinit(&guard);
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

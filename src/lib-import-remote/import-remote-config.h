#ifndef IMPORT_REMOTE_CONFIG_H
#define IMPORT_REMOTE_CONFIG_H

/* Every import_remote_* setting of Dovecot's configuration, in one struct,
   declared once (import-remote-config-info.c: name, type, default, check)
   and read here only. On Dovecot 2.4 the declaration is a settings module
   (src/settings/) that Dovecot's config loads, so doveconf checks the
   values and protocol/userdb overrides apply; they are read with
   settings_get(). On 2.3 the same declaration parses the plugin { }
   settings.

   (struct import_remote_settings, elsewhere, is one import's options: the
   source server, the folders, the date filter.) */

#include "net.h"

struct event;
struct mail_user;

/* import_remote_host_connection_limits: one host's own caps (0: none) */
struct import_remote_host_cap {
	/* lower case */
	const char *host;
	unsigned int per_host, per_account;
};

struct import_remote_config {
	pool_t pool;
	/* the job store: sqlite:<path> | pgsql:<libpq connect string> */
	const char *import_remote_store;
	/* the key that encrypts stored source passwords */
	const char *import_remote_key_file;
	/* slots: how many jobs run at once in the whole store */
	unsigned int import_remote_workers;
	/* a job that ended with a transient error (the error catalogue's
	   "transient") is queued again by itself this many times (0: never),
	   the first after import_remote_job_retry_delay (seconds), the next
	   ones 5, 15, 60 and 240 times as long (job_runner_retry_delay()).
	   Tests set the delay to 1s. */
	unsigned int import_remote_job_retries;
	unsigned int import_remote_job_retry_delay;
	/* one run of an import ends (run_timeout, classified; what it
	   copied is kept) after this long (seconds, 0 = never) */
	unsigned int import_remote_run_timeout;
	/* a source listing more folders is refused (0 = no limit) */
	unsigned int import_remote_max_folders;
	/* connections to the source one import opens (1 ..
	   IMPORT_REMOTE_MAX_CONNECTIONS) when --connections doesn't say */
	unsigned int import_remote_connections;
	/* connections to one source host, and to one account on it, across
	   all live jobs of the store (every backend sharing it); 0 = no cap.
	   import_remote_host_connection_limits: "host=N[/M] ..." overrides
	   both for a host (parsed_host_caps) */
	unsigned int import_remote_host_connections;
	unsigned int import_remote_account_connections;
	const char *import_remote_host_connection_limits;

	/* batches: pause at this share (1-100) of the shared storage */
	unsigned int import_remote_pause_percent;
	/* the quota root the batch's users share (e.g. a per-domain one) */
	const char *import_remote_shared_quota_root;

	/* notifications: SMTP host[:port], else sendmail */
	const char *import_remote_submission_host;
	const char *import_remote_sendmail_path;
	/* empty = postmaster@<the user's domain, else this host's FQDN> */
	const char *import_remote_notify_from;
	/* empty = no webhook */
	const char *import_remote_webhook_url;
	/* the webhook's HMAC key; empty = unsigned */
	const char *import_remote_webhook_secret;
	/* a failed delivery's first retry (seconds), doubling after */
	unsigned int import_remote_notify_retry_interval;

	/* networks besides the public Internet that sources may be in
	   (space-separated; outbound-guard.h) */
	const char *import_remote_allowed_networks;
	/* --ssl none (the password in clear over the network) is allowed */
	bool import_remote_allow_plaintext;
	/* the oldest TLS version a source may speak (whatever Dovecot's
	   ssl_min_protocol allows its own clients) */
	const char *import_remote_ssl_min_protocol;

	/* automatic imports (the mail plugin), normally userdb fields: the
	   user's old mailbox; an empty host means none */
	const char *import_remote_source_host;
	in_port_t import_remote_source_port;
	const char *import_remote_source_ssl;
	const char *import_remote_source_user;
	const char *import_remote_source_password;
	/* OAuth2 instead of a password, normally global (the provider's
	   credentials, not the user's): client_credentials (Microsoft 365
	   app-only) or jwt_bearer (a Google service account key file); the
	   user's userdb then names only import_remote_source_user. The
	   secrets are files, read when a login queues the job and stored
	   only encrypted in it. auth_mechanism: auto = xoauth2 with a grant,
	   the password's otherwise. */
	const char *import_remote_source_auth_mechanism;
	const char *import_remote_source_oauth2_grant;
	const char *import_remote_source_oauth2_token_url;
	const char *import_remote_source_oauth2_client_id;
	const char *import_remote_source_oauth2_client_secret_file;
	const char *import_remote_source_oauth2_service_account_file;
	const char *import_remote_source_oauth2_scope;
	/* client_credentials with a certificate credential instead of the
	   client secret (Microsoft): the PEM certificate and its key */
	const char *import_remote_source_oauth2_client_certificate_file;
	const char *import_remote_source_oauth2_client_key_file;
	/* google|microsoft: fills in the host and, with a grant, the token
	   endpoint (Microsoft's of import_remote_source_oauth2_tenant) and
	   the scope, where they are not set (as doveadm's --provider) */
	const char *import_remote_source_provider;
	const char *import_remote_source_oauth2_tenant;
	/* once: imported once; sync: again at most every sync_interval
	   until sync_until (YYYY-MM-DD), new mail only */
	const char *import_remote_source_mode;
	unsigned int import_remote_sync_interval;
	const char *import_remote_sync_until;
	/* a message into the user's INBOX when the import ends, its text
	   from this template file (empty: built in) */
	bool import_remote_notice;
	const char *import_remote_notice_template;
	/* a template named by a userdb field is read only from this
	   directory (global configuration only; empty: userdb can't name
	   one, the global import_remote_notice_template applies) */
	const char *import_remote_notice_template_dir;

	/* users queue, cancel and retry their own imports over IMAP
	   METADATA (the mail plugin) */
	bool import_remote_user_requests;
	/* at most this many such requests per user in an hour */
	unsigned int import_remote_user_request_limit;
	/* a request {"oauth2":"server"} imports the user's old address
	   (import_remote_source_user) with the server's provider
	   credentials (import_remote_source_oauth2_*) */
	bool import_remote_user_request_oauth2;

	/* parsed */
	time_t parsed_sync_until;
	const struct import_remote_host_cap *parsed_host_caps;
	unsigned int parsed_host_caps_count;
};

extern const struct setting_parser_info import_remote_config_setting_parser_info;

/* Where a reader without a user (an admin command, the worker) finds the
   global settings on Dovecot 2.3: the plugin { } environment through
   getenv. Unused on 2.4, where the event's settings are read. */
typedef const char *import_remote_config_getenv_t(const char *name,
						   void *context);

/* The settings as they apply to the user (userdb fields and protocol
   filters included). Free with import_remote_config_free(). Returns 0, or
   -1 with an error naming the bad setting. */
int import_remote_config_get_user(struct mail_user *user,
				  const struct import_remote_config **set_r,
				  const char **error_r);
/* The global settings: from the event on 2.4, from getenv on 2.3. */
int import_remote_config_get(struct event *event,
			     import_remote_config_getenv_t *getenv,
			     void *getenv_context,
			     const struct import_remote_config **set_r,
			     const char **error_r);
void import_remote_config_free(const struct import_remote_config **set);

/* The notifications' sender: import_remote_notify_from, else postmaster at
   the user's domain (username NULL, or without a valid domain: at this
   host's fully qualified name, as Dovecot's own postmaster_address) */
const char *import_remote_config_notify_from(const struct import_remote_config *set,
					     const char *username);

/* A string setting that is set (not empty), or NULL */
static inline const char *import_remote_config_str(const char *value)
{
	return value == NULL || value[0] == '\0' ? NULL : value;
}

#endif

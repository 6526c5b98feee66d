#ifndef IMPORT_REMOTE_SETTINGS_H
#define IMPORT_REMOTE_SETTINGS_H

#include "net.h"

/* How the connection to the source server is secured. */
enum import_remote_ssl {
	IMPORT_REMOTE_SSL_IMAPS = 0,
	IMPORT_REMOTE_SSL_STARTTLS,
	IMPORT_REMOTE_SSL_NONE,
};

/* How the source login is done: with a password (PLAIN, else LOGIN) or an
   OAuth2 access token (OAUTHBEARER, else XOAUTH2, as the server offers),
   or one mechanism forced. With an OAuth2 mechanism the password field
   holds the access token. */
enum import_remote_auth_mech {
	IMPORT_REMOTE_AUTH_PASSWORD = 0,
	IMPORT_REMOTE_AUTH_PLAIN,
	IMPORT_REMOTE_AUTH_LOGIN,
	IMPORT_REMOTE_AUTH_OAUTH2,
	IMPORT_REMOTE_AUTH_XOAUTH2,
	IMPORT_REMOTE_AUTH_OAUTHBEARER,
};

/* Where an OAuth2 access token comes from, when not given as is */
enum import_remote_oauth2_grant {
	IMPORT_REMOTE_OAUTH2_GRANT_NONE = 0,
	/* oauth2_refresh_token, for the client */
	IMPORT_REMOTE_OAUTH2_GRANT_REFRESH_TOKEN,
	/* the client itself (Microsoft 365 app-only) */
	IMPORT_REMOTE_OAUTH2_GRANT_CLIENT_CREDENTIALS,
	/* a JWT signed by oauth2_service_account for the user (Google
	   domain-wide delegation) */
	IMPORT_REMOTE_OAUTH2_GRANT_JWT_BEARER,
};

enum import_remote_dedup {
	IMPORT_REMOTE_DEDUP_FOLDER = 0,
	IMPORT_REMOTE_DEDUP_ACCOUNT,
	IMPORT_REMOTE_DEDUP_OFF,
};

/* Everything one import needs to know; filled by the doveadm command (or
   later the job store) and validated with import_remote_settings_check(). */
struct import_remote_settings {
	const char *host;
	in_port_t port; /* 0 = default for ssl mode */
	enum import_remote_ssl ssl;
	const char *username;
	/* the password, or the OAuth2 access token (auth_mech) */
	const char *password;
	enum import_remote_auth_mech auth_mech;
	/* an OAuth2 grant: a fresh access token is asked of token_url
	   before each login that needs one (refresh token grant). The
	   secrets (refresh token, client secret) are never exported. */
	enum import_remote_oauth2_grant oauth2_grant;
	const char *oauth2_token_url;
	const char *oauth2_client_id;
	const char *oauth2_scope;
	const char *oauth2_client_secret;
	/* a certificate credential instead of the client secret (client
	   credentials grant, Microsoft): the PEM certificate and its PEM
	   private key, kept secret like the client secret */
	const char *oauth2_client_certificate, *oauth2_client_key;
	const char *oauth2_refresh_token;
	/* a service account's key file (JSON with its private key) */
	const char *oauth2_service_account;
	/* called when the token endpoint rotated the refresh token: the new
	   one is to be kept (a queued job stores it) */
	void (*oauth2_rotated_callback)(const char *refresh_token,
					void *context);
	void *oauth2_rotated_context;
	/* accept any certificate (said loudly) */
	bool tls_insecure;

	/* received-date filter; 0 = unset. since is inclusive, before
	   exclusive, both whole days in the server's time (IMAP SEARCH) */
	time_t since, before;
	bool newest_first;

	/* patterns matched against the remote folder name with '/' as
	   separator and the namespace prefix removed */
	ARRAY_TYPE(const_string) include_folders;
	ARRAY_TYPE(const_string) exclude_folders;
	/* import every folder under this local folder */
	const char *dest_parent;
	enum import_remote_dedup dedup;
	/* copy every folder as the server lists it: no Gmail handling (All
	   Mail, Starred and Important as folders too) */
	bool mirror;
	bool dry_run;

	unsigned int connect_timeout_msecs;
	/* a server that sends nothing for this long (a reply is due) is
	   taken for gone: --stall-timeout */
	unsigned int cmd_timeout_msecs;
	/* a lost connection is reconnected at most this many times in a
	   row without new mail committed in between: --reconnects */
	unsigned int reconnects;
	/* connections to the source opened at once (--connections): 0 =
	   import_remote_connections; a queued job's runner sets at most
	   the job's leases */
	unsigned int connections;
	/* called once when the server refused a connection: the run goes on
	   with n (a queued job gives back the leases it does not use) */
	void (*connections_callback)(unsigned int n, void *context);
	void *connections_context;
	/* messages listed per FETCH (memory stays bounded by this) */
	unsigned int fetch_chunk;
	/* on [THROTTLED]: retries, the first after this long, then doubling */
	unsigned int throttle_retries;
	unsigned int throttle_delay_msecs;
	/* the parent of the run's event (a job's event); NULL: the user's */
	struct event *event_parent;
};

#define IMPORT_REMOTE_DEFAULT_CONNECT_TIMEOUT_MSECS (30*1000)
#define IMPORT_REMOTE_DEFAULT_CMD_TIMEOUT_MSECS (5*60*1000)
#define IMPORT_REMOTE_DEFAULT_FETCH_CHUNK 5000
#define IMPORT_REMOTE_DEFAULT_THROTTLE_RETRIES 6
#define IMPORT_REMOTE_DEFAULT_THROTTLE_DELAY_MSECS 1000
#define IMPORT_REMOTE_DEFAULT_RECONNECTS 10
/* connections to the source of one import: the default of
   import_remote_connections (--connections), and the most allowed */
#define IMPORT_REMOTE_DEFAULT_CONNECTIONS 4
#define IMPORT_REMOTE_MAX_CONNECTIONS 16
/* the longest wait of an import: a [THROTTLED] back-off, a pause between
   paced downloads, a reconnect's back-off. Every wait runs an ioloop and
   reports progress at least once a second. */
#define IMPORT_REMOTE_MAX_THROTTLE_DELAY_MSECS (60*1000)

void import_remote_settings_init(pool_t pool,
				 struct import_remote_settings *set_r);
/* Returns 0 and the mode, or -1 for an unknown name. Accepts the DESIGN's
   names: imaps|ssl|tls, starttls, none. */
int import_remote_ssl_parse(const char *str, enum import_remote_ssl *ssl_r);
const char *import_remote_ssl_name(enum import_remote_ssl ssl);
/* Accepts auto (password), plain, login, oauth2, xoauth2, oauthbearer. */
int import_remote_auth_mech_parse(const char *str,
				  enum import_remote_auth_mech *mech_r);
const char *import_remote_auth_mech_name(enum import_remote_auth_mech mech);
/* TRUE if the mechanism sends an OAuth2 access token */
bool import_remote_auth_mech_is_oauth2(enum import_remote_auth_mech mech);
/* refresh-token, client-credentials, jwt-bearer (or with '_') */
int import_remote_oauth2_grant_parse(const char *str,
				     enum import_remote_oauth2_grant *grant_r);
const char *
import_remote_oauth2_grant_name(enum import_remote_oauth2_grant grant);
int import_remote_dedup_parse(const char *str,
			      enum import_remote_dedup *dedup_r);
/* Parse YYYY-MM-DD into the UTC midnight timestamp. */
int import_remote_date_parse(const char *str, time_t *time_r);
/* Port for the settings (default by ssl mode). */
in_port_t import_remote_settings_get_port(const struct import_remote_settings *set);
/* TRUE if str has a control character (a byte below 0x20, or 0x7f): a line
   break in a source user or host would forge log and output lines. */
bool import_remote_has_control_chars(const char *str);
/* Check the settings are complete and consistent (no control characters
   in the source host or user, wherever they came from). */
int import_remote_settings_check(const struct import_remote_settings *set,
				 const char **error_r);
/* The import options (not the source account) as one line, for a queued
   job, and back. import fills set, which must be initialized. */
const char *import_remote_settings_export(const struct import_remote_settings *set);
int import_remote_settings_import(pool_t pool, const char *str,
				  struct import_remote_settings *set,
				  const char **error_r);
/* The secrets as one string for a queued job's encrypted secret: the
   password or access token, or with an OAuth2 grant its refresh token,
   client secret and service account key together (tab-escaped fields
   after a \001oauth2 mark: never taken for a password). Wipe it. */
const char *import_remote_settings_export_secret(const struct import_remote_settings *set);
/* ... and back into set (whose options are imported already). Fails if
   the secret does not fit the options (a grant's job holding a plain
   password, or the other way round: the store was changed). */
int import_remote_settings_import_secret(pool_t pool, const char *secret,
					 struct import_remote_settings *set,
					 const char **error_r);
/* Read a password from a file or stream: the first line, without its line
   ending. Fails on empty passwords. */
int import_remote_password_read_fd(int fd, pool_t pool, const char **password_r,
				   const char **error_r);
/* The same from a stream (e.g. doveadm's --password-file parameter: a file
   on the command line, the content itself over doveadm's HTTP API); the
   stream's buffer is wiped of what was read. */
struct istream;
int import_remote_password_read_stream(struct istream *input, pool_t pool,
				       const char **password_r,
				       const char **error_r);

#endif

#ifndef OAUTH2_TOKEN_H
#define OAUTH2_TOKEN_H

#include "import-remote-error.h"

/* Asking an OAuth2 token endpoint for an access token (RFC 6749 section
   6: the refresh token grant), with libcurl. The endpoint is as hostile
   as any server: HTTPS only, its certificate verified, connected only to
   an address the outbound guard allows (the one checked, pinned: never a
   name resolved again), no redirects, no proxy, the answer bounded in size
   and time. Secrets go in the POST body only, and into no log line. */

struct outbound_guard;

struct oauth2_token_settings {
	/* https://host[:port]/path */
	const char *token_url;
	const char *client_id;
	/* NULL for a public client */
	const char *client_secret;
	/* a certificate credential instead of a secret (client credentials
	   grant): the PEM certificate registered with the app and its PEM
	   RSA private key, both NULL if unset */
	const char *client_certificate, *client_key;
	/* NULL: the grant's own */
	const char *scope;
	const struct outbound_guard *guard;
	/* trusted CAs: a PEM file, PEM content or a directory (NULL if
	   unset; none set: the system's) */
	const char *ca_file, *ca_content, *ca_dir;
	unsigned int timeout_msecs;
	struct event *event;
};

struct oauth2_token_result {
	const char *access_token;
	/* the endpoint rotated the refresh token: use this one from now on
	   (NULL if it did not) */
	const char *refresh_token;
	/* seconds the access token lives, 0 if not said */
	unsigned int expires_in;
};

/* Longest answer read from a token endpoint */
#define OAUTH2_TOKEN_MAX_RESPONSE (64*1024)
/* Longest token accepted in it */
#define OAUTH2_TOKEN_MAX_TOKEN 8192
#define OAUTH2_TOKEN_DEFAULT_TIMEOUT_MSECS (30*1000)

/* grant_type=refresh_token. Returns 0 with result_r (allocated from
   pool), or -1 with error_r: oauth2_grant_invalid (the grant was revoked
   or expired), oauth2_client_invalid (client id, secret or scope
   refused), oauth2_endpoint_failed (unreachable, 5xx, too slow or big, an
   answer that is not one: transient), tls_failed, source_not_allowed. */
int oauth2_token_refresh(const struct oauth2_token_settings *set,
			 const char *refresh_token, pool_t pool,
			 struct oauth2_token_result *result_r,
			 struct import_remote_error *error_r);

/* grant_type=client_credentials (RFC 6749 4.4): the app itself, e.g.
   Microsoft 365 app-only access to any mailbox of a tenant. With a
   certificate credential the client authenticates with a client assertion
   (RFC 7523 2.2: a JWT signed RS256 with the key, the certificate's
   thumbprints in its header) instead of the secret; an unusable key or
   certificate fails with oauth2_client_invalid. Errors as above. */
int oauth2_token_client_credentials(const struct oauth2_token_settings *set,
				    pool_t pool,
				    struct oauth2_token_result *result_r,
				    struct import_remote_error *error_r);

/* A service account (e.g. Google's JSON key file): who it is, its RSA key
   and where it asks for tokens. */
struct oauth2_service_account {
	const char *client_email;
	const char *private_key;
	/* may be NULL */
	const char *token_uri;
};
/* Parse a service account key file's JSON. Returns 0, or -1 with error_r
   (never the key). */
int oauth2_service_account_parse(const char *json, pool_t pool,
				 struct oauth2_service_account *account_r,
				 const char **error_r);

/* grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer (RFC 7523): a
   JWT signed RS256 with the account's key, iss = the account, sub = user
   (the mailbox it acts for), aud = the token URL, scope = set->scope. An
   unusable key fails with oauth2_client_invalid. Errors as above. */
int oauth2_token_jwt_bearer(const struct oauth2_token_settings *set,
			    const struct oauth2_service_account *account,
			    const char *user, pool_t pool,
			    struct oauth2_token_result *result_r,
			    struct import_remote_error *error_r);

/* The device authorization grant (RFC 8628), for a person without a web
   app: the code they enter at the verification URI. */
struct oauth2_device_code {
	const char *device_code, *user_code;
	const char *verification_uri;
	/* the URI with the code in it, NULL if not given */
	const char *verification_uri_complete;
	/* seconds the code lives, seconds between polls */
	unsigned int expires_in, interval;
};
#define OAUTH2_DEVICE_DEFAULT_INTERVAL 5
#define OAUTH2_DEVICE_MAX_INTERVAL 60
#define OAUTH2_DEVICE_MAX_EXPIRES 3600
/* Ask device_url (https, held to the same rules as the token endpoint)
   for a device code (RFC 8628 3.1-3.2): client_id, scope. Returns 0 with
   code_r, or -1 with error_r (as the token requests'). */
int oauth2_device_authorize(const struct oauth2_token_settings *set,
			    const char *device_url, pool_t pool,
			    struct oauth2_device_code *code_r,
			    struct import_remote_error *error_r);
/* Poll the token endpoint once (grant_type
   urn:ietf:params:oauth:grant-type:device_code). Returns 0 with result_r
   (the refresh token in it), 1 for authorization_pending, 2 for
   slow_down, or -1 with error_r: oauth2_access_denied,
   oauth2_device_expired, or those of the token requests. */
int oauth2_device_poll(const struct oauth2_token_settings *set,
		       const char *device_code, pool_t pool,
		       struct oauth2_token_result *result_r,
		       struct import_remote_error *error_r);

/* Check a token endpoint URL: https, a host, no user info. */
int oauth2_token_url_check(const char *url, const char **error_r);
/* The host of a token endpoint URL (checked as oauth2_token_url_check()
   does). Returns 0, or -1 with error_r. */
int oauth2_token_url_host(const char *url, const char **host_r,
			  const char **error_r);

#endif

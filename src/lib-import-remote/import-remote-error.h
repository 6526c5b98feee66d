#ifndef IMPORT_REMOTE_ERROR_H
#define IMPORT_REMOTE_ERROR_H

/* The error catalogue: stable codes that scripts and control panels key on,
   each with the title users see, a hint on what to do, and the doveadm exit
   code (sysexits) it maps to. */
enum import_remote_error_code {
	IMPORT_REMOTE_ERROR_NONE = 0,
	IMPORT_REMOTE_ERROR_AUTH_FAILED,
	IMPORT_REMOTE_ERROR_CONNECT_TIMEOUT,
	IMPORT_REMOTE_ERROR_HOST_UNREACHABLE,
	IMPORT_REMOTE_ERROR_TLS_FAILED,
	IMPORT_REMOTE_ERROR_QUOTA_EXCEEDED,
	IMPORT_REMOTE_ERROR_THROTTLED,
	IMPORT_REMOTE_ERROR_SOURCE_ERROR,
	IMPORT_REMOTE_ERROR_DEST_ERROR,
	IMPORT_REMOTE_ERROR_CANCELLED,
	IMPORT_REMOTE_ERROR_INTERNAL,
	IMPORT_REMOTE_ERROR_CONNECTION_LOST,
	IMPORT_REMOTE_ERROR_SOURCE_NOT_ALLOWED,
	IMPORT_REMOTE_ERROR_INTERRUPTED,
	IMPORT_REMOTE_ERROR_RUN_TIMEOUT,
	IMPORT_REMOTE_ERROR_WORKER_CRASHED,
	IMPORT_REMOTE_ERROR_PASSWORD_UNUSABLE,
	IMPORT_REMOTE_ERROR_TOKEN_REJECTED,
	IMPORT_REMOTE_ERROR_AUTH_MECH_UNSUPPORTED,
	IMPORT_REMOTE_ERROR_OAUTH2_GRANT_INVALID,
	IMPORT_REMOTE_ERROR_OAUTH2_CLIENT_INVALID,
	IMPORT_REMOTE_ERROR_OAUTH2_ENDPOINT_FAILED,
	/* a user's own request (IMAP METADATA) refused */
	IMPORT_REMOTE_ERROR_REQUEST_INVALID,
	IMPORT_REMOTE_ERROR_REQUEST_LIMIT,
	IMPORT_REMOTE_ERROR_IMPORT_BUSY,
	/* the device authorization grant: the person said no, or the
	   code ran out before they said yes */
	IMPORT_REMOTE_ERROR_OAUTH2_ACCESS_DENIED,
	IMPORT_REMOTE_ERROR_OAUTH2_DEVICE_EXPIRED,

	IMPORT_REMOTE_ERROR_COUNT
};

struct import_remote_error_info {
	enum import_remote_error_code code;
	/* stable machine-readable name, e.g. "auth_failed" */
	const char *name;
	/* short title users see, e.g. "Authentication failed" */
	const char *title;
	/* what to do about it */
	const char *hint;
	/* doveadm exit code */
	int exit_code;
	/* the cause may go away by itself (a network, a busy or throttling
	   server, a local storage that is locked or rebuilding an index
	   after a crash): a queued job that ends with it is tried again
	   later. Not: what needs someone to act (credentials, certificate,
	   quota), or a bug. */
	bool transient;
};

/* One occurred error: its code and the precise cause (never a password). */
struct import_remote_error {
	enum import_remote_error_code code;
	const char *detail;
};

const struct import_remote_error_info *
import_remote_error_get_info(enum import_remote_error_code code);
/* Returns IMPORT_REMOTE_ERROR_COUNT if name is unknown. */
enum import_remote_error_code import_remote_error_from_name(const char *name);

/* Set error if none is set yet: the first cause is the real one. */
void import_remote_error_set(struct import_remote_error *error,
			     enum import_remote_error_code code,
			     const char *detail);

/* In an error's detail: the server accepted the connection and then said
   nothing (the hint differs from a connect that timed out) */
#define IMPORT_REMOTE_DETAIL_NO_GREETING "connected, but no greeting"
/* In a tls_failed error's detail: --ssl imaps, and the port answered in
   plain text (the hint names STARTTLS and port 993, not certificates) */
#define IMPORT_REMOTE_DETAIL_NOT_TLS "this port does not speak TLS"
/* In a source_not_allowed error's detail: it was --ssl none, not the
   address (the hint names the other setting) */
#define IMPORT_REMOTE_DETAIL_PLAINTEXT "Plain-text login (--ssl none) is not allowed"

/* In a host_unreachable error's detail: nothing listens on the port (the
   title and the hint say so, with the port) */
#define IMPORT_REMOTE_DETAIL_REFUSED "Connection refused"

/* In a token_rejected error's detail: the server said the token lacks a
   scope (the hint names the scope, not a new token) */
#define IMPORT_REMOTE_DETAIL_TOKEN_SCOPE "the token lacks a scope"

/* Starts the detail of an OAuth2 error of a service account's JWT bearer
   grant (the hints name its key and domain-wide delegation) */
#define IMPORT_REMOTE_DETAIL_SERVICE_ACCOUNT "Service account"

/* The title, adjusted for what happened (detail may be NULL): "Connection
   refused" rather than "Host unreachable" */
const char *
import_remote_error_get_title_detail(enum import_remote_error_code code,
				     const char *detail);

/* Hint adjusted for the source host, e.g. Gmail's App Password advice for
   auth_failed. Returns the generic hint if nothing specific applies. */
const char *
import_remote_error_get_hint(enum import_remote_error_code code,
			     const char *source_host);
/* The same, also adjusted for what happened (detail may be NULL): the
   server's own words ("[ALERT] Application-specific password required")
   or a silent server. */
const char *
import_remote_error_get_hint_detail(enum import_remote_error_code code,
				    const char *detail,
				    const char *source_host);

#endif

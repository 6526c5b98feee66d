/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "import-remote-error.h"

#include <ctype.h>
#include <sysexits.h>

static const struct import_remote_error_info error_catalogue[] = {
	{ IMPORT_REMOTE_ERROR_NONE, "ok", "OK", "", EX_OK, FALSE },
	{ IMPORT_REMOTE_ERROR_AUTH_FAILED, "auth_failed",
	  "Authentication failed",
	  "Re-check the username and password. Gmail, Yahoo and iCloud need "
	  "an App Password. cPanel hosts: try the username without the domain "
	  "(alice) or with it (alice@domain.com).", EX_NOPERM, FALSE },
	{ IMPORT_REMOTE_ERROR_CONNECT_TIMEOUT, "connect_timeout",
	  "Connection timed out",
	  "Verify the server address (see the old host's Connect Devices "
	  "page) and make sure port 993 (or the port given) is open and not "
	  "firewalled.", EX_TEMPFAIL, TRUE },
	{ IMPORT_REMOTE_ERROR_HOST_UNREACHABLE, "host_unreachable",
	  "Host unreachable",
	  "Verify the server address and port, and that the port is open "
	  "and not firewalled.", EX_TEMPFAIL, TRUE },
	{ IMPORT_REMOTE_ERROR_TLS_FAILED, "tls_failed",
	  "Secure connection failed",
	  "The server's certificate could not be verified or the TLS "
	  "handshake failed. Check the host name matches the certificate and "
	  "that the certificate is current; trust a private CA with "
	  "ssl_client_ca_file, or (only if you accept the risk) allow it with "
	  "--tls-insecure.", EX_CONFIG, FALSE },
	{ IMPORT_REMOTE_ERROR_QUOTA_EXCEEDED, "quota_exceeded",
	  "Mailbox quota exceeded",
	  "Raise the user's quota (or upgrade the plan), or import recent "
	  "mail first with --since and older mail later.", EX_CANTCREAT,
	  FALSE },
	{ IMPORT_REMOTE_ERROR_THROTTLED, "throttled",
	  "Source server is throttling",
	  "The source server limits connections or bandwidth. The import "
	  "waits and retries by itself (--throttle-retries); if it still "
	  "fails, run it again later: it continues where it stopped (Gmail "
	  "allows about 2.5 GB a day over IMAP).", EX_TEMPFAIL, TRUE },
	{ IMPORT_REMOTE_ERROR_SOURCE_ERROR, "source_error",
	  "Source server error",
	  "The source server refused an operation; see the folder and the "
	  "server's text. Re-running continues where it stopped.",
	  EX_TEMPFAIL, TRUE },
	{ IMPORT_REMOTE_ERROR_DEST_ERROR, "dest_error",
	  "Destination storage error",
	  "Saving into the local mailbox failed; see the mailbox and the "
	  "storage error in the Dovecot log.", EX_TEMPFAIL, TRUE },
	{ IMPORT_REMOTE_ERROR_CANCELLED, "cancelled", "Cancelled", "",
	  EX_TEMPFAIL, FALSE },
	{ IMPORT_REMOTE_ERROR_INTERNAL, "internal", "Internal error",
	  "This is a bug: report it with the log lines around the error.",
	  EX_SOFTWARE, FALSE },
	{ IMPORT_REMOTE_ERROR_CONNECTION_LOST, "connection_lost",
	  "Connection lost",
	  "The connection to the source server kept breaking (reset, closed, "
	  "or no answer) and reconnecting did not help (--reconnects). What "
	  "was copied is kept: run the import again later, it continues "
	  "where it stopped.", EX_TEMPFAIL, TRUE },
	/* says nothing about what answers at the address: the guard decides
	   before any packet is sent */
	{ IMPORT_REMOTE_ERROR_SOURCE_NOT_ALLOWED, "source_not_allowed",
	  "Source server not allowed",
	  "Imports connect only to public Internet addresses. If the old "
	  "server is in your own network, the administrator adds its network "
	  "to import_remote_allowed_networks (e.g. 10.1.2.0/24).",
	  EX_NOPERM, FALSE },
	{ IMPORT_REMOTE_ERROR_INTERRUPTED, "interrupted", "Interrupted",
	  "The process running the import was stopped (SIGTERM, SIGINT: a "
	  "restart, Ctrl-C). What was copied is kept: run the import again, "
	  "it continues where it stopped; a queued job is run again by "
	  "itself.", EX_TEMPFAIL, TRUE },
	{ IMPORT_REMOTE_ERROR_RUN_TIMEOUT, "run_timeout",
	  "Import took too long",
	  "The import ran as long as import_remote_run_timeout allows (a "
	  "very big mailbox, a slow or stalling server). What was copied is "
	  "kept: run it again, it continues where it stopped, or raise the "
	  "setting.", EX_TEMPFAIL, TRUE },
	/* a job whose worker died (crashed, was killed) each time it ran
	   it: failed, so that it takes no more workers down */
	{ IMPORT_REMOTE_ERROR_WORKER_CRASHED, "worker_crashed",
	  "Import crashed repeatedly",
	  "The worker process running this job died several times (a "
	  "crash, or killed), so the job was stopped to let other jobs run. "
	  "This is probably a bug: report it with the worker's log lines "
	  "(Panic, Fatal, killed by signal) around the job's start. What was "
	  "copied is kept; 'retry' queues the job again.", EX_SOFTWARE,
	  FALSE },
	/* the stored password does not decrypt for the job as its row is
	   now: never sent anywhere */
	{ IMPORT_REMOTE_ERROR_PASSWORD_UNUSABLE, "password_unusable",
	  "Stored password can't be used",
	  "The job's stored password does not match the job as it is now "
	  "(its host, port, security, TLS options or account changed in the "
	  "store, or it was stored by a version before 0.2, or with another "
	  "key file), so it was not sent. Queue the import again with the "
	  "password.", EX_NOPERM, FALSE },
	/* the server rejected the OAuth2 access token (XOAUTH2,
	   OAUTHBEARER): its JSON challenge's status and scope are in the
	   detail */
	{ IMPORT_REMOTE_ERROR_TOKEN_REJECTED, "token_rejected",
	  "OAuth2 access token rejected",
	  "The server did not accept the access token: it expired (they "
	  "last about an hour), was revoked, or was issued for another "
	  "user or app. Get a new access token and run the import again; "
	  "check that the token is for the account given with --user and "
	  "that IMAP is enabled for it.", EX_NOPERM, FALSE },
	/* an OAuth2 token, and the server offers no mechanism to send it
	   (or not the one forced with --auth-mechanism) */
	{ IMPORT_REMOTE_ERROR_AUTH_MECH_UNSUPPORTED, "auth_mechanism_unsupported",
	  "Sign-in method not offered",
	  "The server does not offer the sign-in method asked for (its "
	  "AUTH= capabilities are in the detail). For an OAuth2 token the "
	  "server must offer XOAUTH2 or OAUTHBEARER; leave out "
	  "--auth-mechanism to use what it offers, or sign in with a "
	  "password.", EX_CONFIG, FALSE },
	/* the token endpoint answered invalid_grant: the refresh token (or
	   the grant behind it) is no longer valid */
	{ IMPORT_REMOTE_ERROR_OAUTH2_GRANT_INVALID, "oauth2_grant_invalid",
	  "OAuth2 grant revoked or expired",
	  "The token endpoint no longer accepts the refresh token: the user "
	  "(or an admin) revoked the app's access, the password changed, or "
	  "the grant expired unused. Sign in again to get a new refresh "
	  "token (or re-grant the app) and queue the import again.",
	  EX_NOPERM, FALSE },
	/* invalid_client, unauthorized_client, invalid_scope: the app's
	   registration or settings */
	{ IMPORT_REMOTE_ERROR_OAUTH2_CLIENT_INVALID, "oauth2_client_invalid",
	  "OAuth2 app settings refused",
	  "The token endpoint refused the app (client id or secret wrong or "
	  "expired, the grant type or scope not allowed for it). Check the "
	  "app's registration: Microsoft 365 in the Entra admin center (App "
	  "registrations: client secret, API permissions with admin "
	  "consent); Google in the Cloud console (OAuth client) or, for a "
	  "service account, the Admin console's domain-wide delegation.",
	  EX_CONFIG, FALSE },
	/* unreachable, 5xx, too slow, too big, not an answer: may pass */
	{ IMPORT_REMOTE_ERROR_OAUTH2_ENDPOINT_FAILED, "oauth2_endpoint_failed",
	  "OAuth2 token endpoint failed",
	  "The token endpoint could not be reached or gave no usable answer "
	  "(a network problem, a server error, or an answer too slow or "
	  "too big). The import tries again by itself; if it keeps "
	  "failing, check the token URL and that this server may reach it.",
	  EX_TEMPFAIL, TRUE },
	/* a user's own request over IMAP METADATA: refused before anything
	   is queued */
	{ IMPORT_REMOTE_ERROR_REQUEST_INVALID, "request_invalid",
	  "Import request not valid",
	  "Fill in the server, port, security (SSL/TLS or STARTTLS), user "
	  "name and password; dates as YYYY-MM-DD.", EX_USAGE, FALSE },
	{ IMPORT_REMOTE_ERROR_REQUEST_LIMIT, "request_limit",
	  "Too many import requests",
	  "Wait an hour before asking again; an import that is queued or "
	  "running goes on by itself.", EX_TEMPFAIL, TRUE },
	{ IMPORT_REMOTE_ERROR_IMPORT_BUSY, "import_busy",
	  "An import is already running",
	  "Wait until it has ended, or cancel it first.", EX_TEMPFAIL, TRUE },
	{ IMPORT_REMOTE_ERROR_OAUTH2_ACCESS_DENIED, "oauth2_access_denied",
	  "Sign-in refused",
	  "The person signing in declined the app's access at the "
	  "verification page. Run authorize again if that was a mistake.",
	  EX_NOPERM, FALSE },
	{ IMPORT_REMOTE_ERROR_OAUTH2_DEVICE_EXPIRED, "oauth2_device_expired",
	  "Sign-in code expired",
	  "Nobody entered the code at the verification page before it ran "
	  "out. Run authorize again and enter the new code in time.",
	  EX_UNAVAILABLE, FALSE },
};

const struct import_remote_error_info *
import_remote_error_get_info(enum import_remote_error_code code)
{
	i_assert(code < IMPORT_REMOTE_ERROR_COUNT);
	i_assert(error_catalogue[code].code == code);
	return &error_catalogue[code];
}

enum import_remote_error_code import_remote_error_from_name(const char *name)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(error_catalogue); i++) {
		if (strcmp(error_catalogue[i].name, name) == 0)
			return error_catalogue[i].code;
	}
	return IMPORT_REMOTE_ERROR_COUNT;
}

void import_remote_error_set(struct import_remote_error *error,
			     enum import_remote_error_code code,
			     const char *detail)
{
	i_assert(code != IMPORT_REMOTE_ERROR_NONE);

	if (error->code != IMPORT_REMOTE_ERROR_NONE)
		return;
	error->code = code;
	error->detail = detail;
}

static bool host_is_under(const char *host, const char *domain)
{
	size_t hlen = strlen(host), dlen = strlen(domain);

	if (hlen < dlen || strcasecmp(host + hlen - dlen, domain) != 0)
		return FALSE;
	return hlen == dlen || host[hlen - dlen - 1] == '.';
}

/* The server's reply asks for an app-specific password (Gmail:
   "[ALERT] Application-specific password required: ...") */
static bool detail_asks_app_password(const char *detail)
{
	const char *alert = strstr(t_str_lcase(detail), "[alert]");

	return alert != NULL &&
		(strstr(alert, "application-specific password") != NULL ||
		 strstr(alert, "application specific password") != NULL ||
		 strstr(alert, "app-specific password") != NULL ||
		 strstr(alert, "app password") != NULL);
}

/* host_unreachable because nothing listens on the port ("Connection
   refused"): the port it was, as the detail names it ("connect(ip, port)
   failed: ..." or "host:port: ..."), or NULL */
static const char *detail_refused_port(const char *detail)
{
	const char *refused, *p, *end;

	refused = strstr(detail, IMPORT_REMOTE_DETAIL_REFUSED);
	if (refused == NULL)
		return NULL;
	if (strncmp(detail, "connect(", 8) == 0 &&
	    (p = strchr(detail, ',')) != NULL && p < refused) {
		for (p++; *p == ' '; p++) ;
		for (end = p; i_isdigit(*end); end++) ;
		return end > p && *end == ')' ? t_strdup_until(p, end) : "";
	}
	/* "host:port: Connection refused" */
	end = refused;
	if (end - detail < 2 || end[-1] != ' ' || end[-2] != ':')
		return "";
	end -= 2;
	for (p = end; p > detail && i_isdigit(p[-1]); p--) ;
	return p < end && p > detail && p[-1] == ':' ?
		t_strdup_until(p, end) : "";
}

const char *
import_remote_error_get_title_detail(enum import_remote_error_code code,
				     const char *detail)
{
	if (detail != NULL && code == IMPORT_REMOTE_ERROR_HOST_UNREACHABLE &&
	    detail_refused_port(detail) != NULL)
		return IMPORT_REMOTE_DETAIL_REFUSED;
	return import_remote_error_get_info(code)->title;
}

const char *
import_remote_error_get_hint_detail(enum import_remote_error_code code,
				    const char *detail,
				    const char *source_host)
{
	const char *port;

	if (detail != NULL && code == IMPORT_REMOTE_ERROR_AUTH_FAILED &&
	    detail_asks_app_password(detail)) {
		return "The server says it needs an app-specific password "
			"(an App Password), not the account's normal one: "
			"create one in the account's security settings (Gmail: "
			"turn on 2-Step Verification first) and use it here.";
	}
	if (detail != NULL && code == IMPORT_REMOTE_ERROR_TOKEN_REJECTED &&
	    strstr(detail, IMPORT_REMOTE_DETAIL_TOKEN_SCOPE) != NULL) {
		return "The access token is valid but lacks the permission "
			"(scope) the server needs for IMAP: request it with "
			"the scope the detail names (Google: "
			"https://mail.google.com/, Microsoft 365: "
			"https://outlook.office365.com/IMAP.AccessAsUser.All or, "
			"app-only, https://outlook.office365.com/.default), "
			"granted by an admin where the provider asks for it.";
	}
	if (detail != NULL && code == IMPORT_REMOTE_ERROR_OAUTH2_GRANT_INVALID &&
	    strncmp(detail, IMPORT_REMOTE_DETAIL_SERVICE_ACCOUNT,
		    strlen(IMPORT_REMOTE_DETAIL_SERVICE_ACCOUNT)) == 0) {
		return "The token endpoint refused the service account's "
			"signed request (JWT): the key file is not the "
			"account's current key (deleted or replaced in the "
			"Cloud console), the user is not of the domain, or this "
			"server's clock is off. Download a new key for the "
			"service account and use that file.";
	}
	if (detail != NULL && code == IMPORT_REMOTE_ERROR_OAUTH2_CLIENT_INVALID &&
	    strncmp(detail, IMPORT_REMOTE_DETAIL_SERVICE_ACCOUNT,
		    strlen(IMPORT_REMOTE_DETAIL_SERVICE_ACCOUNT)) == 0) {
		return "The service account may not act for the domain's users "
			"with this scope: in the Google Admin console (Security "
			"> Access and data control > API controls > Domain-wide "
			"delegation) add the service account's client ID with "
			"the scope https://mail.google.com/, and turn on IMAP "
			"for the users.";
	}
	if (detail != NULL && code == IMPORT_REMOTE_ERROR_CONNECT_TIMEOUT &&
	    strstr(detail, IMPORT_REMOTE_DETAIL_NO_GREETING) != NULL) {
		return "The server accepted the connection but said nothing: "
			"the port may belong to another service or expect TLS "
			"from the start (993 is IMAPS: --ssl imaps; 143 is "
			"plain or STARTTLS), or the server is overloaded.";
	}
	if (detail != NULL && code == IMPORT_REMOTE_ERROR_TLS_FAILED &&
	    strstr(detail, IMPORT_REMOTE_DETAIL_NOT_TLS) != NULL) {
		return "This port does not speak TLS: try --ssl starttls (a "
			"plain-text IMAP port, usually 143), or port 993 with "
			"--ssl imaps.";
	}
	if (detail != NULL && code == IMPORT_REMOTE_ERROR_HOST_UNREACHABLE &&
	    (port = detail_refused_port(detail)) != NULL) {
		return t_strdup_printf("The host answered, but nothing "
			"listens on %s%s: check the port (993 is IMAPS, 143 "
			"plain or STARTTLS) and that the IMAP server is "
			"running.", port[0] == '\0' ? "that port" : "port ",
			port);
	}
	if (detail != NULL && code == IMPORT_REMOTE_ERROR_SOURCE_NOT_ALLOWED &&
	    strstr(detail, IMPORT_REMOTE_DETAIL_PLAINTEXT) != NULL) {
		return "Use --ssl imaps or --ssl starttls: without TLS the "
			"password crosses the network in clear. Only where the "
			"network is trusted, the administrator may allow it with "
			"import_remote_allow_plaintext = yes.";
	}
	return import_remote_error_get_hint(code, source_host);
}

const char *
import_remote_error_get_hint(enum import_remote_error_code code,
			     const char *source_host)
{
	const char *hint = import_remote_error_get_info(code)->hint;

	if (code != IMPORT_REMOTE_ERROR_AUTH_FAILED || source_host == NULL)
		return hint;
	if (host_is_under(source_host, "gmail.com") ||
	    host_is_under(source_host, "googlemail.com") ||
	    host_is_under(source_host, "google.com")) {
		return "Google (Gmail and Google Workspace) accepts no normal "
			"password over IMAP: turn on 2-Step Verification, then "
			"create an App Password and use it here. In Google "
			"Workspace each user needs their own App Password.";
	}
	if (host_is_under(source_host, "yahoo.com") ||
	    host_is_under(source_host, "aol.com")) {
		return "Yahoo needs an App Password: create one in the Yahoo "
			"account's security settings and use it here.";
	}
	if (host_is_under(source_host, "me.com") ||
	    host_is_under(source_host, "icloud.com") ||
	    host_is_under(source_host, "mac.com")) {
		return "iCloud needs an app-specific password: create one at "
			"the Apple ID account page and use it here.";
	}
	return hint;
}

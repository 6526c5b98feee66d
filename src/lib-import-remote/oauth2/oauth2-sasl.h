#ifndef OAUTH2_SASL_H
#define OAUTH2_SASL_H

#include "net.h"

/* The client side of the SASL mechanisms that send an OAuth2 access token:
   XOAUTH2 (Google's and Microsoft's) and OAUTHBEARER (RFC 7628). Only the
   messages: the IMAP exchange is the session's (import/imap-login.c). */

enum oauth2_sasl_mech {
	OAUTH2_SASL_XOAUTH2,
	OAUTH2_SASL_OAUTHBEARER,
};

/* What a server said when it rejected a token: its JSON challenge
   (RFC 7628 3.2.2). Each field is NULL when absent, else printable ASCII
   of at most OAUTH2_SASL_MAX_FIELD bytes. */
struct oauth2_sasl_error {
	/* "invalid_token", "insufficient_scope", or an HTTP status ("401",
	   "400") */
	const char *status;
	const char *scope;
	const char *schemes;
	const char *openid_configuration;
};

#define OAUTH2_SASL_MAX_FIELD 256
/* Largest challenge that is decoded at all (base64) */
#define OAUTH2_SASL_MAX_CHALLENGE 8192

/* The name as the AUTHENTICATE command and AUTH= capability spell it */
const char *oauth2_sasl_mech_name(enum oauth2_sasl_mech mech);

/* Append the client's initial response (not base64'd) to dest: for
   XOAUTH2 "user=U^Aauth=Bearer T^A^A", for OAUTHBEARER the GS2 header with
   the user escaped, host, port and token. dest holds the token: wipe it. */
void oauth2_sasl_initial_response(enum oauth2_sasl_mech mech,
				  const char *user, const char *token,
				  const char *host, in_port_t port,
				  string_t *dest);

/* The response that ends a failed exchange after the server's challenge,
   base64'd: empty for XOAUTH2, "AQ==" (a single 0x01) for OAUTHBEARER. */
const char *oauth2_sasl_abort_response(enum oauth2_sasl_mech mech);

/* Decode a challenge (base64 of a JSON object). Returns 0, or -1 if it
   is not one (error_r says why; the fields found so far are kept). */
int oauth2_sasl_parse_challenge(const char *base64,
				struct oauth2_sasl_error *error_r,
				const char **parse_error_r);

/* The error's fields as one line for an error detail, e.g.
   "status=invalid_token scope=https://mail.google.com/" ("" if none) */
const char *oauth2_sasl_error_str(const struct oauth2_sasl_error *error);

/* TRUE if the error says the token lacks a scope (rather than being
   expired, revoked or for someone else) */
bool oauth2_sasl_error_is_scope(const struct oauth2_sasl_error *error);

#endif

/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "base64.h"
#include "buffer.h"
#include "net.h"
#include "oauth2-json.h"
#include "oauth2-sasl.h"

const char *oauth2_sasl_mech_name(enum oauth2_sasl_mech mech)
{
	switch (mech) {
	case OAUTH2_SASL_XOAUTH2:
		return "XOAUTH2";
	case OAUTH2_SASL_OAUTHBEARER:
		return "OAUTHBEARER";
	}
	i_unreached();
}

/* RFC 5801 saslname: ',' and '=' escaped */
static void gs2_append_name(string_t *dest, const char *name)
{
	for (; *name != '\0'; name++) {
		if (*name == ',')
			str_append(dest, "=2C");
		else if (*name == '=')
			str_append(dest, "=3D");
		else
			str_append_c(dest, *name);
	}
}

void oauth2_sasl_initial_response(enum oauth2_sasl_mech mech,
				  const char *user, const char *token,
				  const char *host, in_port_t port,
				  string_t *dest)
{
	switch (mech) {
	case OAUTH2_SASL_XOAUTH2:
		str_append(dest, "user=");
		str_append(dest, user);
		break;
	case OAUTH2_SASL_OAUTHBEARER:
		str_append(dest, "n,a=");
		gs2_append_name(dest, user);
		str_append(dest, ",\001host=");
		str_append(dest, host);
		str_printfa(dest, "\001port=%u", (unsigned int)port);
		break;
	}
	str_append(dest, "\001auth=Bearer ");
	str_append(dest, token);
	str_append(dest, "\001\001");
}

const char *oauth2_sasl_abort_response(enum oauth2_sasl_mech mech)
{
	switch (mech) {
	case OAUTH2_SASL_XOAUTH2:
		return "";
	case OAUTH2_SASL_OAUTHBEARER:
		/* base64 of a single %x01 (RFC 7628 3.2.3) */
		return "AQ==";
	}
	i_unreached();
}

static const struct oauth2_json_field oauth2_sasl_challenge_fields[] = {
	OAUTH2_JSON_FIELD("status", struct oauth2_sasl_error, status),
	OAUTH2_JSON_FIELD("scope", struct oauth2_sasl_error, scope),
	OAUTH2_JSON_FIELD("schemes", struct oauth2_sasl_error, schemes),
	OAUTH2_JSON_FIELD("openid-configuration", struct oauth2_sasl_error,
			  openid_configuration),
	{ NULL, 0 }
};

int oauth2_sasl_parse_challenge(const char *base64,
				struct oauth2_sasl_error *error_r,
				const char **parse_error_r)
{
	buffer_t *decoded;
	const char *error;
	size_t len = strlen(base64);

	i_zero(error_r);
	if (len == 0) {
		*parse_error_r = "empty challenge";
		return -1;
	}
	if (len > OAUTH2_SASL_MAX_CHALLENGE) {
		*parse_error_r = "challenge too long";
		return -1;
	}
	decoded = t_buffer_create(MAX_BASE64_DECODED_SIZE(len));
	if (base64_scheme_decode(&base64_scheme, 0, base64, len,
				 decoded) < 0) {
		*parse_error_r = "challenge is not base64";
		return -1;
	}
	if (oauth2_json_parse_flat(decoded->data, decoded->used,
				   OAUTH2_SASL_MAX_FIELD,
				   OAUTH2_JSON_FLAG_TRUNCATE,
				   oauth2_sasl_challenge_fields, error_r,
				   &error) < 0) {
		*parse_error_r = t_strdup_printf("challenge is not a flat "
						 "JSON object: %s", error);
		return -1;
	}
	return 0;
}

const char *oauth2_sasl_error_str(const struct oauth2_sasl_error *error)
{
	string_t *str = t_str_new(128);

	if (error->status != NULL)
		str_printfa(str, "status=%s", error->status);
	if (error->scope != NULL) {
		if (str_len(str) > 0)
			str_append_c(str, ' ');
		str_printfa(str, "scope=%s", error->scope);
	}
	return str_c(str);
}

bool oauth2_sasl_error_is_scope(const struct oauth2_sasl_error *error)
{
	/* RFC 7628 3.2.2: the status is an RFC 6750 error code; XOAUTH2
	   servers give the HTTP status of that error instead */
	return error->status != NULL &&
		(strcmp(error->status, "insufficient_scope") == 0 ||
		 strcmp(error->status, "403") == 0);
}

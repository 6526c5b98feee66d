/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "base64.h"
#include "buffer.h"
#include "net.h"
#include "oauth2-sasl.h"

#include <ctype.h>

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

/* A tiny reader of one flat JSON object of strings, numbers and literals:
   all a SASL error challenge is. Nested values are refused. */
struct json_flat {
	const unsigned char *p, *end;
	const char *error;
};

static void json_skip_ws(struct json_flat *j)
{
	while (j->p < j->end &&
	       (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' ||
		*j->p == '\n'))
		j->p++;
}

static int hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A string, unescaped into dest: non-printable and non-ASCII characters
   become '?', and at most OAUTH2_SASL_MAX_FIELD of them are kept. */
static int json_read_string(struct json_flat *j, string_t *dest)
{
	unsigned char c;
	unsigned int i, code;
	int d;

	if (j->p >= j->end || *j->p != '"') {
		j->error = "expected a string";
		return -1;
	}
	j->p++;
	while (j->p < j->end && *j->p != '"') {
		c = *j->p++;
		if (c == '\\') {
			if (j->p >= j->end)
				break;
			c = *j->p++;
			switch (c) {
			case 'n': case 'r': case 't': case 'b': case 'f':
				c = '?';
				break;
			case 'u':
				code = 0;
				for (i = 0; i < 4; i++) {
					if (j->p >= j->end ||
					    (d = hex_digit(*j->p)) < 0) {
						j->error = "invalid \\u escape";
						return -1;
					}
					code = code * 16 + d;
					j->p++;
				}
				c = code >= 0x20 && code < 0x7f ? code : '?';
				break;
			case '"': case '\\': case '/':
				break;
			default:
				j->error = "invalid escape";
				return -1;
			}
		} else if (c < 0x20) {
			j->error = "control character in a string";
			return -1;
		} else if (c >= 0x7f) {
			c = '?';
		}
		if (str_len(dest) < OAUTH2_SASL_MAX_FIELD)
			str_append_c(dest, c);
	}
	if (j->p >= j->end) {
		j->error = "unterminated string";
		return -1;
	}
	j->p++;
	return 0;
}

/* A value: a string, or a number/true/false/null taken as its text */
static int json_read_value(struct json_flat *j, string_t *dest)
{
	if (j->p < j->end && *j->p == '"')
		return json_read_string(j, dest);
	while (j->p < j->end &&
	       (i_isalnum(*j->p) || *j->p == '-' || *j->p == '+' ||
		*j->p == '.')) {
		if (str_len(dest) < OAUTH2_SASL_MAX_FIELD)
			str_append_c(dest, *j->p);
		j->p++;
	}
	if (str_len(dest) == 0) {
		j->error = "expected a string, number or literal";
		return -1;
	}
	return 0;
}

static int json_flat_parse(struct json_flat *j,
			   struct oauth2_sasl_error *error_r)
{
	string_t *key = t_str_new(64), *value = t_str_new(64);
	const char **field;

	json_skip_ws(j);
	if (j->p >= j->end || *j->p != '{') {
		j->error = "not a JSON object";
		return -1;
	}
	j->p++;
	json_skip_ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return 0;
	}
	for (;;) {
		str_truncate(key, 0);
		str_truncate(value, 0);
		json_skip_ws(j);
		if (json_read_string(j, key) < 0)
			return -1;
		json_skip_ws(j);
		if (j->p >= j->end || *j->p != ':') {
			j->error = "expected ':'";
			return -1;
		}
		j->p++;
		json_skip_ws(j);
		if (json_read_value(j, value) < 0)
			return -1;

		field = NULL;
		if (strcmp(str_c(key), "status") == 0)
			field = &error_r->status;
		else if (strcmp(str_c(key), "scope") == 0)
			field = &error_r->scope;
		else if (strcmp(str_c(key), "schemes") == 0)
			field = &error_r->schemes;
		else if (strcmp(str_c(key), "openid-configuration") == 0)
			field = &error_r->openid_configuration;
		if (field != NULL && *field == NULL)
			*field = t_strdup(str_c(value));

		json_skip_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			break;
		}
		j->error = "expected ',' or '}'";
		return -1;
	}
	json_skip_ws(j);
	if (j->p != j->end) {
		j->error = "data after the object";
		return -1;
	}
	return 0;
}

int oauth2_sasl_parse_challenge(const char *base64,
				struct oauth2_sasl_error *error_r,
				const char **parse_error_r)
{
	struct json_flat j;
	buffer_t *decoded;
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
	i_zero(&j);
	j.p = decoded->data;
	j.end = j.p + decoded->used;
	if (json_flat_parse(&j, error_r) < 0) {
		*parse_error_r = t_strdup_printf("challenge is not a flat "
						 "JSON object: %s", j.error);
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

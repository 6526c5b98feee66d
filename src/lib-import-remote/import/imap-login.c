/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* From the greeting to a logged-in session: capabilities, STARTTLS,
   AUTHENTICATE PLAIN or LOGIN (the password never logged), or an OAuth2
   access token with AUTHENTICATE OAUTHBEARER or XOAUTH2 (the messages are
   oauth2/oauth2-sasl.c's), and the personal namespace. */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "base64.h"
#include "istream.h"
#include "ostream.h"
#include "safe-memset.h"
#include "str-sanitize.h"
#include "oauth2-sasl.h"
#include "imap-source-private.h"

int imap_source_read_greeting(struct imap_source *src)
{
	struct imap_source_reply reply;
	const char *tag;
	int ret;

	src->phase = IMAP_SOURCE_PHASE_GREETING;
	ret = imap_source_read_line(src, NULL, NULL, NULL, &tag, &reply);
	if (ret < 0)
		return -1;
	if (ret > 0) {
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_SOURCE_ERROR,
			t_strdup_printf("%s: not an IMAP server "
					"(no untagged greeting)",
					imap_source_addr(src)));
		return -1;
	}
	return 0;
}

static int imap_source_starttls(struct imap_source *src)
{
	struct imap_source_reply reply;

	if (imap_source_cmd(src, "STARTTLS", NULL, NULL, &reply) < 0)
		return -1;
	if (reply.state != IMAP_SOURCE_REPLY_OK) {
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_TLS_FAILED,
			t_strdup_printf("%s: STARTTLS failed: %s",
					imap_source_addr(src), reply.text));
		return -1;
	}
	if (i_stream_get_data_size(src->input) > 0) {
		/* plaintext injected after STARTTLS's OK: never trust it */
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_TLS_FAILED,
			t_strdup_printf("%s: server sent data after STARTTLS",
					imap_source_addr(src)));
		return -1;
	}
	if (imap_source_ssl_start(src) < 0)
		return -1;
	/* capabilities may change after TLS (RFC 3501 6.2.1) */
	return imap_source_cmd(src, "CAPABILITY", NULL, NULL, &reply) < 0 ? -1 : 0;
}

static int imap_source_login_failed(struct imap_source *src,
				    const struct imap_source_reply *reply)
{
	enum import_remote_error_code code;

	/* a NO to a login is the login being rejected, unless the server
	   says it is a temporary condition */
	code = imap_source_reply_classify(reply);
	if (code == IMPORT_REMOTE_ERROR_SOURCE_ERROR)
		code = IMPORT_REMOTE_ERROR_AUTH_FAILED;
	if (code == IMPORT_REMOTE_ERROR_THROTTLED) {
		imap_source_set_retryable_error(src, code, t_strdup_printf(
			"%s: login as %s refused for now: %s",
			imap_source_addr(src), src->set.username, reply->text));
		return -1;
	}
	imap_source_set_error(src, code, t_strdup_printf(
		"%s: login as %s rejected: %s", imap_source_addr(src),
		src->set.username, reply->text));
	return -1;
}

/* SASL PLAIN's message: authzid NUL authcid NUL password, base64'd so that
   any password byte is safe to send (the caller wipes it) */
static string_t *imap_source_plain_message(struct imap_source *src)
{
	string_t *plain, *b64;

	plain = t_str_new(128);
	str_append_c(plain, '\0');
	str_append(plain, src->set.username);
	str_append_c(plain, '\0');
	str_append(plain, src->set.password);
	b64 = t_str_new(MAX_BASE64_ENCODED_SIZE(str_len(plain)) + 1);
	base64_encode(str_data(plain), str_len(plain), b64);
	safe_memset(str_c_modifiable(plain), 0, str_len(plain));
	return b64;
}

/* AUTHENTICATE PLAIN with the message in the command (SASL-IR) */
static const char *imap_source_plain_send_ir(struct imap_source *src)
{
	string_t *b64, *cmd;
	const char *tag;

	b64 = imap_source_plain_message(src);
	cmd = t_str_new(128);
	str_append(cmd, "PLAIN ");
	str_append_str(cmd, b64);
	safe_memset(str_c_modifiable(b64), 0, str_len(b64));
	tag = imap_source_send_secret(src, "AUTHENTICATE", cmd);
	return tag;
}

static int imap_source_authenticate_plain(struct imap_source *src)
{
	struct imap_source_reply reply;
	string_t *b64;
	const char *tag, *reply_tag;
	int ret;

	if (imap_source_has_capability(src, IMAP_SOURCE_CAP_SASL_IR))
		tag = imap_source_plain_send_ir(src);
	else {
		tag = imap_source_send(src, "AUTHENTICATE PLAIN");
		if (imap_source_flush(src) < 0)
			return -1;
		ret = imap_source_read_line(src, NULL, NULL, NULL,
					    &reply_tag, &reply);
		while (ret == 0) {
			ret = imap_source_read_line(src, NULL, NULL, NULL,
						    &reply_tag, &reply);
		}
		if (ret < 0)
			return -1;
		if (strcmp(reply_tag, "+") != 0)
			return imap_source_login_failed(src, &reply);
		b64 = imap_source_plain_message(src);
		o_stream_nsend(src->output, str_data(b64), str_len(b64));
		o_stream_nsend(src->output, "\r\n", 2);
		safe_memset(str_c_modifiable(b64), 0, str_len(b64));
	}

	if (imap_source_wait(src, tag, NULL, NULL, NULL, &reply) < 0)
		return -1;
	if (reply.state != IMAP_SOURCE_REPLY_OK)
		return imap_source_login_failed(src, &reply);
	return 0;
}

/* The server's AUTH= capabilities, for error texts */
static const char *imap_source_auth_caps_str(struct imap_source *src)
{
	string_t *str = t_str_new(64);

	if (imap_source_has_capability(src, IMAP_SOURCE_CAP_AUTH_PLAIN))
		str_append(str, " AUTH=PLAIN");
	if (imap_source_has_capability(src, IMAP_SOURCE_CAP_AUTH_XOAUTH2))
		str_append(str, " AUTH=XOAUTH2");
	if (imap_source_has_capability(src, IMAP_SOURCE_CAP_AUTH_OAUTHBEARER))
		str_append(str, " AUTH=OAUTHBEARER");
	return str_len(str) == 0 ? "none" : str_c(str) + 1;
}

/* The token was refused: what the server's challenge said, classified */
static int
imap_source_oauth2_rejected(struct imap_source *src,
			    enum oauth2_sasl_mech mech,
			    const struct oauth2_sasl_error *error,
			    const struct imap_source_reply *reply)
{
	enum import_remote_error_code code;
	const char *why = error == NULL ? "" : oauth2_sasl_error_str(error);

	/* a temporary condition ([UNAVAILABLE], [THROTTLED]) is not the
	   token's fault */
	code = imap_source_reply_classify(reply);
	if (code == IMPORT_REMOTE_ERROR_THROTTLED) {
		imap_source_set_retryable_error(src, code, t_strdup_printf(
			"%s: login as %s refused for now: %s",
			imap_source_addr(src), src->set.username, reply->text));
		return -1;
	}
	imap_source_set_error(src, IMPORT_REMOTE_ERROR_TOKEN_REJECTED,
		t_strdup_printf("%s: %s login as %s rejected: %s%s%s%s%s",
			imap_source_addr(src), oauth2_sasl_mech_name(mech),
			src->set.username, reply->text,
			why[0] == '\0' ? "" : " (",
			why, why[0] == '\0' ? "" : ")",
			error != NULL && oauth2_sasl_error_is_scope(error) ?
			": "IMPORT_REMOTE_DETAIL_TOKEN_SCOPE : ""));
	return -1;
}

static int
imap_source_authenticate_oauth2(struct imap_source *src,
				enum oauth2_sasl_mech mech)
{
	struct imap_source_reply reply;
	struct oauth2_sasl_error error;
	string_t *resp, *b64, *cmd, *challenge;
	const char *tag, *abort_resp, *parse_error;
	bool have_error = FALSE;
	int ret;

	if (strpbrk(src->set.password, "\001\r\n ") != NULL ||
	    strchr(src->set.username, '\001') != NULL) {
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_TOKEN_REJECTED,
			"The access token contains a space or control "
			"character: it is not an OAuth2 bearer token");
		return -1;
	}
	resp = t_str_new(256 + strlen(src->set.password));
	oauth2_sasl_initial_response(mech, src->set.username,
				     src->set.password, src->set.host,
				     src->set.port, resp);
	b64 = t_str_new(MAX_BASE64_ENCODED_SIZE(str_len(resp)) + 16);
	base64_encode(str_data(resp), str_len(resp), b64);
	safe_memset(str_c_modifiable(resp), 0, str_len(resp));

	challenge = t_str_new(256);
	if (imap_source_has_capability(src, IMAP_SOURCE_CAP_SASL_IR)) {
		cmd = t_str_new(str_len(b64) + 16);
		str_append(cmd, oauth2_sasl_mech_name(mech));
		str_append_c(cmd, ' ');
		str_append_str(cmd, b64);
		safe_memset(str_c_modifiable(b64), 0, str_len(b64));
		tag = imap_source_send_secret(src, "AUTHENTICATE", cmd);
	} else {
		tag = imap_source_send(src, t_strconcat("AUTHENTICATE ",
					oauth2_sasl_mech_name(mech), NULL));
		ret = imap_source_wait_continue(src, tag, challenge, &reply);
		if (ret <= 0) {
			safe_memset(str_c_modifiable(b64), 0, str_len(b64));
			if (ret < 0)
				return -1;
			return imap_source_oauth2_rejected(src, mech, NULL,
							   &reply);
		}
		o_stream_nsend(src->output, str_data(b64), str_len(b64));
		o_stream_nsend(src->output, "\r\n", 2);
		safe_memset(str_c_modifiable(b64), 0, str_len(b64));
	}

	ret = imap_source_wait_continue(src, tag, challenge, &reply);
	if (ret > 0) {
		/* a rejected token: the challenge says why, and the
		   exchange ends with the client's answer (RFC 7628 3.2.3) */
		if (oauth2_sasl_parse_challenge(str_c(challenge), &error,
						&parse_error) < 0) {
			e_debug(src->event, "OAuth2 challenge not understood: "
				"%s", parse_error);
		}
		have_error = TRUE;
		abort_resp = oauth2_sasl_abort_response(mech);
		o_stream_nsend_str(src->output,
				   t_strconcat(abort_resp, "\r\n", NULL));
		ret = imap_source_wait_continue(src, tag, challenge, &reply);
		if (ret > 0) {
			/* a second challenge: cancel (RFC 3501 6.2.2) */
			o_stream_nsend_str(src->output, "*\r\n");
			ret = imap_source_wait_continue(src, tag, challenge,
							&reply);
			if (ret > 0) {
				imap_source_set_error(src,
					IMPORT_REMOTE_ERROR_SOURCE_ERROR,
					t_strdup_printf("%s: server kept "
						"asking during %s",
						imap_source_addr(src),
						oauth2_sasl_mech_name(mech)));
				return -1;
			}
		}
	}
	if (ret < 0)
		return -1;
	if (reply.state != IMAP_SOURCE_REPLY_OK) {
		return imap_source_oauth2_rejected(src, mech,
				have_error ? &error : NULL, &reply);
	}
	return 0;
}

/* The OAuth2 mechanism to use: the one forced, or OAUTHBEARER (the
   standard) if offered, else XOAUTH2. Returns -1 if the server offers
   none that fits (error set). */
static int imap_source_oauth2_mech(struct imap_source *src,
				   enum oauth2_sasl_mech *mech_r)
{
	bool bearer = imap_source_has_capability(src,
				IMAP_SOURCE_CAP_AUTH_OAUTHBEARER);
	bool xoauth2 = imap_source_has_capability(src,
				IMAP_SOURCE_CAP_AUTH_XOAUTH2);

	switch (src->set.auth_mech) {
	case IMPORT_REMOTE_AUTH_OAUTHBEARER:
		xoauth2 = FALSE;
		break;
	case IMPORT_REMOTE_AUTH_XOAUTH2:
		bearer = FALSE;
		break;
	default:
		break;
	}
	if (bearer)
		*mech_r = OAUTH2_SASL_OAUTHBEARER;
	else if (xoauth2)
		*mech_r = OAUTH2_SASL_XOAUTH2;
	else {
		imap_source_set_error(src,
			IMPORT_REMOTE_ERROR_AUTH_MECH_UNSUPPORTED,
			t_strdup_printf("%s: server does not offer %s for an "
				"OAuth2 token (it offers: %s)",
				imap_source_addr(src),
				src->set.auth_mech == IMPORT_REMOTE_AUTH_OAUTH2 ?
				"AUTH=OAUTHBEARER or AUTH=XOAUTH2" :
				t_str_ucase(t_strconcat("AUTH=",
					import_remote_auth_mech_name(
						src->set.auth_mech), NULL)),
				imap_source_auth_caps_str(src)));
		return -1;
	}
	return 0;
}

static int imap_source_login_cmd(struct imap_source *src)
{
	struct imap_source_reply reply;
	const char *tag;
	string_t *cmd;

	if (strpbrk(src->set.username, "\r\n") != NULL ||
	    strpbrk(src->set.password, "\r\n") != NULL) {
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_AUTH_FAILED,
			"The server supports only LOGIN, which cannot send a "
			"username or password containing line breaks");
		return -1;
	}
	if (imap_source_str_needs_literal(src->set.password) &&
	    !imap_source_has_capability(src, IMAP_SOURCE_CAP_LITERALPLUS)) {
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_AUTH_FAILED,
			"The server offers neither AUTH=PLAIN nor LITERAL+, "
			"so a password with non-ASCII characters cannot be sent");
		return -1;
	}
	cmd = t_str_new(128);
	imap_source_append_string(src, cmd, src->set.username);
	str_append_c(cmd, ' ');
	imap_source_append_string(src, cmd, src->set.password);
	tag = imap_source_send_secret(src, "LOGIN", cmd);
	if (imap_source_wait(src, tag, NULL, NULL, NULL, &reply) < 0)
		return -1;
	if (reply.state != IMAP_SOURCE_REPLY_OK)
		return imap_source_login_failed(src, &reply);
	return 0;
}

static int imap_source_login_end(struct imap_source *src);

int imap_source_login(struct imap_source *src)
{
	struct imap_source_reply reply;

	src->phase = IMAP_SOURCE_PHASE_LOGIN;
	if (src->caps == 0) {
		if (imap_source_cmd(src, "CAPABILITY", NULL, NULL, &reply) < 0)
			return -1;
	}
	if (src->set.ssl == IMPORT_REMOTE_SSL_STARTTLS) {
		if (!imap_source_has_capability(src, IMAP_SOURCE_CAP_STARTTLS)) {
			imap_source_set_error(src, IMPORT_REMOTE_ERROR_TLS_FAILED,
				t_strdup_printf("%s: server does not offer "
						"STARTTLS", imap_source_addr(src)));
			return -1;
		}
		if (imap_source_starttls(src) < 0)
			return -1;
	}
	if (imap_source_has_capability(src, IMAP_SOURCE_CAP_LOGINDISABLED)) {
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_AUTH_FAILED,
			t_strdup_printf("%s: server refuses to log in without "
					"TLS; use --ssl imaps or starttls",
					imap_source_addr(src)));
		return -1;
	}
	src->caps_told = FALSE;
	if (import_remote_auth_mech_is_oauth2(src->set.auth_mech)) {
		enum oauth2_sasl_mech mech;

		if (imap_source_oauth2_mech(src, &mech) < 0 ||
		    imap_source_authenticate_oauth2(src, mech) < 0)
			return -1;
	} else if (src->set.auth_mech == IMPORT_REMOTE_AUTH_PLAIN &&
		   !imap_source_has_capability(src, IMAP_SOURCE_CAP_AUTH_PLAIN)) {
		imap_source_set_error(src,
			IMPORT_REMOTE_ERROR_AUTH_MECH_UNSUPPORTED,
			t_strdup_printf("%s: server does not offer AUTH=PLAIN "
				"(it offers: %s)", imap_source_addr(src),
				imap_source_auth_caps_str(src)));
		return -1;
	} else if (src->set.auth_mech != IMPORT_REMOTE_AUTH_LOGIN &&
		   imap_source_has_capability(src, IMAP_SOURCE_CAP_AUTH_PLAIN)) {
		if (imap_source_authenticate_plain(src) < 0)
			return -1;
	} else {
		if (imap_source_login_cmd(src) < 0)
			return -1;
	}
	return imap_source_login_end(src);
}

/* Logged in: the capabilities it has now */
static int imap_source_login_end(struct imap_source *src)
{
	struct imap_source_reply reply;

	src->phase = IMAP_SOURCE_PHASE_READY;
	/* capabilities may change with the login; most servers say them in
	   its reply (a round trip saved on each connection) */
	if (!src->caps_told) {
		src->caps = 0;
		if (imap_source_cmd(src, "CAPABILITY", NULL, NULL,
				    &reply) < 0)
			return -1;
	}
	return 0;
}

bool imap_source_login_is_one_command(struct imap_source *src)
{
	/* as imap_source_login() chooses AUTHENTICATE PLAIN, and with the
	   message in the command */
	return src->caps != 0 && src->set.ssl != IMPORT_REMOTE_SSL_STARTTLS &&
		!imap_source_has_capability(src, IMAP_SOURCE_CAP_LOGINDISABLED) &&
		!import_remote_auth_mech_is_oauth2(src->set.auth_mech) &&
		src->set.auth_mech != IMPORT_REMOTE_AUTH_LOGIN &&
		imap_source_has_capability(src, IMAP_SOURCE_CAP_AUTH_PLAIN) &&
		imap_source_has_capability(src, IMAP_SOURCE_CAP_SASL_IR);
}

const char *imap_source_login_send(struct imap_source *src)
{
	i_assert(imap_source_login_is_one_command(src));

	src->phase = IMAP_SOURCE_PHASE_LOGIN;
	src->caps_told = FALSE;
	return p_strdup(src->pool, imap_source_plain_send_ir(src));
}

int imap_source_login_finish(struct imap_source *src, const char *tag)
{
	struct imap_source_reply reply;

	if (imap_source_wait(src, tag, NULL, NULL, NULL, &reply) < 0)
		return -1;
	if (reply.state != IMAP_SOURCE_REPLY_OK)
		return imap_source_login_failed(src, &reply);
	return imap_source_login_end(src);
}

const char *imap_source_namespace_send(struct imap_source *src)
{
	if (!imap_source_has_capability(src, IMAP_SOURCE_CAP_NAMESPACE))
		return NULL;
	return imap_source_send(src, "NAMESPACE");
}

int imap_source_namespace_wait(struct imap_source *src, const char *tag,
			       imap_source_untagged_callback_t *untagged_callback,
			       void *context)
{
	struct imap_source_reply reply;

	/* (the NAMESPACE reply is the session's own business; a NO leaves
	   the default: no prefix) */
	if (tag != NULL &&
	    imap_source_wait(src, tag, untagged_callback, NULL, context,
			     &reply) < 0)
		return -1;
	e_debug(src->event, "Namespace prefix '%s', separator '%c'",
		str_sanitize(src->ns_prefix, 255),
		(unsigned char)src->ns_sep < 0x20 ? '?' : src->ns_sep);
	return 0;
}


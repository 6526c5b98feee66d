/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* From the greeting to a logged-in session: capabilities, STARTTLS,
   AUTHENTICATE PLAIN or LOGIN (the password never logged), and the
   personal namespace. */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "base64.h"
#include "istream.h"
#include "ostream.h"
#include "safe-memset.h"
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

static int imap_source_authenticate_plain(struct imap_source *src)
{
	struct imap_source_reply reply;
	string_t *plain, *b64, *cmd;
	const char *tag, *reply_tag;
	int ret;

	/* SASL PLAIN: authzid NUL authcid NUL password, base64'd so that any
	   password byte is safe to send */
	plain = t_str_new(128);
	str_append_c(plain, '\0');
	str_append(plain, src->set.username);
	str_append_c(plain, '\0');
	str_append(plain, src->set.password);
	b64 = t_str_new(MAX_BASE64_ENCODED_SIZE(str_len(plain)) + 1);
	base64_encode(str_data(plain), str_len(plain), b64);
	safe_memset(str_c_modifiable(plain), 0, str_len(plain));

	if (imap_source_has_capability(src, IMAP_SOURCE_CAP_SASL_IR)) {
		cmd = t_str_new(128);
		str_append(cmd, "PLAIN ");
		str_append_str(cmd, b64);
		tag = imap_source_send_secret(src, "AUTHENTICATE", cmd);
	} else {
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
		if (strcmp(reply_tag, "+") != 0) {
			safe_memset(str_c_modifiable(b64), 0, str_len(b64));
			return imap_source_login_failed(src, &reply);
		}
		o_stream_nsend(src->output, str_data(b64), str_len(b64));
		o_stream_nsend(src->output, "\r\n", 2);
	}
	safe_memset(str_c_modifiable(b64), 0, str_len(b64));

	if (imap_source_wait(src, tag, NULL, NULL, NULL, &reply) < 0)
		return -1;
	if (reply.state != IMAP_SOURCE_REPLY_OK)
		return imap_source_login_failed(src, &reply);
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

static int
imap_source_namespace_callback(const struct imap_reply *reply, void *context)
{
	struct imap_source *src = context;

	if (reply->type != IMAP_REPLY_NAMESPACE ||
	    !reply->namespace_.have_personal)
		return 0;
	src->ns_prefix = p_strdup(src->pool, reply->namespace_.prefix);
	if (reply->namespace_.separator != '\0')
		src->ns_sep = reply->namespace_.separator;
	return 0;
}

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
	if (imap_source_has_capability(src, IMAP_SOURCE_CAP_AUTH_PLAIN)) {
		if (imap_source_authenticate_plain(src) < 0)
			return -1;
	} else {
		if (imap_source_login_cmd(src) < 0)
			return -1;
	}
	src->phase = IMAP_SOURCE_PHASE_READY;

	/* capabilities may change with the login; most servers say them in
	   its reply (a round trip saved on each connection) */
	if (!src->caps_told) {
		src->caps = 0;
		if (imap_source_cmd(src, "CAPABILITY", NULL, NULL,
				    &reply) < 0)
			return -1;
	}
	if (imap_source_has_capability(src, IMAP_SOURCE_CAP_NAMESPACE)) {
		if (imap_source_cmd(src, "NAMESPACE",
				    imap_source_namespace_callback, src,
				    &reply) < 0)
			return -1;
	}
	return 0;
}


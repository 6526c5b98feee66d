/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* Reading the server's replies: one line at a time through lib-imap's
   parser, literals handed to the caller to stream (or read into memory when
   small), replies the session itself acts on (CAPABILITY, BYE), and what a
   reply's response code means. */

#include "lib.h"
#include "istream.h"
#include "str-sanitize.h"
#include "imap-arg.h"
#include "imap-parser.h"
#include "imap-source-private.h"

static const struct {
	const char *name;
	enum imap_source_capability cap;
} capability_names[] = {
	{ "IMAP4REV1", IMAP_SOURCE_CAP_IMAP4REV1 },
	{ "STARTTLS", IMAP_SOURCE_CAP_STARTTLS },
	{ "LOGINDISABLED", IMAP_SOURCE_CAP_LOGINDISABLED },
	{ "AUTH=PLAIN", IMAP_SOURCE_CAP_AUTH_PLAIN },
	{ "SASL-IR", IMAP_SOURCE_CAP_SASL_IR },
	{ "LITERAL+", IMAP_SOURCE_CAP_LITERALPLUS },
	{ "NAMESPACE", IMAP_SOURCE_CAP_NAMESPACE },
	{ "SPECIAL-USE", IMAP_SOURCE_CAP_SPECIAL_USE },
	{ "LIST-EXTENDED", IMAP_SOURCE_CAP_LIST_EXTENDED },
	{ "UIDPLUS", IMAP_SOURCE_CAP_UIDPLUS },
	{ "ESEARCH", IMAP_SOURCE_CAP_ESEARCH },
	{ "XLIST", IMAP_SOURCE_CAP_XLIST },
	{ "X-GM-EXT-1", IMAP_SOURCE_CAP_X_GM_EXT_1 },
	{ "LIST-STATUS", IMAP_SOURCE_CAP_LIST_STATUS },
	{ "AUTH=XOAUTH2", IMAP_SOURCE_CAP_AUTH_XOAUTH2 },
	{ "AUTH=OAUTHBEARER", IMAP_SOURCE_CAP_AUTH_OAUTHBEARER },
};

void imap_source_set_capabilities(struct imap_source *src,
				  const char *const *names)
{
	unsigned int i;

	src->caps = 0;
	src->caps_told = TRUE;
	for (; *names != NULL; names++) {
		for (i = 0; i < N_ELEMENTS(capability_names); i++) {
			if (strcasecmp(*names, capability_names[i].name) == 0)
				src->caps |= capability_names[i].cap;
		}
	}
}

bool imap_source_has_capability(struct imap_source *src,
				enum imap_source_capability cap)
{
	return (src->caps & cap) != 0;
}

enum import_remote_error_code
imap_source_reply_classify(const struct imap_source_reply *reply)
{
	const char *code = reply->resp_code;

	if (strcmp(code, "AUTHENTICATIONFAILED") == 0 ||
	    strcmp(code, "AUTHORIZATIONFAILED") == 0 ||
	    strcmp(code, "EXPIRED") == 0)
		return IMPORT_REMOTE_ERROR_AUTH_FAILED;
	if (strcmp(code, "THROTTLED") == 0 ||
	    strcmp(code, "LIMIT") == 0 ||
	    strcmp(code, "INUSE") == 0 ||
	    strcmp(code, "UNAVAILABLE") == 0)
		return IMPORT_REMOTE_ERROR_THROTTLED;
	return IMPORT_REMOTE_ERROR_SOURCE_ERROR;
}

/* The session's own business in an untagged reply. Returns -1 if it ends
   the session (error set). */
static int imap_source_handle_untagged(struct imap_source *src,
				       const struct imap_reply *reply)
{
	struct imap_source_reply bye;

	if (reply->type == IMAP_REPLY_CAPABILITY) {
		imap_source_set_capabilities(src, reply->capabilities);
		return 0;
	}
	if (reply->type == IMAP_REPLY_NAMESPACE) {
		if (reply->namespace_.have_personal) {
			src->ns_prefix = p_strdup(src->pool,
						  reply->namespace_.prefix);
			if (reply->namespace_.separator != '\0')
				src->ns_sep = reply->namespace_.separator;
		}
		return 0;
	}
	if (reply->type != IMAP_REPLY_RESP)
		return 0;
	if (strcmp(reply->resp.state, "BYE") == 0 && !src->logging_out) {
		imap_reply_parse_resp_text(IMAP_SOURCE_REPLY_NO,
					   reply->resp.text, &bye);
		src->disconnected = TRUE;
		if (src->phase == IMAP_SOURCE_PHASE_READY ||
		    src->phase == IMAP_SOURCE_PHASE_LOGIN) {
			/* a disconnect, whatever its code says (e.g.
			   [UNAVAILABLE] Server shutting down) */
			imap_source_set_retryable_error(src,
				IMPORT_REMOTE_ERROR_CONNECTION_LOST,
				t_strdup_printf("%s: server closed the "
					"connection: %s", imap_source_addr(src),
					reply->resp.text));
			return -1;
		}
		/* BYE as greeting: e.g. too many connections */
		imap_source_set_retryable_error(src,
			bye.resp_code[0] != '\0' ?
			imap_source_reply_classify(&bye) :
			IMPORT_REMOTE_ERROR_THROTTLED,
			t_strdup_printf("%s: server refused the connection: %s",
					imap_source_addr(src), reply->resp.text));
		return -1;
	}
	if ((strcmp(reply->resp.state, "OK") == 0 ||
	     strcmp(reply->resp.state, "PREAUTH") == 0) &&
	    strcmp(reply->resp.code, "CAPABILITY") == 0) {
		imap_source_set_capabilities(src,
			t_strsplit_spaces(reply->resp.code_arg, " "));
	} else if (strcmp(reply->resp.state, "BAD") == 0) {
		/* the server thinks we broke the protocol: worth knowing */
		e_warning(src->event, "Server complained: %s",
			  str_sanitize(reply->resp.text, 200));
	}
	return 0;
}

int imap_source_read_line(struct imap_source *src,
			  imap_source_untagged_callback_t *untagged_callback,
			  imap_source_literal_callback_t *literal_callback,
			  void *context, const char **tag_r,
			  struct imap_source_reply *reply_r)
{
	struct imap_reply_fetch_literal lit;
	struct imap_reply reply;
	const struct imap_arg *args;
	const unsigned char *data;
	const char *tag;
	uoff_t literal_size;
	size_t size;
	int ret;

	if (src->failed)
		return -1;

	imap_parser_reset(src->parser);
	while ((tag = imap_parser_read_word(src->parser)) == NULL) {
		if (imap_source_read_more(src) < 0)
			return -1;
	}
	if (strcmp(tag, "+") == 0) {
		/* continuation request: the rest of the line is its text
		   (a SASL challenge: base64) */
		for (;;) {
			data = i_stream_get_data(src->input, &size);
			const unsigned char *lf = memchr(data, '\n', size);
			if (lf != NULL) {
				const unsigned char *start = data, *end = lf;

				while (start < end && *start == ' ')
					start++;
				if (end > start && end[-1] == '\r')
					end--;
				i_zero(reply_r);
				reply_r->resp_code = "";
				reply_r->text = t_strndup(start, end - start);
				i_stream_skip(src->input, lf - data + 1);
				break;
			}
			if (imap_source_read_more(src) < 0)
				return -1;
		}
		*tag_r = "+";
		return 1;
	}

	for (;;) {
		ret = imap_parser_read_args(src->parser, 0,
					    IMAP_PARSE_FLAG_LITERAL_SIZE |
					    IMAP_PARSE_FLAG_ATOM_ALLCHARS |
					    IMAP_PARSE_FLAG_LITERAL8 |
					    IMAP_PARSE_FLAG_SERVER_TEXT, &args);
		if (ret == -2) {
			if (imap_source_read_more(src) < 0)
				return -1;
			continue;
		}
		if (ret < 0) {
			const unsigned char *near;
			size_t near_size;

			near = i_stream_get_data(src->input, &near_size);
			/* the reply stream lost its sync (e.g. a literal
			   shorter than announced): a new connection starts
			   clean */
			imap_source_set_retryable_error(src,
				IMPORT_REMOTE_ERROR_SOURCE_ERROR,
				t_strdup_printf("%s: invalid reply from server: "
					"%s (near '%s')", imap_source_addr(src),
					imap_parser_get_error(src->parser, NULL),
					str_sanitize(t_strndup(near,
						I_MIN(near_size, 40)), 40)));
			src->disconnected = TRUE;
			return -1;
		}
		/* (lib-imap asserts there is an argument to look at) */
		if (ret == 0 ||
		    !imap_parser_get_literal_size(src->parser, &literal_size))
			break;

		ret = 0;
		if (strcmp(tag, "*") == 0 && literal_callback != NULL &&
		    imap_reply_parse_fetch_literal(args, literal_size, &lit)) {
			ret = literal_callback(&lit, context);
			if (ret < 0) {
				/* the rest of the literal is unread */
				src->failed = TRUE;
				return -1;
			}
		}
		if (ret == 0) {
			if (literal_size > IMAP_SOURCE_MAX_INLINE_LITERAL) {
				imap_source_set_retryable_error(src,
					IMPORT_REMOTE_ERROR_SOURCE_ERROR,
					t_strdup_printf("%s: server sent an "
						"unexpected %"PRIuUOFF_T"-byte "
						"literal", imap_source_addr(src),
						literal_size));
				src->disconnected = TRUE;
				return -1;
			}
			imap_parser_read_last_literal(src->parser);
		}
	}

	/* skip the line's CRLF */
	for (;;) {
		data = i_stream_get_data(src->input, &size);
		if (size >= 1 && data[0] == '\n') {
			i_stream_skip(src->input, 1);
			break;
		}
		if (size >= 2 && data[0] == '\r' && data[1] == '\n') {
			i_stream_skip(src->input, 2);
			break;
		}
		if (size >= 2 || (size == 1 && data[0] != '\r')) {
			imap_source_set_retryable_error(src,
				IMPORT_REMOTE_ERROR_SOURCE_ERROR,
				t_strdup_printf("%s: invalid reply from server: "
					"garbage after reply line",
					imap_source_addr(src)));
			src->disconnected = TRUE;
			return -1;
		}
		if (imap_source_read_more(src) < 0)
			return -1;
	}

	if (args[0].type == IMAP_ARG_EOL) {
		/* an empty line, "*" or a tag alone: no IMAP reply */
		imap_source_set_retryable_error(src,
			IMPORT_REMOTE_ERROR_SOURCE_ERROR,
			t_strdup_printf("%s: invalid reply from server: %s",
				imap_source_addr(src),
				tag[0] == '\0' ? "an empty line" :
				t_strdup_printf("a line with nothing but '%s'",
						str_sanitize(tag, 40))));
		src->disconnected = TRUE;
		return -1;
	}

	if (strcmp(tag, "*") != 0) {
		if (!imap_reply_parse_tagged(args, reply_r)) {
			imap_source_set_error(src, IMPORT_REMOTE_ERROR_SOURCE_ERROR,
				t_strdup_printf("%s: invalid tagged reply",
						imap_source_addr(src)));
			return -1;
		}
		if (reply_r->state == IMAP_SOURCE_REPLY_OK &&
		    strcmp(reply_r->resp_code, "CAPABILITY") == 0) {
			const char *code, *code_arg;

			imap_reply_split_resp_code(reply_r->text, &code,
						   &code_arg);
			imap_source_set_capabilities(src,
				t_strsplit_spaces(code_arg, " "));
		}
		*tag_r = tag;
		return 1;
	}

	imap_reply_parse_untagged(args, &reply);
	if (imap_source_handle_untagged(src, &reply) < 0)
		return -1;
	if (untagged_callback != NULL &&
	    untagged_callback(&reply, context) < 0) {
		src->failed = TRUE;
		return -1;
	}
	return 0;
}

int imap_source_read_literal(struct imap_source *src, uoff_t size,
			     const char *what,
			     imap_source_literal_data_callback_t *callback,
			     void *context)
{
	const unsigned char *data;
	size_t avail;
	int ret;

	while (size > 0) {
		data = i_stream_get_data(src->input, &avail);
		if (avail == 0) {
			/* for error texts: what broke off */
			src->reading = what;
			ret = imap_source_read_more(src);
			src->reading = NULL;
			if (ret < 0)
				return -1;
			continue;
		}
		if (avail > size)
			avail = size;
		if (callback != NULL)
			callback(data, avail, context);
		i_stream_skip(src->input, avail);
		size -= avail;
	}
	return 0;
}

int imap_source_refuse_literal(struct imap_source *src, const char *detail)
{
	/* the rest of the line can't be found without reading it */
	imap_source_set_retryable_error(src, IMPORT_REMOTE_ERROR_SOURCE_ERROR,
		t_strdup_printf("%s: %s", imap_source_addr(src), detail));
	src->disconnected = TRUE;
	return -1;
}

int imap_source_skip_literal(struct imap_source *src, uoff_t size)
{
	if (size > IMAP_SOURCE_MAX_INLINE_LITERAL) {
		/* nobody asked for it: not worth a second of reading */
		return imap_source_refuse_literal(src, t_strdup_printf(
			"server sent an unexpected %"PRIuUOFF_T"-byte literal",
			size));
	}
	return imap_source_read_literal(src, size, NULL, NULL, NULL);
}

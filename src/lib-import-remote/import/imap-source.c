/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "base64.h"
#include "ioloop.h"
#include "istream.h"
#include "ostream.h"
#include "iostream-ssl.h"
#include "safe-memset.h"
#include "str-sanitize.h"
#include "imap-arg.h"
#include "imap-parser.h"
#include "imap-quote.h"
#include "import-remote-compat.h"
#include "imap-source.h"

#include <netdb.h>

/* Longest reply line (literals streamed aside) and thus the input buffer. */
#define IMAP_SOURCE_MAX_LINE_LENGTH (1024*1024)
/* Largest literal read into memory, e.g. a folder name or header field. */
#define IMAP_SOURCE_MAX_INLINE_LITERAL (256*1024)

/* A command sent and not yet waited for. Its tagged reply may arrive while
   waiting for another one (the server may finish pipelined commands in any
   order), so it is kept until asked for. */
struct imap_source_command {
	char *tag;
	bool replied;
	enum imap_source_reply_state state;
	char *resp_code, *text;
};

enum imap_source_phase {
	IMAP_SOURCE_PHASE_CONNECTING,
	IMAP_SOURCE_PHASE_GREETING,
	IMAP_SOURCE_PHASE_LOGIN,
	IMAP_SOURCE_PHASE_READY,
};

struct imap_source {
	pool_t pool;
	struct event *event;
	struct imap_source_settings set;
	struct ioloop *ioloop;

	struct ip_addr ip;
	int fd;
	struct istream *input;
	struct ostream *output;
	struct ssl_iostream_context *ssl_ctx;
	struct ssl_iostream *ssl_io;
	struct imap_parser *parser;
	struct io *io;
	struct timeout *to;
	bool wait_done, wait_timed_out;

	enum imap_source_phase phase;
	enum imap_source_capability caps;
	unsigned int tag_counter;
	ARRAY(struct imap_source_command) commands;
	const char *ns_prefix;
	char ns_sep;

	/* the certificate verification failure, if that was the cause */
	const char *cert_error;
	struct import_remote_error error;
	bool failed, disconnected, logging_out;
};

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
};

void imap_source_set_error(struct imap_source *src,
			   enum import_remote_error_code code,
			   const char *detail)
{
	if (!src->failed) {
		e_debug(src->event, "Failed: %s",detail);
		import_remote_error_set(&src->error, code,
					p_strdup(src->pool, detail));
	}
	src->failed = TRUE;
}

const struct import_remote_error *imap_source_get_error(struct imap_source *src)
{
	return &src->error;
}

bool imap_source_has_capability(struct imap_source *src,
				enum imap_source_capability cap)
{
	return (src->caps & cap) != 0;
}

const char *imap_source_get_ns_prefix(struct imap_source *src)
{
	return src->ns_prefix;
}

struct istream *imap_source_get_input(struct imap_source *src)
{
	return src->input;
}

static const char *imap_source_addr(struct imap_source *src)
{
	return t_strdup_printf("%s:%u", src->set.host, src->set.port);
}

/* The connection failed: classify by what we were doing and why. */
static void imap_source_set_io_error(struct imap_source *src, const char *why)
{
	enum import_remote_error_code code;

	src->disconnected = TRUE;
	if (src->cert_error != NULL) {
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_TLS_FAILED,
			t_strdup_printf("%s: %s", imap_source_addr(src),
					src->cert_error));
		return;
	}
	if (src->ssl_io != NULL && !ssl_iostream_is_handshaked(src->ssl_io)) {
		const char *ssl_error = ssl_iostream_get_last_error(src->ssl_io);

		imap_source_set_error(src, IMPORT_REMOTE_ERROR_TLS_FAILED,
			t_strdup_printf("%s: TLS handshake failed: %s",
					imap_source_addr(src),
					ssl_error != NULL ? ssl_error : why));
		return;
	}
	switch (src->phase) {
	case IMAP_SOURCE_PHASE_CONNECTING:
		code = IMPORT_REMOTE_ERROR_HOST_UNREACHABLE;
		break;
	case IMAP_SOURCE_PHASE_GREETING:
	case IMAP_SOURCE_PHASE_LOGIN:
	case IMAP_SOURCE_PHASE_READY:
	default:
		code = IMPORT_REMOTE_ERROR_SOURCE_ERROR;
		break;
	}
	imap_source_set_error(src, code, t_strdup_printf(
		"%s: %s", imap_source_addr(src), why));
}

static void imap_source_wait_ready(struct imap_source *src)
{
	src->wait_done = TRUE;
	io_loop_stop(src->ioloop);
}

static void imap_source_wait_timeout(struct imap_source *src)
{
	src->wait_timed_out = TRUE;
	io_loop_stop(src->ioloop);
}

static unsigned int imap_source_current_timeout(struct imap_source *src)
{
	return src->phase == IMAP_SOURCE_PHASE_READY ?
		src->set.cmd_timeout_msecs : src->set.connect_timeout_msecs;
}

/* Run the session's private ioloop until the fd is ready (for output, or
   input on the possibly TLS-wrapped stream) or the timeout hits. The loop is
   current only while waiting: everything else (local saves included) runs
   on the caller's ioloop, so nothing of theirs ends up in ours. A private
   loop is needed because the caller may itself be running inside its
   ioloop (doveadm-server), which can't be run recursively. */
static int imap_source_wait_io(struct imap_source *src, bool for_output)
{
	unsigned int msecs = imap_source_current_timeout(src);
	struct ioloop *prev_ioloop = current_ioloop;

	i_assert(src->io == NULL && src->to == NULL);

	io_loop_set_current(src->ioloop);
	src->wait_done = FALSE;
	src->wait_timed_out = FALSE;
	if (for_output || src->input == NULL)
		src->io = io_add(src->fd, IO_WRITE, imap_source_wait_ready, src);
	else
		src->io = io_add_istream(src->input, imap_source_wait_ready, src);
	src->to = timeout_add(msecs, imap_source_wait_timeout, src);
	io_loop_run(src->ioloop);
	io_remove(&src->io);
	timeout_remove(&src->to);
	io_loop_set_current(prev_ioloop);

	if (!src->wait_timed_out)
		return 0;

	src->disconnected = TRUE;
	switch (src->phase) {
	case IMAP_SOURCE_PHASE_CONNECTING:
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_CONNECT_TIMEOUT,
			t_strdup_printf("connect(%s) timed out after %u seconds",
					imap_source_addr(src), msecs/1000));
		break;
	case IMAP_SOURCE_PHASE_GREETING:
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_CONNECT_TIMEOUT,
			t_strdup_printf("%s: no server greeting in %u seconds",
					imap_source_addr(src), msecs/1000));
		break;
	case IMAP_SOURCE_PHASE_LOGIN:
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_CONNECT_TIMEOUT,
			t_strdup_printf("%s: login timed out after %u seconds",
					imap_source_addr(src), msecs/1000));
		break;
	case IMAP_SOURCE_PHASE_READY:
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_SOURCE_ERROR,
			t_strdup_printf("%s: server stopped answering for "
					"%u seconds", imap_source_addr(src),
					msecs/1000));
		break;
	}
	return -1;
}

int imap_source_wait_input(struct imap_source *src)
{
	if (src->failed)
		return -1;
	return imap_source_wait_io(src, FALSE);
}

static int imap_source_flush(struct imap_source *src)
{
	int ret;

	while ((ret = o_stream_flush(src->output)) == 0) {
		if (imap_source_wait_io(src, TRUE) < 0)
			return -1;
	}
	if (ret < 0) {
		imap_source_set_io_error(src, t_strdup_printf("write() failed: %s",
			o_stream_get_error(src->output)));
		return -1;
	}
	return 0;
}

/* Read more input into the buffer. Returns 0 when there is more, -1 on
   error (set). */
static int imap_source_read_more(struct imap_source *src)
{
	ssize_t ret;

	for (;;) {
		ret = i_stream_read(src->input);
		if (ret > 0)
			return 0;
		if (ret == -2) {
			imap_source_set_error(src, IMPORT_REMOTE_ERROR_SOURCE_ERROR,
				t_strdup_printf("%s: server sent a reply line "
						"longer than %u bytes",
						imap_source_addr(src),
						IMAP_SOURCE_MAX_LINE_LENGTH));
			return -1;
		}
		if (ret < 0) {
			imap_source_set_io_error(src, src->input->stream_errno == 0 ?
				"Server disconnected" :
				t_strdup_printf("Server disconnected: %s",
					i_stream_get_error(src->input)));
			return -1;
		}
		/* ret == 0: the server hasn't sent more yet. Our commands may
		   still be sitting in the output buffer. */
		if (o_stream_get_buffer_used_size(src->output) > 0 &&
		    imap_source_flush(src) < 0)
			return -1;
		if (imap_source_wait_io(src, FALSE) < 0)
			return -1;
	}
}

static void
imap_source_split_untagged(const struct imap_arg *args, uint32_t *num_r,
			   const char **name_r, const struct imap_arg **rest_r)
{
	const char *atom;

	*num_r = 0;
	*name_r = "";
	*rest_r = args;
	if (!imap_arg_get_atom(&args[0], &atom))
		return;
	if (str_to_uint32(atom, num_r) == 0 &&
	    imap_arg_get_atom(&args[1], name_r)) {
		*rest_r = args + 2;
		return;
	}
	*num_r = 0;
	*name_r = atom;
	*rest_r = args + 1;
}

static void imap_source_parse_capability_list(struct imap_source *src,
					      const char *const *names)
{
	unsigned int i;

	src->caps = 0;
	for (; *names != NULL; names++) {
		for (i = 0; i < N_ELEMENTS(capability_names); i++) {
			if (strcasecmp(*names, capability_names[i].name) == 0)
				src->caps |= capability_names[i].cap;
		}
	}
}

/* "[CAPABILITY a b c] text" inside an OK reply */
static void imap_source_parse_resp_text(struct imap_source *src,
					const char *text)
{
	const char *p;

	if (strncasecmp(text, "[CAPABILITY ", 12) != 0)
		return;
	p = strchr(text, ']');
	if (p == NULL)
		return;
	imap_source_parse_capability_list(src,
		t_strsplit_spaces(t_strdup_until(text + 12, p), " "));
}

static void imap_source_handle_capability(struct imap_source *src,
					  const struct imap_arg *args)
{
	ARRAY_TYPE(const_string) names;
	const char *atom;

	t_array_init(&names, 32);
	for (; args->type != IMAP_ARG_EOL; args++) {
		if (imap_arg_get_atom(args, &atom))
			array_push_back(&names, &atom);
	}
	array_append_zero(&names);
	imap_source_parse_capability_list(src, array_front(&names));
}

static void imap_source_parse_reply(const char *state, const char *text,
				    struct imap_source_reply *reply_r)
{
	const char *p;

	i_zero(reply_r);
	if (strcasecmp(state, "OK") == 0)
		reply_r->state = IMAP_SOURCE_REPLY_OK;
	else if (strcasecmp(state, "NO") == 0)
		reply_r->state = IMAP_SOURCE_REPLY_NO;
	else
		reply_r->state = IMAP_SOURCE_REPLY_BAD;
	reply_r->text = text;
	reply_r->resp_code = "";
	if (text[0] == '[') {
		p = text + 1;
		while (*p != '\0' && *p != ']' && *p != ' ')
			p++;
		reply_r->resp_code = t_str_ucase(t_strdup_until(text + 1, p));
	}
}

/* The reply's text: with IMAP_PARSE_FLAG_SERVER_TEXT a response code comes
   as its own atom before the rest of the text. */
const char *imap_source_args_text(const struct imap_arg *args)
{
	string_t *str = t_str_new(128);
	const char *text;

	for (; args->type != IMAP_ARG_EOL; args++) {
		if (!imap_arg_get_astring(args, &text))
			continue;
		if (str_len(str) > 0)
			str_append_c(str, ' ');
		str_append(str, text);
	}
	return str_c(str);
}

/* Read one reply line. Untagged ones are dispatched; for a tagged one (or a
   "+" continuation, tag "+") *tag_r is set. Returns 1 for tagged, 0 for
   untagged, -1 on error. */
static int
imap_source_read_line(struct imap_source *src,
		      imap_source_untagged_callback_t *untagged_callback,
		      imap_source_literal_callback_t *literal_callback,
		      void *context, const char **tag_r,
		      struct imap_source_reply *reply_r)
{
	const struct imap_arg *args, *rest;
	const unsigned char *data;
	const char *tag, *name;
	uint32_t num;
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
		/* continuation request: the rest of the line is its text */
		for (;;) {
			data = i_stream_get_data(src->input, &size);
			const unsigned char *lf = memchr(data, '\n', size);
			if (lf != NULL) {
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
			imap_source_set_error(src, IMPORT_REMOTE_ERROR_SOURCE_ERROR,
				t_strdup_printf("%s: invalid reply from server: "
					"%s (near '%s')", imap_source_addr(src),
					imap_parser_get_error(src->parser, NULL),
					str_sanitize(t_strndup(near,
						I_MIN(near_size, 40)), 40)));
			src->disconnected = TRUE;
			return -1;
		}
		if (!imap_parser_get_literal_size(src->parser, &literal_size))
			break;

		ret = 0;
		if (strcmp(tag, "*") == 0 && literal_callback != NULL) {
			imap_source_split_untagged(args, &num, &name, &rest);
			ret = literal_callback(num, name, rest, literal_size,
					       context);
			if (ret < 0)
				return -1;
		}
		if (ret == 0) {
			if (literal_size > IMAP_SOURCE_MAX_INLINE_LITERAL) {
				imap_source_set_error(src,
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
			imap_source_set_error(src, IMPORT_REMOTE_ERROR_SOURCE_ERROR,
				t_strdup_printf("%s: invalid reply from server: "
					"garbage after reply line",
					imap_source_addr(src)));
			src->disconnected = TRUE;
			return -1;
		}
		if (imap_source_read_more(src) < 0)
			return -1;
	}

	if (strcmp(tag, "*") != 0) {
		const char *state;

		if (!imap_arg_get_atom(&args[0], &state)) {
			imap_source_set_error(src, IMPORT_REMOTE_ERROR_SOURCE_ERROR,
				t_strdup_printf("%s: invalid tagged reply",
						imap_source_addr(src)));
			return -1;
		}
		imap_source_parse_reply(state, imap_source_args_text(&args[1]), reply_r);
		if (reply_r->state == IMAP_SOURCE_REPLY_OK)
			imap_source_parse_resp_text(src, reply_r->text);
		*tag_r = tag;
		return 1;
	}

	imap_source_split_untagged(args, &num, &name, &rest);
	if (strcasecmp(name, "CAPABILITY") == 0) {
		imap_source_handle_capability(src, rest);
	} else if (strcasecmp(name, "BYE") == 0 && !src->logging_out) {
		const char *text = imap_source_args_text(rest);
		struct imap_source_reply bye;

		imap_source_parse_reply("NO", text, &bye);
		src->disconnected = TRUE;
		if (src->phase == IMAP_SOURCE_PHASE_READY ||
		    src->phase == IMAP_SOURCE_PHASE_LOGIN) {
			imap_source_set_error(src,
				imap_source_reply_classify(&bye),
				t_strdup_printf("%s: server closed the "
					"connection: %s", imap_source_addr(src),
					text));
			return -1;
		}
		/* BYE as greeting: e.g. too many connections */
		imap_source_set_error(src,
			bye.resp_code[0] != '\0' ?
			imap_source_reply_classify(&bye) :
			IMPORT_REMOTE_ERROR_THROTTLED,
			t_strdup_printf("%s: server refused the connection: %s",
					imap_source_addr(src), text));
		return -1;
	} else if (strcasecmp(name, "OK") == 0 ||
		   strcasecmp(name, "PREAUTH") == 0) {
		imap_source_parse_resp_text(src, imap_source_args_text(rest));
	} else if (strcasecmp(name, "BAD") == 0) {
		/* the server thinks we broke the protocol: worth knowing */
		e_warning(src->event, "Server complained: %s",
			  str_sanitize(imap_source_args_text(rest), 200));
	}
	if (untagged_callback != NULL &&
	    untagged_callback(num, name, rest, context) < 0)
		return -1;
	return 0;
}

static bool str_needs_literal(const char *value)
{
	for (; *value != '\0'; value++) {
		if (*value == '\r' || *value == '\n' ||
		    (unsigned char)*value >= 0x80)
			return TRUE;
	}
	return FALSE;
}

void imap_source_append_string(struct imap_source *src, string_t *dest,
			       const char *value)
{
	if (!str_needs_literal(value) ||
	    !imap_source_has_capability(src, IMAP_SOURCE_CAP_LITERALPLUS)) {
		/* servers without LITERAL+ that send 8-bit names (UTF8=ACCEPT)
		   take them back quoted */
		str_append_c(dest, '"');
		for (; *value != '\0'; value++) {
			if (*value == '"' || *value == '\\')
				str_append_c(dest, '\\');
			if (*value != '\r' && *value != '\n')
				str_append_c(dest, *value);
		}
		str_append_c(dest, '"');
		return;
	}
	str_printfa(dest, "{%zu+}\r\n%s", strlen(value), value);
}

int imap_source_read_literal(struct imap_source *src, uoff_t size,
			     imap_source_literal_data_callback_t *callback,
			     void *context)
{
	const unsigned char *data;
	size_t avail;

	while (size > 0) {
		data = i_stream_get_data(src->input, &avail);
		if (avail == 0) {
			if (imap_source_read_more(src) < 0)
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

int imap_source_skip_literal(struct imap_source *src, uoff_t size)
{
	return imap_source_read_literal(src, size, NULL, NULL);
}

static const char *imap_source_command_add(struct imap_source *src)
{
	struct imap_source_command *command;

	command = array_append_space(&src->commands);
	command->tag = i_strdup_printf("A%u", ++src->tag_counter);
	return t_strdup(command->tag);
}

static struct imap_source_command *
imap_source_command_find(struct imap_source *src, const char *tag,
			 unsigned int *idx_r)
{
	struct imap_source_command *commands;
	unsigned int i, count;

	commands = array_get_modifiable(&src->commands, &count);
	for (i = 0; i < count; i++) {
		if (strcmp(commands[i].tag, tag) == 0) {
			*idx_r = i;
			return &commands[i];
		}
	}
	return NULL;
}

static void imap_source_command_free(struct imap_source_command *command)
{
	i_free(command->tag);
	i_free(command->resp_code);
	i_free(command->text);
}

/* Hand out a stored reply (copied to the data stack) and forget the
   command. */
static void
imap_source_command_finish(struct imap_source *src, unsigned int idx,
			   struct imap_source_reply *reply_r)
{
	struct imap_source_command *command =
		array_idx_modifiable(&src->commands, idx);

	i_zero(reply_r);
	reply_r->state = command->state;
	reply_r->resp_code = t_strdup(command->resp_code);
	reply_r->text = t_strdup(command->text);
	imap_source_command_free(command);
	array_delete(&src->commands, idx, 1);
}

const char *imap_source_send(struct imap_source *src, const char *cmd)
{
	const char *tag = imap_source_command_add(src);

	o_stream_nsend_str(src->output, t_strconcat(tag, " ", cmd, "\r\n", NULL));
	e_debug(src->event, "C: %s %s", tag,
		strncasecmp(cmd, "LOGIN ", 6) == 0 ? "LOGIN ..." : cmd);
	return tag;
}

int imap_source_wait(struct imap_source *src, const char *tag,
		     imap_source_untagged_callback_t *untagged_callback,
		     imap_source_literal_callback_t *literal_callback,
		     void *context, struct imap_source_reply *reply_r)
{
	struct imap_source_command *command;
	struct imap_source_reply reply;
	const char *reply_tag;
	unsigned int idx;
	int ret;

	if (src->failed)
		return -1;
	command = imap_source_command_find(src, tag, &idx);
	i_assert(command != NULL);
	if (imap_source_flush(src) < 0)
		return -1;
	while (!command->replied) {
		ret = imap_source_read_line(src, untagged_callback,
					    literal_callback, context,
					    &reply_tag, &reply);
		if (ret < 0)
			return -1;
		if (ret == 0)
			continue;
		command = imap_source_command_find(src, reply_tag, &idx);
		if (command == NULL || command->replied) {
			imap_source_set_error(src,
				IMPORT_REMOTE_ERROR_SOURCE_ERROR,
				t_strdup_printf("%s: invalid reply from server: "
					"unknown tag %s", imap_source_addr(src),
					str_sanitize(reply_tag, 20)));
			return -1;
		}
		command->replied = TRUE;
		command->state = reply.state;
		command->resp_code = i_strdup(reply.resp_code);
		command->text = i_strdup(reply.text);
		/* look up ours again: the array may have moved */
		command = imap_source_command_find(src, tag, &idx);
	}
	imap_source_command_finish(src, idx, reply_r);
	return 0;
}

int imap_source_cmd(struct imap_source *src, const char *cmd,
		    imap_source_untagged_callback_t *untagged_callback,
		    void *context, struct imap_source_reply *reply_r)
{
	const char *tag = imap_source_send(src, cmd);

	return imap_source_wait(src, tag, untagged_callback, NULL,
				context, reply_r);
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

static int imap_source_connect_ip(struct imap_source *src,
				  const struct ip_addr *ip, const char **error_r)
{
	int err;

	src->fd = net_connect_ip(ip, src->set.port, NULL);
	if (src->fd == -1) {
		*error_r = t_strdup_printf("connect(%s, %u) failed: %m",
					   net_ip2addr(ip), src->set.port);
		return -1;
	}
	if (imap_source_wait_io(src, TRUE) < 0) {
		/* timed out: error already set */
		return -2;
	}
	err = net_geterror(src->fd);
	if (err != 0) {
		*error_r = t_strdup_printf("connect(%s, %u) failed: %s",
					   net_ip2addr(ip), src->set.port,
					   strerror(err));
		i_close_fd(&src->fd);
		return -1;
	}
	src->ip = *ip;
	return 0;
}

static int imap_source_tcp_connect(struct imap_source *src)
{
	struct ip_addr *ips, ip;
	unsigned int i, ips_count;
	const char *error = NULL;
	int ret;

	if (net_addr2ip(src->set.host, &ip) == 0) {
		ips = &ip;
		ips_count = 1;
	} else {
		ret = net_gethostbyname(src->set.host, &ips, &ips_count);
		if (ret != 0) {
			imap_source_set_error(src,
				IMPORT_REMOTE_ERROR_HOST_UNREACHABLE,
				t_strdup_printf("Cannot resolve host name %s: %s",
						src->set.host,
						net_gethosterror(ret)));
			return -1;
		}
	}
	for (i = 0; i < ips_count; i++) {
		ret = imap_source_connect_ip(src, &ips[i], &error);
		if (ret == 0)
			return 0;
		if (ret == -2)
			return -1;
		e_debug(src->event, "%s", error);
	}
	i_assert(error != NULL);
	imap_source_set_error(src, IMPORT_REMOTE_ERROR_HOST_UNREACHABLE, error);
	return -1;
}

static int imap_source_ssl_handshaked(const char **error_r, void *context)
{
	struct imap_source *src = context;
	const char *error;

	if (ssl_iostream_check_cert_validity(src->ssl_io, src->set.host,
					     &error) == 0)
		return 0;
	if (src->set.tls_insecure) {
		e_warning(src->event, "Accepting an invalid certificate "
			  "(--tls-insecure): %s", error);
		return 0;
	}
	src->cert_error = p_strdup(src->pool, error);
	*error_r = error;
	return -1;
}

static int imap_source_ssl_start(struct imap_source *src)
{
	const char *error;

	if (ssl_iostream_client_context_cache_get(src->set.ssl_set,
						  &src->ssl_ctx, &error) < 0) {
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_TLS_FAILED,
			t_strdup_printf("Cannot initialize TLS: %s", error));
		return -1;
	}
	if (import_remote_compat_ssl_client_create(src->ssl_ctx, src->set.host,
			src->set.ssl_set, src->set.tls_insecure, src->event,
			&src->input, &src->output, &src->ssl_io, &error) < 0) {
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_TLS_FAILED,
			t_strdup_printf("Cannot start TLS: %s", error));
		return -1;
	}
	ssl_iostream_set_handshake_callback(src->ssl_io,
					    imap_source_ssl_handshaked, src);
	if (ssl_iostream_handshake(src->ssl_io) < 0) {
		imap_source_set_io_error(src, "TLS handshake failed");
		return -1;
	}
	imap_parser_set_streams(src->parser, src->input, NULL);
	return 0;
}

static int imap_source_read_greeting(struct imap_source *src)
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

	cmd = t_str_new(128);
	if (imap_source_has_capability(src, IMAP_SOURCE_CAP_SASL_IR)) {
		str_append(cmd, "AUTHENTICATE PLAIN ");
		str_append_str(cmd, b64);
		tag = imap_source_command_add(src);
		o_stream_nsend_str(src->output, t_strdup_printf(
			"%s %s\r\n", tag, str_c(cmd)));
		e_debug(src->event, "C: %s AUTHENTICATE PLAIN ...", tag);
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
		o_stream_nsend_str(src->output, t_strdup_printf(
			"%s\r\n", str_c(b64)));
	}
	safe_memset(str_c_modifiable(b64), 0, str_len(b64));
	if (str_len(cmd) > 0)
		safe_memset(str_c_modifiable(cmd), 0, str_len(cmd));

	if (imap_source_wait(src, tag, NULL, NULL, NULL, &reply) < 0)
		return -1;
	if (reply.state != IMAP_SOURCE_REPLY_OK)
		return imap_source_login_failed(src, &reply);
	return 0;
}

static int imap_source_login_cmd(struct imap_source *src)
{
	struct imap_source_reply reply;
	string_t *cmd;
	int ret;

	if (strpbrk(src->set.username, "\r\n") != NULL ||
	    strpbrk(src->set.password, "\r\n") != NULL) {
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_AUTH_FAILED,
			"The server supports only LOGIN, which cannot send a "
			"username or password containing line breaks");
		return -1;
	}
	if (str_needs_literal(src->set.password) &&
	    !imap_source_has_capability(src, IMAP_SOURCE_CAP_LITERALPLUS)) {
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_AUTH_FAILED,
			"The server offers neither AUTH=PLAIN nor LITERAL+, "
			"so a password with non-ASCII characters cannot be sent");
		return -1;
	}
	cmd = t_str_new(128);
	str_append(cmd, "LOGIN ");
	imap_source_append_string(src, cmd, src->set.username);
	str_append_c(cmd, ' ');
	imap_source_append_string(src, cmd, src->set.password);
	ret = imap_source_cmd(src, str_c(cmd), NULL, NULL, &reply);
	safe_memset(str_c_modifiable(cmd), 0, str_len(cmd));
	if (ret < 0)
		return -1;
	if (reply.state != IMAP_SOURCE_REPLY_OK)
		return imap_source_login_failed(src, &reply);
	return 0;
}

static int
imap_source_namespace_callback(uint32_t num ATTR_UNUSED, const char *name,
			       const struct imap_arg *args, void *context)
{
	struct imap_source *src = context;
	const struct imap_arg *personal, *first;
	const char *prefix, *sep;

	if (strcasecmp(name, "NAMESPACE") != 0)
		return 0;
	/* (("prefix" "sep") ...) for the personal namespace */
	if (!imap_arg_get_list(&args[0], &personal) ||
	    !imap_arg_get_list(&personal[0], &first) ||
	    !imap_arg_get_astring(&first[0], &prefix))
		return 0;
	src->ns_prefix = p_strdup(src->pool, prefix);
	if (imap_arg_get_nstring(&first[1], &sep) && sep != NULL &&
	    strlen(sep) == 1)
		src->ns_sep = sep[0];
	return 0;
}

static int imap_source_login(struct imap_source *src)
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
	if (imap_source_has_capability(src, IMAP_SOURCE_CAP_AUTH_PLAIN)) {
		if (imap_source_authenticate_plain(src) < 0)
			return -1;
	} else {
		if (imap_source_login_cmd(src) < 0)
			return -1;
	}
	src->phase = IMAP_SOURCE_PHASE_READY;

	/* capabilities may change after login; the OK usually says them */
	src->caps = 0;
	if (imap_source_cmd(src, "CAPABILITY", NULL, NULL, &reply) < 0)
		return -1;
	if (imap_source_has_capability(src, IMAP_SOURCE_CAP_NAMESPACE)) {
		if (imap_source_cmd(src, "NAMESPACE",
				    imap_source_namespace_callback, src,
				    &reply) < 0)
			return -1;
	}
	return 0;
}

int imap_source_connect(const struct imap_source_settings *set,
			struct event *event_parent,
			struct imap_source **src_r,
			struct import_remote_error *error_r)
{
	struct imap_source *src;
	struct ioloop *prev_ioloop;
	pool_t pool;

	pool = pool_alloconly_create("imap source", 2048);
	src = p_new(pool, struct imap_source, 1);
	src->pool = pool;
	src->set = *set;
	src->set.host = p_strdup(pool, set->host);
	src->set.username = p_strdup(pool, set->username);
	/* the password stays in the caller's memory only */
	src->fd = -1;
	src->ns_prefix = "";
	i_array_init(&src->commands, 8);
	src->event = event_create(event_parent);
	event_set_append_log_prefix(src->event, t_strdup_printf(
		"import-remote(%s): ", set->host));
	prev_ioloop = current_ioloop;
	src->ioloop = io_loop_create();
	io_loop_set_current(prev_ioloop);
	*src_r = src;

	src->phase = IMAP_SOURCE_PHASE_CONNECTING;
	if (imap_source_tcp_connect(src) < 0) {
		*error_r = src->error;
		return -1;
	}
	src->input = i_stream_create_fd(src->fd, IMAP_SOURCE_MAX_LINE_LENGTH);
	src->output = o_stream_create_fd(src->fd, SIZE_MAX);
	o_stream_set_no_error_handling(src->output, TRUE);
	src->parser = imap_parser_create(src->input, NULL,
					 IMAP_SOURCE_MAX_LINE_LENGTH, NULL);
	src->phase = IMAP_SOURCE_PHASE_GREETING;
	if (set->ssl == IMPORT_REMOTE_SSL_IMAPS &&
	    imap_source_ssl_start(src) < 0) {
		*error_r = src->error;
		return -1;
	}
	if (imap_source_read_greeting(src) < 0 ||
	    imap_source_login(src) < 0) {
		*error_r = src->error;
		return -1;
	}
	e_debug(src->event, "Logged in as %s (namespace prefix '%s', "
		"separator '%c')", set->username, src->ns_prefix,
		src->ns_sep == '\0' ? '?' : src->ns_sep);
	return 0;
}

void imap_source_deinit(struct imap_source **_src)
{
	struct imap_source *src = *_src;
	struct imap_source_reply reply;
	struct imap_source_command *command;
	struct ioloop *prev_ioloop;

	*_src = NULL;
	if (src->phase == IMAP_SOURCE_PHASE_READY && !src->disconnected &&
	    !src->failed) {
		/* polite LOGOUT; a failure here changes nothing */
		src->logging_out = TRUE;
		(void)imap_source_cmd(src, "LOGOUT", NULL, NULL, &reply);
	}
	array_foreach_modifiable(&src->commands, command)
		imap_source_command_free(command);
	array_free(&src->commands);
	if (src->parser != NULL)
		imap_parser_unref(&src->parser);
	if (src->ssl_io != NULL)
		ssl_iostream_destroy(&src->ssl_io);
	if (src->input != NULL)
		i_stream_destroy(&src->input);
	if (src->output != NULL)
		o_stream_destroy(&src->output);
	if (src->ssl_ctx != NULL)
		ssl_iostream_context_unref(&src->ssl_ctx);
	if (src->fd != -1)
		i_close_fd(&src->fd);
	prev_ioloop = current_ioloop;
	io_loop_set_current(src->ioloop);
	io_loop_destroy(&src->ioloop);
	io_loop_set_current(prev_ioloop);
	event_unref(&src->event);
	pool_unref(&src->pool);
}

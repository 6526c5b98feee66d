/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* The command queue: commands are tagged and buffered, sent together
   (pipelining), and their tagged replies, which may come in any order, are
   kept until asked for. */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "ostream.h"
#include "str-sanitize.h"
#include "safe-memset.h"
#include "imap-source-private.h"

bool imap_source_str_needs_literal(const char *value)
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
	if (!imap_source_str_needs_literal(value) ||
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

const char *imap_source_command_add(struct imap_source *src)
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

void imap_source_commands_free(struct imap_source *src)
{
	struct imap_source_command *command;

	array_foreach_modifiable(&src->commands, command)
		imap_source_command_free(command);
	array_free(&src->commands);
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

static int
imap_source_command_replied(struct imap_source *src, const char *reply_tag,
			    const struct imap_source_reply *reply);

/* Read a reply line; a tagged reply is stored with its command. Returns 0,
   or -1 on error. */
static int
imap_source_wait_line(struct imap_source *src,
		      imap_source_untagged_callback_t *untagged_callback,
		      imap_source_literal_callback_t *literal_callback,
		      void *context)
{
	struct imap_source_reply reply;
	const char *reply_tag;
	int ret;

	ret = imap_source_read_line(src, untagged_callback, literal_callback,
				    context, &reply_tag, &reply);
	if (ret <= 0)
		return ret;
	return imap_source_command_replied(src, reply_tag, &reply);
}

/* A tagged reply arrived: store it with its command. Returns 0, or -1 if
   no command waits for it (error set). */
static int
imap_source_command_replied(struct imap_source *src, const char *reply_tag,
			    const struct imap_source_reply *reply)
{
	struct imap_source_command *command;
	unsigned int idx;

	command = imap_source_command_find(src, reply_tag, &idx);
	if (command == NULL || command->replied) {
		/* out of sync with the server */
		imap_source_set_retryable_error(src,
			IMPORT_REMOTE_ERROR_SOURCE_ERROR,
			t_strdup_printf("%s: invalid reply from server: "
				"unknown tag %s", imap_source_addr(src),
				str_sanitize(reply_tag, 20)));
		return -1;
	}
	if (command->forgotten) {
		imap_source_command_free(command);
		array_delete(&src->commands, idx, 1);
		return 0;
	}
	command->replied = TRUE;
	command->state = reply->state;
	command->resp_code = i_strdup(reply->resp_code);
	command->text = i_strdup(reply->text);
	return 0;
}

const char *imap_source_send_secret(struct imap_source *src,
				    const char *verb, string_t *args)
{
	const char *tag = imap_source_command_add(src);
	const struct const_iovec iov[] = {
		{ tag, strlen(tag) },
		{ " ", 1 },
		{ verb, strlen(verb) },
		{ " ", 1 },
		{ str_data(args), str_len(args) },
		{ "\r\n", 2 },
	};

	/* straight into the output buffer: no copy of it is left behind */
	o_stream_nsendv(src->output, iov, N_ELEMENTS(iov));
	e_debug(src->event, "C: %s %s ...", tag, verb);
	safe_memset(buffer_get_modifiable_data(args, NULL), 0, str_len(args));
	str_truncate(args, 0);
	return tag;
}

int imap_source_wait(struct imap_source *src, const char *tag,
		     imap_source_untagged_callback_t *untagged_callback,
		     imap_source_literal_callback_t *literal_callback,
		     void *context, struct imap_source_reply *reply_r)
{
	return imap_source_wait_until(src, tag, untagged_callback,
				      literal_callback, NULL, context,
				      reply_r) < 0 ? -1 : 0;
}

int imap_source_wait_until(struct imap_source *src, const char *tag,
			   imap_source_untagged_callback_t *untagged_callback,
			   imap_source_literal_callback_t *literal_callback,
			   bool (*stop)(void *context), void *context,
			   struct imap_source_reply *reply_r)
{
	struct imap_source_command *command;
	unsigned int idx;
	int ret;

	if (src->failed)
		return -1;
	command = imap_source_command_find(src, tag, &idx);
	i_assert(command != NULL);
	if (imap_source_flush(src) < 0)
		return -1;
	while (!command->replied) {
		if (stop != NULL && stop(context))
			return 0;
		/* a line's data stack is freed with it: a server may send
		   any number of untagged replies before the tagged one */
		T_BEGIN {
			ret = imap_source_wait_line(src, untagged_callback,
						    literal_callback, context);
		} T_END;
		if (ret < 0)
			return -1;
		/* look up ours again: the array may have moved */
		command = imap_source_command_find(src, tag, &idx);
	}
	imap_source_command_finish(src, idx, reply_r);
	return 1;
}

void imap_source_forget(struct imap_source *src, const char *tag)
{
	struct imap_source_command *command;
	unsigned int idx;

	command = imap_source_command_find(src, tag, &idx);
	i_assert(command != NULL);
	if (!command->replied) {
		command->forgotten = TRUE;
		return;
	}
	imap_source_command_free(command);
	array_delete(&src->commands, idx, 1);
}

int imap_source_wait_continue(struct imap_source *src, const char *tag,
			      string_t *challenge,
			      struct imap_source_reply *reply_r)
{
	struct imap_source_command *command;
	struct imap_source_reply reply;
	const char *reply_tag;
	unsigned int idx;
	int ret = 0;

	if (src->failed)
		return -1;
	command = imap_source_command_find(src, tag, &idx);
	i_assert(command != NULL);
	if (imap_source_flush(src) < 0)
		return -1;
	while (!command->replied) {
		T_BEGIN {
			ret = imap_source_read_line(src, NULL, NULL, NULL,
						    &reply_tag, &reply);
			if (ret > 0 && strcmp(reply_tag, "+") == 0) {
				str_truncate(challenge, 0);
				str_append(challenge, reply.text);
				ret = 2;
			} else if (ret > 0) {
				ret = imap_source_command_replied(src,
						reply_tag, &reply);
			}
		} T_END;
		if (ret < 0)
			return -1;
		if (ret == 2)
			return 1;
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

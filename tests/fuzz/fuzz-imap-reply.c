/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* libFuzzer: the source server's replies, read as the session reads them
   (import/imap-reader.c through lib-imap's parser, import/imap-reply.c
   into typed replies), line after line until the input ends or the
   session gives up. FETCH literals are streamed aside as the import
   streams BODY[], read inline, or skipped, as the reply's sequence number
   says. Every field of every typed reply is read. */

#include "fuzz-common.h"
#include "istream.h"
#include "imap-parser.h"
#include "imap-source-private.h"

struct fuzz_context {
	struct imap_source *src;
	size_t total;
};

static void fuzz_str(struct fuzz_context *ctx, const char *str)
{
	if (str != NULL)
		ctx->total += strlen(str);
}

static void fuzz_strs(struct fuzz_context *ctx, const char *const *strs)
{
	if (strs == NULL)
		return;
	for (; *strs != NULL; strs++)
		fuzz_str(ctx, *strs);
}

static void fuzz_data(struct fuzz_context *ctx, const unsigned char *data,
		      size_t size)
{
	/* (each byte is looked at) */
	if (size > 0)
		ctx->total += data[0] + data[size - 1] +
			(memchr(data, '\n', size) != NULL ? 1 : 0);
}

static int fuzz_untagged(const struct imap_reply *reply, void *context)
{
	struct fuzz_context *ctx = context;
	unsigned int i;

	fuzz_str(ctx, reply->name);
	switch (reply->type) {
	case IMAP_REPLY_OTHER:
		break;
	case IMAP_REPLY_RESP:
		fuzz_str(ctx, reply->resp.state);
		fuzz_str(ctx, reply->resp.code);
		fuzz_str(ctx, reply->resp.code_arg);
		fuzz_str(ctx, reply->resp.text);
		break;
	case IMAP_REPLY_CAPABILITY:
		fuzz_strs(ctx, reply->capabilities);
		break;
	case IMAP_REPLY_NAMESPACE:
		if (reply->namespace_.have_personal)
			fuzz_str(ctx, reply->namespace_.prefix);
		break;
	case IMAP_REPLY_LIST:
		fuzz_str(ctx, reply->list.mailbox);
		ctx->total += reply->list.separator;
		break;
	case IMAP_REPLY_STATUS:
		fuzz_str(ctx, reply->status.mailbox);
		break;
	case IMAP_REPLY_EXISTS:
		break;
	case IMAP_REPLY_SEARCH:
		for (i = 0; i < reply->search.count; i++)
			ctx->total += reply->search.numbers[i];
		break;
	case IMAP_REPLY_ESEARCH:
		break;
	case IMAP_REPLY_FETCH:
		if (reply->fetch.have_flags)
			fuzz_strs(ctx, reply->fetch.keywords);
		if (reply->fetch.have_header_fields &&
		    reply->fetch.header_fields != NULL)
			fuzz_data(ctx, reply->fetch.header_fields,
				  reply->fetch.header_fields_size);
		if (reply->fetch.have_header)
			fuzz_data(ctx, reply->fetch.header,
				  reply->fetch.header_size);
		if (reply->fetch.have_gm_labels)
			fuzz_strs(ctx, reply->fetch.gm_labels);
		break;
	}
	return 0;
}

static void
fuzz_literal_data(const unsigned char *data, size_t size, void *context)
{
	fuzz_data(context, data, size);
}

static int
fuzz_literal(const struct imap_reply_fetch_literal *lit, void *context)
{
	struct fuzz_context *ctx = context;

	switch (lit->seq % 3) {
	case 0:
		/* streamed, as BODY[] is */
		if (imap_source_read_literal(ctx->src, lit->size, "message",
					     fuzz_literal_data, ctx) < 0)
			return -1;
		return 1;
	case 1:
		/* read into memory by the parser */
		return 0;
	default:
		if (imap_source_skip_literal(ctx->src, lit->size) < 0)
			return -1;
		return 1;
	}
}

static void fuzz_one(const unsigned char *data, size_t size)
{
	const struct imap_parser_params parser_params = {
		.list_count_limit = IMAP_SOURCE_MAX_LISTS_PER_LINE,
	};
	struct fuzz_context ctx;
	struct imap_source *src;
	struct imap_source_reply reply;
	const char *tag, *code, *code_arg;
	pool_t pool;
	int ret;

	/* a session as imap_source_connect() leaves it, reading from the
	   input instead of a socket (which ends where the input does) */
	pool = pool_alloconly_create("fuzz imap source", 2048);
	src = p_new(pool, struct imap_source, 1);
	src->pool = pool;
	src->set.host = "imap.example.org";
	src->set.port = 993;
	src->fd = -1;
	src->ns_prefix = "";
	src->phase = IMAP_SOURCE_PHASE_READY;
	src->event = event_create(NULL);
	p_array_init(&src->commands, pool, 4);
	src->input = i_stream_create_from_data(data, size);
	src->parser = imap_parser_create(src->input, NULL,
					 IMAP_SOURCE_MAX_LINE_LENGTH,
					 &parser_params);
	i_zero(&ctx);
	ctx.src = src;

	do {
		ret = imap_source_read_line(src, fuzz_untagged, fuzz_literal,
					    &ctx, &tag, &reply);
		if (ret > 0 && strcmp(tag, "+") != 0) {
			fuzz_str(&ctx, reply.resp_code);
			fuzz_str(&ctx, reply.text);
			(void)imap_source_reply_classify(&reply);
			imap_reply_split_resp_code(reply.text, &code, &code_arg);
			fuzz_str(&ctx, code);
			fuzz_str(&ctx, code_arg);
		}
	} while (ret >= 0);
	/* the error a session ends with */
	i_assert(src->failed);
	fuzz_str(&ctx, src->error.detail);

	imap_parser_unref(&src->parser);
	i_stream_unref(&src->input);
	event_unref(&src->event);
	pool_unref(&pool);
}

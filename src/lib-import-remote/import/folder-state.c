/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* The folder context's own state: a chunk emptied for the next list, and
   the bodies in hand (the one arriving, the one to resume) thrown away */

#include "lib.h"
#include "array.h"
#include "ostream.h"
#include "folder-import-private.h"

unsigned int import_keyword_set_hash(const char *const *set)
{
	unsigned int hash = 0;

	for (; *set != NULL; set++)
		hash = hash * 31 + str_hash(*set);
	return hash;
}

int import_keyword_set_cmp(const char *const *set1, const char *const *set2)
{
	for (; *set1 != NULL && *set2 != NULL; set1++, set2++) {
		if (strcmp(*set1, *set2) != 0)
			return 1;
	}
	return *set1 == *set2 ? 0 : 1;
}

void import_chunk_reset(struct import_chunk *chunk, unsigned int count)
{
	if (chunk->pool == NULL)
		chunk->pool = pool_alloconly_create("import chunk", 16384);
	else {
		hash_table_destroy(&chunk->keyword_sets);
		p_clear(chunk->pool);
	}
	p_array_init(&chunk->msgs, chunk->pool, count);
	hash_table_create(&chunk->keyword_sets, chunk->pool, 0,
			  import_keyword_set_hash, import_keyword_set_cmp);
	p_array_init(&chunk->matches, chunk->pool, 16);
	p_array_init(&chunk->header_tags, chunk->pool, 4);
	chunk->state = IMPORT_CHUNK_DONE;
	chunk->search_tag = NULL;
	chunk->meta_tag = NULL;
	chunk->bodies_tag = NULL;
	chunk->first_seq = chunk->last_seq = 0;
	chunk->listed_max_seq = 0;
}

void folder_import_pending_drop(struct folder_import_ctx *ctx)
{
	ctx->pending_msg = NULL;
	ctx->pending_overlap = 0;
	ctx->pending_overlap_bad = FALSE;
	if (ctx->pending_output != NULL) {
		/* thrown away: its write errors no longer matter */
		o_stream_abort(ctx->pending_output);
		o_stream_destroy(&ctx->pending_output);
	}
}

/* The bytes kept to resume a body are thrown away: it is fetched whole */
void folder_import_resume_drop(struct folder_import_ctx *ctx)
{
	ctx->resume_msg = NULL;
	if (ctx->resume_output != NULL) {
		o_stream_abort(ctx->resume_output);
		o_stream_destroy(&ctx->resume_output);
	}
}

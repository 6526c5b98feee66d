/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "istream.h"
#include "ostream.h"
#include "iostream-temp.h"
#include "time-util.h"
#include "sha1.h"
#include "mail-namespace.h"
#include "mail-storage.h"
#include "mail-user.h"
#include "import-remote-compat.h"
#include "imap-source.h"
#include "message-check.h"
#include "message-saver.h"
#include "dedup-index.h"
#include "import-checkpoint.h"
#include "folder-plan.h"
#include "folder-import.h"
#include "import-run-context.h"

#include <time.h>

/* One UID FETCH body command asks for at most this many messages; all of a
   chunk's commands are sent at once (pipelined). While pacing for a
   server that says [THROTTLED], fewer, one command at a time. */
#define FOLDER_IMPORT_BODY_CMD_UIDS 500
#define FOLDER_IMPORT_PACED_CMD_UIDS 50
/* the longest pause between body fetches that "OK [THROTTLED]" brings */
#define FOLDER_IMPORT_MAX_PACE_MSECS 2000
/* A message that was being sent each time the connection broke, this many
   times in a row without a byte more of it arriving than before (the
   breaks are tied to it: the same place every time), is given up: one
   message that can't get through doesn't use up every reconnect. It is
   tried once more at the end of the run, then recorded as failed. A break
   after which the message got further does not count: it is resumed from
   where it stopped (BODY.PEEK[]<offset.length>). */
#define FOLDER_IMPORT_MAX_LOSSES 3
/* A resumed body is asked for from this many bytes before where it
   stopped: the server must send those again as they were, or the partial
   fetch is not trusted (the message is fetched whole again) */
#define FOLDER_IMPORT_RESUME_OVERLAP 4096
/* Local saves failing this many times in a row: the destination itself is
   broken, not the messages */
#define FOLDER_IMPORT_MAX_DEST_FAILURES 10
/* A message is received whole before it is saved: in memory up to this
   size, in an (unlinked) temporary file beyond */
#define FOLDER_IMPORT_MESSAGE_MEMORY_MAX (1024*1024)
/* A literal of a message may be at most twice its RFC822.SIZE and this
   much (a server may count LF line ends and send CRLF): a bigger one is
   refused unread. A header (BODY[HEADER]) also at most this big. */
#define FOLDER_IMPORT_LITERAL_SLACK (64*1024)
#define FOLDER_IMPORT_MAX_HEADER_SIZE (8*1024*1024)

#define IMPORT_MAIL_FLAGS_MASK \
	(MAIL_ANSWERED | MAIL_FLAGGED | MAIL_DELETED | MAIL_SEEN | MAIL_DRAFT)

enum import_msg_action {
	IMPORT_MSG_UNDECIDED = 0,
	IMPORT_MSG_IMPORT,
	IMPORT_MSG_DUPLICATE,
	IMPORT_MSG_FILTERED,
	/* handled by an earlier run (checkpoint) */
	IMPORT_MSG_DONE_BEFORE,
};

/* Where a message to import stands */
enum import_msg_state {
	/* its body is still to be fetched */
	IMPORT_MSG_STATE_WANTED = 0,
	/* saved, waiting for the commit */
	IMPORT_MSG_STATE_SAVED,
	IMPORT_MSG_STATE_COMMITTED,
	/* given up and recorded as failed */
	IMPORT_MSG_STATE_FAILED,
};

/* The server's bytes looked wrong (a size other than RFC822.SIZE, NUL
   bytes): they are fetched again, and kept only if the same bytes come */
enum import_msg_check {
	IMPORT_MSG_CHECK_NONE = 0,
	/* the next fetch only takes the digest */
	IMPORT_MSG_CHECK_DIGEST,
	/* the next fetch saves it, kept if it matches the digest */
	IMPORT_MSG_CHECK_COMPARE,
};

struct import_msg {
	uint32_t seq, uid;
	/* RFC822.SIZE, and the size really saved */
	uoff_t size, saved_size;
	time_t received_date;
	int received_tz;
	enum mail_flags flags;
	const char *const *keywords;
	/* for the failed message report; NULL if none */
	const char *message_id;
	/* identity for dedup; NULL while unknown */
	const char *key;
	enum import_msg_action action;
	enum import_msg_state state;
	enum import_msg_check check;
	/* what the earlier fetch sent (IMPORT_MSG_CHECK_COMPARE) */
	uoff_t check_size;
	unsigned char *check_digest;
	/* the connection broke while its body was on the way, without it
	   getting further than furthest (bytes of it received at best) */
	unsigned int losses;
	uoff_t furthest;
	/* its partial fetches were answered wrong: fetched whole only */
	bool no_resume;
	/* given up here, tried again at the end of the run */
	bool deferred;
	/* the date filter's SEARCH matched it */
	bool date_match;
	/* its body arrived in this round of fetches */
	bool sent;
	/* to be asked for alone (a NO or no answer for it in a group), and
	   asked for alone in this round */
	bool alone, asked_alone;
	/* the server's NO when asked for alone */
	const char *refused;
	/* DUPLICATE of this message in the destination folder */
	uint32_t dest_uid;
	/* Gmail: one of its labels is a folder that is copied */
	bool gmail_covered;
};

enum import_chunk_state {
	/* nothing in it (or all of it is handled) */
	IMPORT_CHUNK_DONE = 0,
	/* its message list arrived */
	IMPORT_CHUNK_LISTED,
	/* every message has its identity */
	IMPORT_CHUNK_HASHED,
	/* what to copy is decided and counted */
	IMPORT_CHUNK_DECIDED,
};

struct import_chunk {
	pool_t pool;
	enum import_chunk_state state;
	ARRAY(struct import_msg) msgs;
	/* sequences the date filter's SEARCH returned */
	ARRAY_TYPE(uint32_t) matches;
	const char *search_tag, *meta_tag;
	/* the sequences its list asks for: a FETCH or SEARCH reply about
	   another one is not ours (unsolicited) and is not kept */
	uint32_t first_seq, last_seq;
	/* the highest sequence the list's replies had (before any was left
	   out as listed before a reconnect), 0 if none */
	uint32_t listed_max_seq;
};

/* A UID FETCH of bodies on its way: which messages it asked for */
struct folder_fetch_cmd {
	const char *tag;
	unsigned int first, count;
};

struct folder_import_ctx {
	struct import_run_ctx *run;
	const struct folder_plan_entry *entry;
	struct import_run_folder *result;
	struct mailbox *box;
	struct message_saver *saver;
	struct dedup_index *index;
	bool own_index, index_ready;
	/* Gmail without labels: what this folder copies is remembered here,
	   so that All Mail leaves it out (even in a dry run) */
	struct dedup_index *gmail_index;
	/* Gmail's Starred or Important: list and count, copy nothing */
	bool count_only;
	/* ask for each message's X-GM-LABELS */
	bool want_labels;

	uint32_t exists, uidvalidity, uidnext;
	/* from SEARCH RETURN (MIN), or UID FETCH n:* (UID) without ESEARCH:
	   first sequence after a UID */
	uint32_t min_seq;
	bool have_min_seq;
	/* UID FETCH n:* (UID) is looking for min_seq above this UID */
	bool finding_first;
	uint32_t find_above_uid;
	/* from FETCH n (UID), when finding the place again */
	uint32_t probe_seq, probe_uid;
	/* checkpoint: everything up to this UID is already there */
	uint32_t done_uid;

	/* the next sequence to list (64 bits: never wraps after the highest
	   sequence, 2^32-1), and the last message listed */
	uint64_t next_first;
	uint32_t listed_uid, listed_seq;
	/* after a reconnect: lists drop what is not above this UID (it was
	   listed before) */
	uint32_t list_floor_uid;

	/* the chunk being decided and saved, and the one being listed */
	struct import_chunk chunks[2];
	struct import_chunk *current, *next;

	/* where temporary copies of messages go */
	const char *temp_prefix;
	/* the message whose body is being received: it is saved when its
	   FETCH reply is complete (a literal shorter than announced shows
	   only then), never half of it */
	struct import_msg *pending_msg;
	uint32_t pending_seq;
	struct ostream *pending_output;
	struct message_check pending_check;
	/* the size of the whole body the pending literal is (part of) */
	uoff_t pending_total;
	/* the pending literal is a resumed body's rest: the first
	   pending_overlap bytes must equal the tail of what was received */
	uoff_t pending_overlap, pending_overlap_pos;
	bool pending_overlap_bad;
	/* the last FOLDER_IMPORT_RESUME_OVERLAP bytes received of the pending
	   body */
	buffer_t *pending_tail;

	/* a body the connection broke off, to be resumed: the bytes received
	   so far (its temporary copy, still open), their check and tail */
	struct import_msg *resume_msg;
	struct ostream *resume_output;
	struct message_check resume_check;
	uoff_t resume_total;
	buffer_t *resume_tail;
	/* the retry at the end of the run: only these messages */
	bool retrying;
	/* a NO [THROTTLED] answer in the current round of fetches */
	const char *throttled;
	/* local saves that failed in a row */
	unsigned int dest_failures;

	/* header hash of the message whose BODY[HEADER] is being read */
	struct sha1_ctxt hdr_hash;
};

static const char *const imap_month_names[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* IMAP SEARCH date (date only, RFC 3501 "date") */
static const char *imap_search_date(time_t t)
{
	struct tm *tm = gmtime(&t);

	return t_strdup_printf("%d-%s-%04d", tm->tm_mday,
			       imap_month_names[tm->tm_mon], tm->tm_year + 1900);
}

static void import_chunk_reset(struct import_chunk *chunk, unsigned int count)
{
	if (chunk->pool == NULL)
		chunk->pool = pool_alloconly_create("import chunk", 16384);
	else
		p_clear(chunk->pool);
	p_array_init(&chunk->msgs, chunk->pool, count);
	p_array_init(&chunk->matches, chunk->pool, 16);
	chunk->state = IMPORT_CHUNK_DONE;
	chunk->search_tag = NULL;
	chunk->meta_tag = NULL;
	chunk->first_seq = chunk->last_seq = 0;
	chunk->listed_max_seq = 0;
}

/* Is seq one that the list on its way asked for? */
static bool import_chunk_listing(const struct import_chunk *chunk, uint32_t seq)
{
	return chunk->meta_tag != NULL &&
		seq >= chunk->first_seq && seq <= chunk->last_seq;
}

static bool folder_import_date_filter(struct folder_import_ctx *ctx)
{
	return ctx->run->since != 0 || ctx->run->before != 0;
}

/* Are message identities needed: for duplicates, or for Gmail's All Mail */
static bool folder_import_want_keys(struct folder_import_ctx *ctx)
{
	return ctx->index != NULL || ctx->gmail_index != NULL;
}

static struct imap_source *folder_import_src(struct folder_import_ctx *ctx)
{
	/* not kept: a reconnect replaces it */
	return ctx->run->src;
}

/* --- finding messages --- */

static int import_msg_uid_cmp(const uint32_t *uid, const struct import_msg *msg)
{
	if (*uid < msg->uid)
		return -1;
	return *uid > msg->uid ? 1 : 0;
}

static int import_msg_seq_cmp(const uint32_t *seq, const struct import_msg *msg)
{
	if (*seq < msg->seq)
		return -1;
	return *seq > msg->seq ? 1 : 0;
}

static struct import_msg *
folder_import_find_uid(struct import_chunk *chunk, uint32_t uid)
{
	return import_remote_array_bsearch_modifiable(&chunk->msgs, &uid,
						      import_msg_uid_cmp);
}

static struct import_msg *
folder_import_find_seq(struct import_chunk *chunk, uint32_t seq)
{
	return import_remote_array_bsearch_modifiable(&chunk->msgs, &seq,
						      import_msg_seq_cmp);
}

/* --- what happens to a message --- */

static void folder_import_resume_drop(struct folder_import_ctx *ctx);
static void folder_import_checkpoint_move(struct folder_import_ctx *ctx);

static void folder_import_failed(struct folder_import_ctx *ctx,
				 struct import_msg *msg, const char *reason)
{
	struct import_failed_message failed;

	i_assert(msg->state == IMPORT_MSG_STATE_WANTED);

	if (ctx->resume_msg == msg)
		folder_import_resume_drop(ctx);
	i_zero(&failed);
	failed.folder = ctx->entry->display_name;
	failed.uid = msg->uid;
	failed.size = msg->size;
	failed.message_id = msg->message_id == NULL ? "" : msg->message_id;
	failed.received = msg->received_date == (time_t)-1 ? 0 :
		msg->received_date;
	failed.reason = reason;
	import_run_ctx_message_failed(ctx->run, &failed);
	msg->state = IMPORT_MSG_STATE_FAILED;
	ctx->result->failed++;
	ctx->run->progress->msgs_done++;
}

/* The connection broke at the same place of the message each time: it is
   tried again at the end of the run (folder_import_retry_deferred()) */
static void folder_import_defer(struct folder_import_ctx *ctx,
				struct import_msg *msg, const char *reason)
{
	struct import_run_ctx *run = ctx->run;
	struct import_run_deferred *def;

	i_assert(msg->state == IMPORT_MSG_STATE_WANTED);

	if (ctx->retrying) {
		/* this was the second chance */
		folder_import_failed(ctx, msg, reason);
		return;
	}
	if (!array_is_created(&run->deferred))
		p_array_init(&run->deferred, run->pool, 4);
	def = array_append_space(&run->deferred);
	def->entry = ctx->entry;
	def->result = ctx->result;
	def->uidvalidity = ctx->uidvalidity;
	def->uid = msg->uid;
	def->size = msg->size;
	def->furthest = msg->furthest;
	def->received_date = msg->received_date;
	def->received_tz = msg->received_tz;
	def->flags = msg->flags;
	def->keywords = msg->keywords == NULL ? NULL :
		(const char *const *)p_strarray_dup(run->pool, msg->keywords);
	def->message_id = p_strdup(run->pool, msg->message_id);
	def->key = p_strdup(run->pool, msg->key);
	def->reason = p_strdup(run->pool, reason);
	e_warning(run->user->event, "import-remote: Message UID %u in %s: %s: "
		  "tried again at the end of the run", msg->uid,
		  ctx->entry->display_name, reason);
	msg->state = IMPORT_MSG_STATE_FAILED;
	msg->deferred = TRUE;
	run->progress->msgs_done++;
}

/* Everything saved and not committed was rolled back: fetch it again */
static void folder_import_rolled_back(struct folder_import_ctx *ctx)
{
	struct import_progress *progress = ctx->run->progress;
	struct import_msg *msg;

	array_foreach_modifiable(&ctx->current->msgs, msg) {
		if (msg->state != IMPORT_MSG_STATE_SAVED)
			continue;
		msg->state = IMPORT_MSG_STATE_WANTED;
		progress->msgs_done--;
		progress->bytes_done -= msg->saved_size;
	}
}

/* Commit what is saved: only now is it imported. Returns 0, or -1 (the
   run's error set: the destination failed). */
static int folder_import_commit(struct folder_import_ctx *ctx)
{
	struct import_progress *progress = ctx->run->progress;
	struct import_remote_error error;
	struct import_msg *msg;

	if (ctx->saver == NULL)
		return 0;
	i_zero(&error);
	if (message_saver_commit(ctx->saver, &error) < 0) {
		folder_import_rolled_back(ctx);
		import_run_ctx_set_error(ctx->run, error.code, error.detail);
		return -1;
	}
	array_foreach_modifiable(&ctx->current->msgs, msg) {
		if (msg->state != IMPORT_MSG_STATE_SAVED)
			continue;
		msg->state = IMPORT_MSG_STATE_COMMITTED;
		ctx->result->imported++;
		progress->imported++;
		progress->bytes_imported += msg->saved_size;
	}
	return 0;
}

/* A local save failed and everything uncommitted was rolled back. Over
   quota: the import stops. Otherwise the destination refused this one
   message: it is recorded and skipped, unless the destination keeps
   failing. Returns 0 to go on, -1 to stop (the run's error set). */
static int
folder_import_save_failed(struct folder_import_ctx *ctx, struct import_msg *msg,
			  const struct import_remote_error *error)
{
	folder_import_rolled_back(ctx);
	if (error->code == IMPORT_REMOTE_ERROR_QUOTA_EXCEEDED ||
	    ++ctx->dest_failures >= FOLDER_IMPORT_MAX_DEST_FAILURES) {
		import_run_ctx_set_error(ctx->run, error->code, error->detail);
		return -1;
	}
	if (msg->state == IMPORT_MSG_STATE_WANTED)
		folder_import_failed(ctx, msg, error->detail);
	return 0;
}

static void folder_import_pending_drop(struct folder_import_ctx *ctx)
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
static void folder_import_resume_drop(struct folder_import_ctx *ctx)
{
	ctx->resume_msg = NULL;
	if (ctx->resume_output != NULL) {
		o_stream_abort(ctx->resume_output);
		o_stream_destroy(&ctx->resume_output);
	}
}

/* The connection broke while the pending body came: keep what arrived of
   it, to ask for the rest only. A body whose literal is not RFC822.SIZE
   long, or that is being compared, is fetched whole again. */
static void folder_import_pending_keep(struct folder_import_ctx *ctx)
{
	struct import_msg *msg = ctx->pending_msg;
	buffer_t *tail;

	folder_import_resume_drop(ctx);
	if (ctx->pending_overlap_bad) {
		/* what it sent again differed: no more partial fetches */
		msg->no_resume = TRUE;
	}
	if (msg->no_resume || msg->check != IMPORT_MSG_CHECK_NONE ||
	    ctx->pending_total != msg->size || ctx->pending_overlap_bad ||
	    ctx->pending_output == NULL || ctx->pending_check.size == 0 ||
	    ctx->pending_check.want_digest) {
		folder_import_pending_drop(ctx);
		return;
	}
	ctx->resume_msg = msg;
	ctx->resume_output = ctx->pending_output;
	ctx->resume_check = ctx->pending_check;
	ctx->resume_total = ctx->pending_total;
	/* swapped: the pending tail buffer is reused for the next body */
	tail = ctx->resume_tail;
	ctx->resume_tail = ctx->pending_tail;
	ctx->pending_tail = tail;
	ctx->pending_output = NULL;
	folder_import_pending_drop(ctx);
	e_debug(ctx->run->user->event, "import-remote: Message UID %u in %s: "
		"%"PRIuUOFF_T" of %"PRIuUOFF_T" bytes received before the "
		"connection broke: the rest is asked for after the reconnect",
		msg->uid, ctx->entry->display_name, ctx->resume_check.size,
		ctx->resume_total);
}

/* The digest of a message in hand (when it was not taken on the way) */
static int folder_import_digest_input(struct istream *input,
				      unsigned char digest_r[SHA256_RESULTLEN])
{
	struct message_check check;
	const unsigned char *data;
	size_t size;

	message_check_init(&check, TRUE);
	while (i_stream_read_more(input, &data, &size) > 0) {
		message_check_more(&check, data, size);
		i_stream_skip(input, size);
	}
	if (input->stream_errno != 0)
		return -1;
	message_check_digest(&check, digest_r);
	i_stream_seek(input, 0);
	return 0;
}

/* The server sent bytes that look wrong: keep their digest, and fetch the
   message again to compare */
static int folder_import_compare_later(struct folder_import_ctx *ctx,
				       struct import_msg *msg,
				       struct istream *input)
{
	msg->check_size = ctx->pending_check.size;
	msg->check_digest = p_malloc(ctx->current->pool, SHA256_RESULTLEN);
	if (ctx->pending_check.want_digest)
		message_check_digest(&ctx->pending_check, msg->check_digest);
	else if (folder_import_digest_input(input, msg->check_digest) < 0) {
		import_run_ctx_set_error(ctx->run, IMPORT_REMOTE_ERROR_DEST_ERROR,
			t_strdup_printf("Reading the temporary copy of message "
					"UID %u failed: %s", msg->uid,
					i_stream_get_error(input)));
		return -1;
	}
	msg->check = IMPORT_MSG_CHECK_COMPARE;
	e_debug(ctx->run->user->event, "import-remote: Message UID %u in %s: "
		"%"PRIuUOFF_T" bytes (RFC822.SIZE %"PRIuUOFF_T"), "
		"%"PRIuUOFF_T" NUL bytes: fetching it again to compare",
		msg->uid, ctx->entry->display_name, ctx->pending_check.size,
		msg->size, ctx->pending_check.nul_count);
	return 0;
}

/* The body was sent twice: the same bytes (the server's RFC822.SIZE is
   just wrong, or the message really has NUL bytes) are kept, other bytes
   mean corruption. Returns TRUE to keep it. */
static bool folder_import_compare(struct folder_import_ctx *ctx,
				  struct import_msg *msg)
{
	unsigned char digest[SHA256_RESULTLEN];

	message_check_digest(&ctx->pending_check, digest);
	if (ctx->pending_check.size == msg->check_size &&
	    memcmp(digest, msg->check_digest, sizeof(digest)) == 0) {
		e_warning(ctx->run->user->event, "import-remote: "
			  "Message UID %u in %s: the server sent the same "
			  "%"PRIuUOFF_T" bytes twice%s (its RFC822.SIZE says "
			  "%"PRIuUOFF_T"): kept as sent",
			  msg->uid, ctx->entry->display_name,
			  ctx->pending_check.size,
			  ctx->pending_check.nul_count > 0 ?
			  ", NUL bytes included" : "", msg->size);
		return TRUE;
	}
	if (ctx->pending_check.size == msg->size &&
	    ctx->pending_check.nul_count == 0) {
		/* the first copy was wrong (its size), this one is exactly
		   what RFC822.SIZE announced and has nothing wrong in it */
		e_warning(ctx->run->user->event, "import-remote: "
			  "Message UID %u in %s: the server first sent %"
			  PRIuUOFF_T" bytes, then exactly its RFC822.SIZE of %"
			  PRIuUOFF_T": the second copy kept",
			  msg->uid, ctx->entry->display_name, msg->check_size,
			  msg->size);
		return TRUE;
	}
	folder_import_failed(ctx, msg, t_strdup_printf(
		"the server sent different bytes each time (%"PRIuUOFF_T", "
		"then %"PRIuUOFF_T" bytes; RFC822.SIZE %"PRIuUOFF_T"): corrupt",
		msg->check_size, ctx->pending_check.size, msg->size));
	return FALSE;
}

/* The message's FETCH reply is complete (whole: it is the message asked
   for, and parsed): save it, drop it, or fetch it again. Returns 0, or -1
   to stop. */
static int folder_import_pending_done(struct folder_import_ctx *ctx, bool whole)
{
	struct import_msg *msg = ctx->pending_msg;
	struct import_progress *progress = ctx->run->progress;
	struct import_remote_error error;
	struct message_saver_mail mail;
	struct istream *input;
	bool suspicious;
	int ret = 0;

	if (!whole || ctx->pending_output == NULL) {
		folder_import_pending_drop(ctx);
		return 0;
	}
	if (ctx->pending_overlap_bad ||
	    ctx->pending_overlap_pos < ctx->pending_overlap) {
		/* the bytes sent again differ from what came before: the
		   server's partial fetches can't be trusted, nothing is
		   spliced. Fetched whole in the next round. */
		e_warning(ctx->run->user->event, "import-remote: Message UID "
			  "%u in %s: the server's answer to a partial fetch "
			  "does not match the bytes it sent before: not used, "
			  "the message is fetched whole again", msg->uid,
			  ctx->entry->display_name);
		msg->no_resume = TRUE;
		folder_import_pending_drop(ctx);
		return 0;
	}
	ctx->pending_msg = NULL;
	if (o_stream_finish(ctx->pending_output) < 0) {
		import_run_ctx_set_error(ctx->run, IMPORT_REMOTE_ERROR_DEST_ERROR,
			t_strdup_printf("Writing the temporary copy of message "
					"UID %u failed: %s", msg->uid,
					o_stream_get_error(ctx->pending_output)));
		o_stream_destroy(&ctx->pending_output);
		return -1;
	}
	input = iostream_temp_finish(&ctx->pending_output, IO_BLOCK_SIZE);
	suspicious = ctx->pending_check.size != msg->size ||
		ctx->pending_check.nul_count > 0;

	if (msg->check == IMPORT_MSG_CHECK_COMPARE) {
		if (!folder_import_compare(ctx, msg)) {
			i_stream_unref(&input);
			return 0;
		}
	} else if (suspicious) {
		/* IMAP allows no NUL bytes in a message, and RFC822.SIZE is
		   its size: see whether the server sends the same again */
		ret = folder_import_compare_later(ctx, msg, input);
		i_stream_unref(&input);
		return ret;
	}

	i_zero(&mail);
	mail.flags = msg->flags;
	mail.keywords = msg->keywords;
	mail.received_date = msg->received_date;
	mail.received_tz_offset = msg->received_tz;
	i_zero(&error);
	if (message_saver_save(ctx->saver, &mail, input, &error) < 0) {
		i_stream_unref(&input);
		return folder_import_save_failed(ctx, msg, &error);
	}
	i_stream_unref(&input);
	ctx->dest_failures = 0;
	msg->state = IMPORT_MSG_STATE_SAVED;
	msg->saved_size = ctx->pending_check.size;
	if (msg->saved_size != msg->size) {
		/* RFC822.SIZE and the body disagree: the body is the truth */
		progress->bytes_total += msg->saved_size;
		progress->bytes_total -= I_MIN(msg->size, progress->bytes_total);
	}
	progress->msgs_done++;
	progress->bytes_done += msg->saved_size;
	if (message_saver_want_commit(ctx->saver)) {
		if (folder_import_commit(ctx) < 0)
			return -1;
		/* a run killed later need not fetch these again */
		folder_import_checkpoint_move(ctx);
	}
	if (!import_run_ctx_progress(ctx->run, FALSE))
		return -1;
	return 0;
}

/* The session failed: nothing of the message on its way is kept (it was
   not saved yet), everything saved is committed. Returns 0, or -1 if the
   commit failed. */
static int folder_import_connection_lost(struct folder_import_ctx *ctx)
{
	struct import_msg *msg = ctx->pending_msg, *m;
	uoff_t received;

	if (msg != NULL && msg->state == IMPORT_MSG_STATE_WANTED) {
		/* how far the message got: further than ever before, and the
		   break is the link's, not the message's */
		received = ctx->pending_check.size;
		if (received > msg->furthest) {
			msg->furthest = received;
			msg->losses = 0;
			ctx->run->resumed_further++;
		} else {
			msg->losses++;
		}
		folder_import_pending_keep(ctx);
	}
	/* what a broken connection sent proves nothing about a message:
	   a digest taken from it is forgotten */
	array_foreach_modifiable(&ctx->current->msgs, m)
		m->check = IMPORT_MSG_CHECK_NONE;
	folder_import_pending_drop(ctx);
	if (msg != NULL && msg->state == IMPORT_MSG_STATE_WANTED &&
	    msg->losses >= FOLDER_IMPORT_MAX_LOSSES) {
		if (ctx->resume_msg == msg)
			folder_import_resume_drop(ctx);
		folder_import_defer(ctx, msg, t_strdup_printf(
			"the connection broke %u times while the server sent "
			"it, each time at the same place (%"PRIuUOFF_T" of "
			"%"PRIuUOFF_T" bytes)", msg->losses, msg->furthest,
			msg->size));
	}
	return folder_import_commit(ctx);
}

/* --- replies --- */

static const char *const *
import_chunk_keywords(struct import_chunk *chunk, const char *const *keywords,
		      bool important)
{
	ARRAY_TYPE(const_string) all;

	if (important && (keywords == NULL ||
			  !str_array_icase_find(keywords, "$Important"))) {
		/* Gmail's Important label as the keyword of RFC 8457 */
		t_array_init(&all, 8);
		if (keywords != NULL) {
			array_append(&all, keywords,
				     str_array_length(keywords));
		}
		array_push_back(&all, (const char *const []){ "$Important" });
		array_append_zero(&all);
		keywords = array_front(&all);
	}
	if (keywords == NULL)
		return NULL;
	return (const char *const *)p_strarray_dup(chunk->pool, keywords);
}

/* Gmail: in All Mail, does a label of the message name a folder that is
   copied (then that folder brings it)? And is it Important? */
static void
folder_import_gmail_labels(struct folder_import_ctx *ctx,
			   const char *const *labels, bool *covered_r,
			   bool *important_r)
{
	*covered_r = FALSE;
	*important_r = FALSE;
	for (; *labels != NULL; labels++) {
		if (strcasecmp(*labels, "\\Important") == 0)
			*important_r = TRUE;
		if (ctx->entry->action == FOLDER_PLAN_COPY_REMAINING &&
		    folder_plan_labels_contain(ctx->run->gmail_copied_labels,
					       *labels))
			*covered_r = TRUE;
	}
}

/* A message of the list being fetched (ctx->next), or a header sent as a
   quoted string for one of the current chunk */
static void
folder_import_handle_fetch(struct folder_import_ctx *ctx, uint32_t seq,
			   const struct imap_reply_fetch *fetch)
{
	struct import_msg msg, *old;
	const char *msgid = NULL;
	bool important = FALSE;

	if (fetch->have_header && fetch->uid != 0 &&
	    (old = folder_import_find_uid(ctx->current, fetch->uid)) != NULL &&
	    old->key == NULL) {
		/* a header sent as a quoted string, not a literal */
		unsigned char hash[SHA1_RESULTLEN];

		sha1_init(&ctx->hdr_hash);
		dedup_header_hash_more(&ctx->hdr_hash, fetch->header,
				       fetch->header_size);
		sha1_result(&ctx->hdr_hash, hash);
		old->key = p_strdup(ctx->current->pool,
				    dedup_key_header_hash(hash, old->size));
	}
	if (ctx->finding_first) {
		/* UID FETCH n:* (UID): the messages above a UID ("*" also
		   matches the last message, however old) */
		if (fetch->uid > ctx->find_above_uid &&
		    (!ctx->have_min_seq || seq < ctx->min_seq)) {
			ctx->min_seq = seq;
			ctx->have_min_seq = TRUE;
		}
		return;
	}
	/* only the message list FETCH has both; body and header FETCHes and
	   flag change notifications don't carry RFC822.SIZE */
	if (fetch->uid == 0 || !fetch->have_size)
		return;
	if (!import_chunk_listing(ctx->next, seq)) {
		/* unsolicited: not a message the list asked for */
		return;
	}
	if (array_count(&ctx->next->msgs) > 0) {
		const struct import_msg *prev = array_back(&ctx->next->msgs);

		/* each message once, in order (they are looked up by both) */
		if (seq <= prev->seq || fetch->uid <= prev->uid)
			return;
	}
	ctx->next->listed_max_seq = seq;
	if (fetch->uid <= ctx->list_floor_uid) {
		/* listed before the connection was lost */
		return;
	}

	i_zero(&msg);
	msg.seq = seq;
	msg.uid = fetch->uid;
	msg.size = fetch->size;
	msg.received_date = (time_t)-1;
	if (fetch->have_internaldate) {
		msg.received_date = fetch->internaldate;
		msg.received_tz = fetch->internaldate_tz_offset;
	}
	msg.flags = fetch->flags & IMPORT_MAIL_FLAGS_MASK;
	if (ctx->want_labels && fetch->have_gm_labels) {
		folder_import_gmail_labels(ctx, fetch->gm_labels,
					   &msg.gmail_covered, &important);
	}
	msg.keywords = import_chunk_keywords(ctx->next, fetch->keywords,
					     important);
	if (fetch->header_fields != NULL) {
		msgid = dedup_message_id_from_header(fetch->header_fields,
						     fetch->header_fields_size);
	}
	if (msgid != NULL) {
		msg.message_id = p_strdup(ctx->next->pool, msgid);
		msg.key = p_strdup(ctx->next->pool,
				   dedup_key_message_id(msgid, msg.size));
	}
	array_push_back(&ctx->next->msgs, &msg);
}

static int
folder_import_untagged(const struct imap_reply *reply, void *context)
{
	struct folder_import_ctx *ctx = context;
	unsigned int i;

	if (ctx->pending_msg != NULL && reply->num == ctx->pending_seq &&
	    strcasecmp(reply->name, "FETCH") == 0) {
		/* the body's FETCH reply is complete; one that does not
		   parse, or is about another message, is not kept */
		bool whole = reply->type == IMAP_REPLY_FETCH &&
			(reply->fetch.uid == 0 ||
			 reply->fetch.uid == ctx->pending_msg->uid);

		if (folder_import_pending_done(ctx, whole) < 0)
			return -1;
	}
	switch (reply->type) {
	case IMAP_REPLY_EXISTS:
		ctx->exists = reply->num;
		break;
	case IMAP_REPLY_RESP:
		if (strcmp(reply->resp.state, "OK") != 0)
			break;
		if (strcmp(reply->resp.code, "UIDVALIDITY") == 0) {
			if (str_to_uint32(reply->resp.code_arg,
					  &ctx->uidvalidity) < 0)
				ctx->uidvalidity = 0;
		} else if (strcmp(reply->resp.code, "UIDNEXT") == 0) {
			if (str_to_uint32(reply->resp.code_arg,
					  &ctx->uidnext) < 0)
				ctx->uidnext = 0;
		}
		break;
	case IMAP_REPLY_FETCH:
		if (reply->num == ctx->probe_seq && reply->fetch.uid != 0)
			ctx->probe_uid = reply->fetch.uid;
		folder_import_handle_fetch(ctx, reply->num, &reply->fetch);
		break;
	case IMAP_REPLY_SEARCH:
		if (ctx->next->search_tag == NULL)
			break;
		for (i = 0; i < reply->search.count; i++) {
			uint32_t seq = reply->search.numbers[i];

			/* only what was searched, at most once each */
			if (seq < ctx->next->first_seq ||
			    seq > ctx->next->last_seq ||
			    array_count(&ctx->next->matches) >
			    ctx->next->last_seq - ctx->next->first_seq)
				continue;
			array_push_back(&ctx->next->matches, &seq);
		}
		break;
	case IMAP_REPLY_ESEARCH:
		/* (a sequence is 1 or more) */
		if (reply->esearch.have_min && reply->esearch.min > 0) {
			ctx->min_seq = reply->esearch.min;
			ctx->have_min_seq = TRUE;
		}
		break;
	default:
		break;
	}
	return 0;
}

/* --- literals: bodies (saved) and headers (hashed) --- */

/* Keep the last FOLDER_IMPORT_RESUME_OVERLAP bytes of the body */
static void folder_import_tail_more(buffer_t *tail, const unsigned char *data,
				    size_t size)
{
	size_t keep;

	if (size >= FOLDER_IMPORT_RESUME_OVERLAP) {
		buffer_set_used_size(tail, 0);
		buffer_append(tail, data + size - FOLDER_IMPORT_RESUME_OVERLAP,
			      FOLDER_IMPORT_RESUME_OVERLAP);
		return;
	}
	if (tail->used + size > FOLDER_IMPORT_RESUME_OVERLAP) {
		keep = FOLDER_IMPORT_RESUME_OVERLAP - size;
		buffer_delete(tail, 0, tail->used - keep);
	}
	buffer_append(tail, data, size);
}

static void folder_import_pending_data(const unsigned char *data, size_t size,
				       void *context)
{
	struct folder_import_ctx *ctx = context;
	const unsigned char *tail;
	size_t n;

	if (ctx->pending_overlap_pos < ctx->pending_overlap) {
		/* a resumed body: what is sent again must be what came */
		n = I_MIN(size, ctx->pending_overlap - ctx->pending_overlap_pos);
		tail = CONST_PTR_OFFSET(ctx->pending_tail->data,
			ctx->pending_tail->used - ctx->pending_overlap +
			ctx->pending_overlap_pos);
		if (memcmp(tail, data, n) != 0)
			ctx->pending_overlap_bad = TRUE;
		ctx->pending_overlap_pos += n;
		data += n;
		size -= n;
	}
	if (size == 0 || ctx->pending_overlap_bad)
		return;
	message_check_more(&ctx->pending_check, data, size);
	o_stream_nsend(ctx->pending_output, data, size);
	folder_import_tail_more(ctx->pending_tail, data, size);
}

/* The rest of a body the connection broke off (BODY[]<origin>): appended
   to what came before, if the server answered the partial fetch as asked:
   from the byte asked for (the overlap, sent again the same), to the end.
   Anything else (the whole body, another place or length) is not trusted:
   the body is fetched whole again. Returns FALSE if the literal is to be
   read as the whole body. */
static bool
folder_import_resume_start(struct folder_import_ctx *ctx, struct import_msg *msg,
			   const struct imap_reply_fetch_literal *lit,
			   bool *skip_r)
{
	uoff_t have = ctx->resume_check.size;
	uoff_t overlap = I_MIN(have, FOLDER_IMPORT_RESUME_OVERLAP);

	*skip_r = FALSE;
	if (!lit->have_origin) {
		/* the whole body: a server that ignores partial fetches */
		e_debug(ctx->run->user->event, "import-remote: Message UID %u "
			"in %s: the server answered a partial fetch with the "
			"whole body: fetched whole from now on", msg->uid,
			ctx->entry->display_name);
		msg->no_resume = TRUE;
		folder_import_resume_drop(ctx);
		return FALSE;
	}
	if (lit->origin != have - overlap ||
	    lit->size != ctx->resume_total - lit->origin) {
		e_warning(ctx->run->user->event, "import-remote: Message UID "
			  "%u in %s: the server answered the partial fetch of "
			  "bytes %"PRIuUOFF_T"-%"PRIuUOFF_T" with %"PRIuUOFF_T
			  " bytes from %"PRIuUOFF_T": not used, the message "
			  "is fetched whole again", msg->uid,
			  ctx->entry->display_name, have - overlap,
			  ctx->resume_total, lit->size, lit->origin);
		msg->no_resume = TRUE;
		folder_import_resume_drop(ctx);
		*skip_r = TRUE;
		return TRUE;
	}
	ctx->pending_output = ctx->resume_output;
	ctx->resume_output = NULL;
	ctx->pending_check = ctx->resume_check;
	ctx->pending_total = ctx->resume_total;
	buffer_set_used_size(ctx->pending_tail, 0);
	buffer_append_buf(ctx->pending_tail, ctx->resume_tail, 0, SIZE_MAX);
	ctx->pending_overlap = overlap;
	ctx->pending_overlap_pos = 0;
	ctx->pending_overlap_bad = FALSE;
	ctx->resume_msg = NULL;
	return TRUE;
}

/* Receive a body whole (or the rest of one); it is saved when its FETCH
   reply is complete */
static int
folder_import_receive_body(struct folder_import_ctx *ctx, struct import_msg *msg,
			   const struct imap_reply_fetch_literal *lit)
{
	const char *what;
	bool skip = FALSE;

	msg->sent = TRUE;
	what = t_strdup_printf("message UID %u in %s", msg->uid,
			       ctx->entry->display_name);
	if (ctx->resume_msg == msg &&
	    folder_import_resume_start(ctx, msg, lit, &skip)) {
		if (skip) {
			/* read and forgotten; asked for whole next */
			return imap_source_read_literal(folder_import_src(ctx),
				lit->size, what, NULL, NULL) < 0 ? -1 : 1;
		}
	} else {
		if (ctx->resume_msg == msg)
			folder_import_resume_drop(ctx);
		if (lit->have_origin && lit->origin != 0) {
			/* a part of the body when the whole was asked for:
			   nothing to do with it (and asking again would get
			   the same) */
			if (imap_source_read_literal(folder_import_src(ctx),
					lit->size, what, NULL, NULL) < 0)
				return -1;
			folder_import_failed(ctx, msg, t_strdup_printf(
				"asked for whole, the server sent a part of it "
				"(BODY[]<%"PRIuUOFF_T">): corrupt", lit->origin));
			return 1;
		}
		/* a digest is wanted to compare two fetches, and where the
		   size already says that the server's bytes look wrong */
		message_check_init(&ctx->pending_check,
				   msg->check == IMPORT_MSG_CHECK_COMPARE ||
				   lit->size != msg->size);
		ctx->pending_output = iostream_temp_create_sized(
			ctx->temp_prefix, 0, "import-remote message",
			FOLDER_IMPORT_MESSAGE_MEMORY_MAX);
		ctx->pending_total = lit->size;
		ctx->pending_overlap = ctx->pending_overlap_pos = 0;
		ctx->pending_overlap_bad = FALSE;
		buffer_set_used_size(ctx->pending_tail, 0);
	}
	ctx->pending_msg = msg;
	ctx->pending_seq = lit->seq;
	if (imap_source_read_literal(folder_import_src(ctx), lit->size, what,
				     folder_import_pending_data, ctx) < 0)
		return -1;
	return 1;
}

static void folder_import_hash_data(const unsigned char *data, size_t size,
				    void *context)
{
	struct folder_import_ctx *ctx = context;

	dedup_header_hash_more(&ctx->hdr_hash, data, size);
}

static int
folder_import_hash_header(struct folder_import_ctx *ctx, struct import_msg *msg,
			  uoff_t size)
{
	unsigned char hash[SHA1_RESULTLEN];

	sha1_init(&ctx->hdr_hash);
	if (imap_source_read_literal(folder_import_src(ctx), size, NULL,
				     folder_import_hash_data, ctx) < 0)
		return -1;
	sha1_result(&ctx->hdr_hash, hash);
	msg->key = p_strdup(ctx->current->pool,
			    dedup_key_header_hash(hash, msg->size));
	return 1;
}

/* The most bytes a literal of a message of RFC822.SIZE size may hold */
static uoff_t folder_import_literal_max(uoff_t size)
{
	if (size > (UOFF_T_MAX - FOLDER_IMPORT_LITERAL_SLACK) / 2)
		return UOFF_T_MAX;
	return size * 2 + FOLDER_IMPORT_LITERAL_SLACK;
}

/* A literal far bigger than the message it is for is not read: the
   message is given up as corrupt, the connection dropped (the literal
   can't be skipped). Returns -1. */
static int
folder_import_refuse_literal(struct folder_import_ctx *ctx,
			     struct import_msg *msg, const char *what,
			     uoff_t size)
{
	const char *reason;

	reason = t_strdup_printf("the server announced a %"PRIuUOFF_T"-byte "
		"%s for it (RFC822.SIZE %"PRIuUOFF_T"): refused unread, "
		"corrupt", size, what, msg->size);
	if (msg->state == IMPORT_MSG_STATE_WANTED)
		folder_import_failed(ctx, msg, reason);
	return imap_source_refuse_literal(folder_import_src(ctx),
		t_strdup_printf("message UID %u in %s: %s", msg->uid,
				ctx->entry->display_name, reason));
}

/* The body coming is no bigger than what the user's quota can still
   take (with Dovecot's default quota_grace of 10 %% of the limit): it is
   received whole (a temporary file) before the save, where the quota
   plugin would refuse it only after it was all written. Returns FALSE
   with the run's error set if it does not fit. */
static bool
folder_import_fits_quota(struct folder_import_ctx *ctx, struct import_msg *msg,
			 uoff_t size)
{
	struct import_run_ctx *run = ctx->run;
	uint64_t used = run->progress->bytes_done, left;

	if (!run->quota_limited)
		return TRUE;
	left = run->quota_remaining > used ? run->quota_remaining - used : 0;
	if (size <= left || size - left <= run->quota_grace)
		return TRUE;
	import_run_ctx_set_error(run, IMPORT_REMOTE_ERROR_QUOTA_EXCEEDED,
		t_strdup_printf("Message UID %u in %s (%"PRIuUOFF_T" bytes) "
			"does not fit in the %s left in the user's quota: not "
			"downloaded", msg->uid, ctx->entry->display_name, size,
			import_progress_format_size(left)));
	return FALSE;
}

static int
folder_import_literal(const struct imap_reply_fetch_literal *lit, void *context)
{
	struct folder_import_ctx *ctx = context;
	struct import_msg *msg;
	bool body;

	switch (lit->section) {
	case IMAP_FETCH_SECTION_BODY:
		body = TRUE;
		break;
	case IMAP_FETCH_SECTION_HEADER:
		body = FALSE;
		break;
	default:
		return 0;
	}
	if (lit->uid != 0)
		msg = folder_import_find_uid(ctx->current, lit->uid);
	else {
		/* UID comes after the literal on some servers */
		msg = folder_import_find_seq(ctx->current, lit->seq);
	}
	if (msg == NULL || ctx->pending_msg != NULL ||
	    (body && (msg->state != IMPORT_MSG_STATE_WANTED ||
		      msg->action != IMPORT_MSG_IMPORT)) ||
	    (!body && msg->key != NULL)) {
		/* not asked for (or twice): throw it away (a big one
		   ends the connection) */
		return imap_source_skip_literal(folder_import_src(ctx),
						lit->size) < 0 ? -1 : 1;
	}
	if (!body) {
		if (lit->size > FOLDER_IMPORT_MAX_HEADER_SIZE ||
		    lit->size > folder_import_literal_max(msg->size)) {
			return folder_import_refuse_literal(ctx, msg, "header",
							    lit->size);
		}
		return folder_import_hash_header(ctx, msg, lit->size);
	}
	if (lit->size > folder_import_literal_max(msg->size))
		return folder_import_refuse_literal(ctx, msg, "body", lit->size);
	if (!folder_import_fits_quota(ctx, msg, lit->size))
		return -1;
	return folder_import_receive_body(ctx, msg, lit);
}

/* --- sending commands --- */

/* List the next chunk: [SEARCH for the date filter and] FETCH the message
   list. Sequence-number commands: they are always sent before the chunk's
   UID commands, never behind them (see folder_import_chunks()). Returns
   FALSE if there is nothing more to list. */
static bool folder_import_send_list(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	struct imap_source *src = folder_import_src(ctx);
	string_t *cmd = t_str_new(128);
	uint32_t first, last;

	if (ctx->next_first > ctx->exists)
		return FALSE;
	first = ctx->next_first;
	last = I_MIN(ctx->exists, ctx->next_first + run->set->fetch_chunk - 1);
	ctx->next_first = (uint64_t)last + 1;

	import_chunk_reset(ctx->next, last - first + 1);
	ctx->next->first_seq = first;
	ctx->next->last_seq = last;
	if (folder_import_date_filter(ctx)) {
		str_printfa(cmd, "SEARCH %u:%u", first, last);
		if (run->since != 0)
			str_printfa(cmd, " SINCE %s", imap_search_date(run->since));
		if (run->before != 0)
			str_printfa(cmd, " BEFORE %s", imap_search_date(run->before));
		/* (kept beyond this chunk's data stack frame) */
		ctx->next->search_tag = p_strdup(ctx->next->pool,
			imap_source_send(src, str_c(cmd)));
		str_truncate(cmd, 0);
	}
	if (ctx->count_only)
		str_printfa(cmd, "FETCH %u:%u (UID RFC822.SIZE)", first, last);
	else {
		str_printfa(cmd, "FETCH %u:%u (UID RFC822.SIZE INTERNALDATE "
			    "FLAGS%s%s)", first, last,
			    ctx->want_labels ? " X-GM-LABELS" : "",
			    !folder_import_want_keys(ctx) ? "" :
			    " BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]");
	}
	ctx->next->meta_tag = p_strdup(ctx->next->pool,
				       imap_source_send(src, str_c(cmd)));
	return TRUE;
}

static int
folder_import_check_reply(struct folder_import_ctx *ctx, const char *what,
			  const struct imap_source_reply *reply)
{
	if (reply->state == IMAP_SOURCE_REPLY_OK)
		return 0;
	import_run_ctx_set_error(ctx->run, imap_source_reply_classify(reply),
		t_strdup_printf("%s of folder %s failed: %s", what,
				ctx->entry->display_name, reply->text));
	return -1;
}

/* Send UID FETCH BODY.PEEK[HEADER] for the chunk's messages without an
   identity, FOLDER_IMPORT_BODY_CMD_UIDS a command, all at once. */
static void
folder_import_send_header_fetches(struct folder_import_ctx *ctx,
				  ARRAY_TYPE(const_string) *tags)
{
	struct imap_source *src = folder_import_src(ctx);
	const struct import_msg *msg;
	string_t *uids = t_str_new(1024);
	unsigned int n = 0;
	const char *tag;

	array_foreach(&ctx->current->msgs, msg) {
		if (msg->key != NULL || msg->action != IMPORT_MSG_UNDECIDED ||
		    msg->state == IMPORT_MSG_STATE_FAILED)
			continue;
		if (str_len(uids) > 0)
			str_append_c(uids, ',');
		str_printfa(uids, "%u", msg->uid);
		if (++n == FOLDER_IMPORT_BODY_CMD_UIDS) {
			tag = imap_source_send(src, t_strdup_printf(
				"UID FETCH %s (BODY.PEEK[HEADER])", str_c(uids)));
			array_push_back(tags, &tag);
			str_truncate(uids, 0);
			n = 0;
		}
	}
	if (n > 0) {
		tag = imap_source_send(src, t_strdup_printf(
			"UID FETCH %s (BODY.PEEK[HEADER])", str_c(uids)));
		array_push_back(tags, &tag);
	}
}

static int folder_import_fetch_headers(struct folder_import_ctx *ctx)
{
	struct imap_source_reply reply;
	ARRAY_TYPE(const_string) tags;
	const char *tag;

	t_array_init(&tags, 8);
	folder_import_send_header_fetches(ctx, &tags);
	array_foreach_elem(&tags, tag) {
		if (imap_source_wait(folder_import_src(ctx), tag,
				     folder_import_untagged,
				     folder_import_literal, ctx, &reply) < 0)
			return -1;
		if (folder_import_check_reply(ctx, "Fetching message headers",
					      &reply) < 0)
			return -1;
	}
	return 0;
}

/* Gmail says "OK Success [THROTTLED]" when it delivered but wants us to
   slow down; the code may come after the text */
static bool imap_reply_is_throttled_ok(const struct imap_source_reply *reply)
{
	return reply->state == IMAP_SOURCE_REPLY_OK &&
		(strcmp(reply->resp_code, "THROTTLED") == 0 ||
		 strstr(t_str_ucase(reply->text), "[THROTTLED]") != NULL);
}

/* "OK [THROTTLED]": the server delivered, and asks for a slower pace. The
   pause between body fetches starts short (a quarter of
   --throttle-delay), grows by half while the server keeps asking, never
   beyond FOLDER_IMPORT_MAX_PACE_MSECS (the fetches themselves are smaller
   meanwhile), and halves each time a fetch goes through without it: a
   few seconds for a handful of such replies, not minutes. */
static void folder_import_pace(struct folder_import_ctx *ctx, bool throttled)
{
	struct import_run_ctx *run = ctx->run;
	unsigned int first = I_MAX(run->set->throttle_delay_msecs / 4, 1);
	unsigned int max = I_MAX(FOLDER_IMPORT_MAX_PACE_MSECS, first);

	if (throttled) {
		if (run->pace_msecs == 0) {
			run->pace_msecs = first;
			e_warning(run->user->event, "import-remote: Source "
				  "server asks to slow down ([THROTTLED]): "
				  "pacing the downloads");
		} else {
			run->pace_msecs = I_MIN(run->pace_msecs +
						run->pace_msecs / 2, max);
		}
	} else if (run->pace_msecs > 0) {
		/* it went through: faster again */
		run->pace_msecs /= 2;
		if (run->pace_msecs < first / 2)
			run->pace_msecs = 0;
	}
}

/* Wait for one body command's reply and judge it */
static int
folder_import_wait_body_cmd(struct folder_import_ctx *ctx,
			    const struct folder_fetch_cmd *cmd,
			    struct import_msg *const *asked)
{
	struct imap_source_reply reply;
	struct import_msg *msg;

	if (imap_source_wait(folder_import_src(ctx), cmd->tag,
			     folder_import_untagged, folder_import_literal,
			     ctx, &reply) < 0)
		return -1;
	if (ctx->pending_msg != NULL) {
		/* its FETCH reply ended in a way we could not read */
		folder_import_pending_drop(ctx);
	}
	folder_import_pace(ctx, imap_reply_is_throttled_ok(&reply));
	if (reply.state == IMAP_SOURCE_REPLY_OK)
		return 0;
	if (reply.state == IMAP_SOURCE_REPLY_NO &&
	    strcmp(reply.resp_code, "THROTTLED") == 0) {
		ctx->throttled = t_strdup(reply.text);
		return 0;
	}
	if (reply.state != IMAP_SOURCE_REPLY_NO)
		return folder_import_check_reply(ctx, "Fetching messages", &reply);
	/* NO: some message of it can't be sent. Asked for alone, that is
	   the one; else each one not sent is asked for alone next. */
	if (cmd->count == 1) {
		msg = asked[cmd->first];
		if (msg == ctx->resume_msg) {
			/* a server that won't do partial fetches: asked for
			   whole in the next round */
			folder_import_resume_drop(ctx);
			msg->no_resume = TRUE;
			msg->sent = TRUE;
			return 0;
		}
		msg->refused = p_strdup(ctx->current->pool, reply.text);
	}
	return 0;
}

/* One round: ask for every body still wanted and wait for them. Returns 1
   if something was asked for, 0 if nothing is wanted, -1 on error. */
static int folder_import_fetch_round(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	ARRAY(struct import_msg *) asked;
	ARRAY(struct folder_fetch_cmd) cmds;
	struct folder_fetch_cmd *cmd = NULL;
	struct import_msg *msg, *const *asked_msgs;
	unsigned int i, per_cmd;
	bool paced = run->pace_msecs > 0, prev_alone = FALSE;
	string_t *uids = t_str_new(1024);

	per_cmd = paced ? FOLDER_IMPORT_PACED_CMD_UIDS :
		FOLDER_IMPORT_BODY_CMD_UIDS;
	t_array_init(&asked, 64);
	t_array_init(&cmds, 8);
	array_foreach_modifiable(&ctx->current->msgs, msg) {
		/* a body to resume is asked for in its own command */
		bool alone = msg->alone || msg == ctx->resume_msg;

		if (msg->action != IMPORT_MSG_IMPORT ||
		    msg->state != IMPORT_MSG_STATE_WANTED)
			continue;
		msg->sent = FALSE;
		msg->asked_alone = FALSE;
		if (cmd == NULL || cmd->count == per_cmd || alone ||
		    prev_alone) {
			cmd = array_append_space(&cmds);
			cmd->first = array_count(&asked);
		}
		array_push_back(&asked, &msg);
		cmd->count++;
		prev_alone = alone;
	}
	if (array_count(&asked) == 0)
		return 0;
	asked_msgs = array_front(&asked);
	array_foreach_modifiable(&cmds, cmd)
		asked_msgs[cmd->first]->asked_alone = cmd->count == 1;

	ctx->throttled = NULL;
	array_foreach_modifiable(&cmds, cmd) {
		if (paced) {
			/* one at a time, each after a pause */
			if (run->pace_msecs > 0 &&
			    import_run_ctx_sleep(run, run->pace_msecs, TRUE,
						 folder_import_untagged,
						 folder_import_literal, ctx) < 0)
				return -1;
		}
		str_truncate(uids, 0);
		for (i = 0; i < cmd->count; i++) {
			if (i > 0)
				str_append_c(uids, ',');
			str_printfa(uids, "%u", asked_msgs[cmd->first + i]->uid);
		}
		msg = asked_msgs[cmd->first];
		if (cmd->count == 1 && msg == ctx->resume_msg) {
			/* the rest of it, from a little before where it
			   stopped */
			uoff_t have = ctx->resume_check.size;
			uoff_t from = have - I_MIN(have,
				FOLDER_IMPORT_RESUME_OVERLAP);

			cmd->tag = imap_source_send(folder_import_src(ctx),
				t_strdup_printf("UID FETCH %u (BODY.PEEK[]<%"
					PRIuUOFF_T".%"PRIuUOFF_T">)", msg->uid,
					from, ctx->resume_total - from));
		} else {
			cmd->tag = imap_source_send(folder_import_src(ctx),
				t_strdup_printf("UID FETCH %s (BODY.PEEK[])",
						str_c(uids)));
		}
		if (!paced)
			continue;
		if (folder_import_wait_body_cmd(ctx, cmd, asked_msgs) < 0)
			return -1;
		cmd->tag = NULL;
	}
	array_foreach_modifiable(&cmds, cmd) {
		if (cmd->tag != NULL &&
		    folder_import_wait_body_cmd(ctx, cmd, asked_msgs) < 0)
			return -1;
	}

	/* what was asked for and did not come */
	for (i = 0; i < array_count(&asked); i++) {
		msg = asked_msgs[i];
		if (msg->sent || msg->state != IMPORT_MSG_STATE_WANTED)
			continue;
		if (msg->refused != NULL) {
			folder_import_failed(ctx, msg, t_strdup_printf(
				"the server refused to send it: %s",
				msg->refused));
		} else if (ctx->throttled != NULL) {
			/* asked for again after the wait */
		} else if (!msg->asked_alone) {
			msg->alone = TRUE;
		} else {
			folder_import_failed(ctx, msg,
				"listed by the server but not sent");
		}
	}
	return 1;
}

/* Fetch and save the chunk's bodies, round by round, until every one is
   saved or given up. When the server says NO [THROTTLED] (Gmail's rate
   limits), wait and ask again for what is still missing: 1, 2, 4, ...
   seconds (at most a minute), --throttle-retries times, the session kept
   alive meanwhile. */
static int folder_import_fetch_bodies(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	const struct import_remote_settings *set = run->set;
	unsigned int attempt = 0, delay_msecs = set->throttle_delay_msecs;
	int ret;

	for (;;) {
		ret = folder_import_fetch_round(ctx);
		if (ret <= 0)
			return ret;
		if (ctx->throttled == NULL)
			continue;
		if (attempt >= set->throttle_retries) {
			import_run_ctx_set_error(run,
				IMPORT_REMOTE_ERROR_THROTTLED,
				t_strdup_printf("Fetching messages of folder %s "
					"failed after %u retries: %s",
					ctx->entry->display_name, attempt,
					ctx->throttled));
			return -1;
		}
		attempt++;
		e_warning(run->user->event, "import-remote: Source "
			  "server is throttling (%s): asking again in %s",
			  ctx->throttled, import_progress_format_wait(delay_msecs));
		if (import_run_ctx_sleep(run, delay_msecs, TRUE,
					 folder_import_untagged,
					 folder_import_literal, ctx) < 0)
			return -1;
		delay_msecs = I_MIN(delay_msecs * 2,
				    IMPORT_REMOTE_MAX_THROTTLE_DELAY_MSECS);
	}
}

/* --- deciding what to copy --- */

static int uint32_cmp(const uint32_t *a, const uint32_t *b)
{
	return *a < *b ? -1 : (*a > *b ? 1 : 0);
}

/* First pass: what earlier runs did and what the date filter leaves out.
   Returns TRUE if some messages still need their header hashed. */
static bool folder_import_classify(struct folder_import_ctx *ctx)
{
	struct import_msg *msg;
	bool need_hash = FALSE;

	array_sort(&ctx->current->matches, uint32_cmp);
	array_foreach_modifiable(&ctx->current->msgs, msg) {
		if (msg->action != IMPORT_MSG_UNDECIDED ||
		    msg->state == IMPORT_MSG_STATE_FAILED)
			continue;
		if (msg->uid <= ctx->done_uid)
			msg->action = IMPORT_MSG_DONE_BEFORE;
		else if (folder_import_date_filter(ctx) &&
			 array_bsearch(&ctx->current->matches, &msg->seq,
				       uint32_cmp) == NULL)
			msg->action = IMPORT_MSG_FILTERED;
		else if (ctx->count_only || msg->gmail_covered) {
			/* copies of mail that other folders bring */
			msg->action = IMPORT_MSG_DUPLICATE;
		} else if (!folder_import_want_keys(ctx))
			msg->action = IMPORT_MSG_IMPORT;
		else if (msg->key == NULL)
			need_hash = TRUE;
	}
	return need_hash;
}

/* Second pass, in order: a message whose identity is already in the
   destination (or came earlier in this folder) is a duplicate. */
static void folder_import_decide(struct folder_import_ctx *ctx)
{
	struct import_progress *progress = ctx->run->progress;
	struct import_msg *msg;

	array_foreach_modifiable(&ctx->current->msgs, msg) {
		if (msg->state == IMPORT_MSG_STATE_FAILED) {
			/* given up while its header was read (and counted
			   then): the checkpoint stops before it, for a re-run
			   to try it again */
			msg->action = IMPORT_MSG_IMPORT;
			ctx->result->listed++;
			ctx->result->listed_bytes += msg->size;
			continue;
		}
		if (msg->action == IMPORT_MSG_UNDECIDED) {
			if (msg->key == NULL) {
				/* the server sent no header: nothing to
				   compare with, so copy it */
				msg->action = IMPORT_MSG_IMPORT;
			} else if (ctx->index == NULL ||
				   dedup_index_add(ctx->index, msg->key))
				msg->action = IMPORT_MSG_IMPORT;
			else {
				msg->action = IMPORT_MSG_DUPLICATE;
				msg->dest_uid = dedup_index_lookup_uid(
					ctx->index, msg->key);
			}
			if (msg->action == IMPORT_MSG_IMPORT &&
			    msg->key != NULL && ctx->gmail_index != NULL &&
			    ctx->gmail_index != ctx->index)
				(void)dedup_index_add(ctx->gmail_index, msg->key);
		}
		if (msg->action != IMPORT_MSG_FILTERED &&
		    msg->action != IMPORT_MSG_DONE_BEFORE) {
			ctx->result->listed++;
			ctx->result->listed_bytes += msg->size;
		}
		switch (msg->action) {
		case IMPORT_MSG_DUPLICATE:
		case IMPORT_MSG_DONE_BEFORE:
			progress->skipped_duplicates++;
			ctx->result->skipped++;
			break;
		case IMPORT_MSG_FILTERED:
			progress->filtered_by_date++;
			ctx->result->filtered++;
			break;
		case IMPORT_MSG_IMPORT:
			ctx->result->to_copy++;
			ctx->result->bytes_to_copy += msg->size;
			progress->bytes_total += msg->size;
			continue;
		case IMPORT_MSG_UNDECIDED:
			i_unreached();
		}
		progress->msgs_done++;
	}
	import_run_ctx_check_quota(ctx->run);
}

/* A crash can leave a message in the destination without its flags: sdbox
   puts a message file that was written but whose save was not yet
   committed back into the index, with no flags or keywords. A re-run finds
   it as a duplicate; when the destination copy has no flags and no
   keywords at all, it gets those of the source copy. A copy that has any
   flag is left alone: its flags were set on purpose (by the import or by
   the user since). */
static int folder_import_add_missing_flags(struct folder_import_ctx *ctx)
{
	struct mailbox_transaction_context *trans;
	const struct import_msg *msg;
	struct mail_keywords *kw;
	struct mail *mail;
	ARRAY_TYPE(const_string) missing;
	const char *const *have, *const *want;
	enum mail_flags add;
	unsigned int mended = 0;
	int ret;

	if (ctx->box == NULL || ctx->run->set->dry_run)
		return 0;
	trans = mailbox_transaction_begin(ctx->box,
					  MAILBOX_TRANSACTION_FLAG_EXTERNAL,
					  __func__);
	mail = mail_alloc(trans, MAIL_FETCH_FLAGS, NULL);
	t_array_init(&missing, 8);
	array_foreach(&ctx->current->msgs, msg) {
		if (msg->dest_uid == 0 ||
		    (msg->flags == 0 && msg->keywords == NULL) ||
		    !mail_set_uid(mail, msg->dest_uid))
			continue;
		have = mail_get_keywords(mail);
		if ((mail_get_flags(mail) & IMPORT_MAIL_FLAGS_MASK) != 0 ||
		    have[0] != NULL)
			continue;
		add = msg->flags;
		array_clear(&missing);
		for (want = msg->keywords; want != NULL && *want != NULL; want++) {
			if (!str_array_find(have, *want))
				array_push_back(&missing, want);
		}
		if (add != 0)
			mail_update_flags(mail, MODIFY_ADD, add);
		if (array_count(&missing) > 0) {
			array_append_zero(&missing);
			kw = mailbox_keywords_create_valid(ctx->box,
							   array_front(&missing));
			mail_update_keywords(mail, MODIFY_ADD, kw);
			mailbox_keywords_unref(&kw);
		}
		if (add != 0 || array_count(&missing) > 0)
			mended++;
	}
	mail_free(&mail);
	ret = mailbox_transaction_commit(&trans);
	if (ret < 0) {
		import_run_ctx_set_error(ctx->run, IMPORT_REMOTE_ERROR_DEST_ERROR,
			t_strdup_printf("Updating flags in %s failed: %s",
				ctx->result->dest_name,
				mailbox_get_last_internal_error(ctx->box, NULL)));
		return -1;
	}
	if (mended > 0) {
		e_debug(ctx->run->user->event, "import-remote: %s: gave %u "
			"existing messages their missing flags",
			ctx->result->dest_name, mended);
	}
	return 0;
}

/* Move the checkpoint up to where everything of the current chunk is
   committed (a failed message stops it, so that a re-run tries it
   again) */
static void folder_import_checkpoint_move(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	const struct import_msg *msg;
	uint32_t last_uid = 0;
	const char *errstr;

	if (ctx->retrying) {
		/* single messages: the checkpoint is not theirs to move */
		return;
	}
	array_foreach(&ctx->current->msgs, msg) {
		if (msg->action == IMPORT_MSG_IMPORT &&
		    msg->state != IMPORT_MSG_STATE_COMMITTED)
			break;
		last_uid = msg->uid;
	}
	if (run->checkpoint != NULL && last_uid > ctx->done_uid &&
	    ctx->uidvalidity != 0 && !folder_import_date_filter(ctx)) {
		if (import_checkpoint_set(run->checkpoint,
					  ctx->entry->remote->remote_name,
					  ctx->uidvalidity, last_uid,
					  &errstr) < 0)
			import_run_ctx_warning(run, errstr);
		else
			ctx->done_uid = last_uid;
	}
}

/* After the bodies: commit, and move the checkpoint up to where everything
   is in the destination (a failed message stops it, so that a re-run
   tries it again). */
static int folder_import_chunk_done(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	const struct import_msg *msg;

	if (run->set->dry_run) {
		array_foreach(&ctx->current->msgs, msg) {
			if (msg->action == IMPORT_MSG_IMPORT) {
				ctx->result->imported++;
				run->progress->msgs_done++;
			}
		}
		return 0;
	}
	if (folder_import_commit(ctx) < 0)
		return -1;
	folder_import_checkpoint_move(ctx);
	return 0;
}

/* The server said the folder holds more messages than it lists (a
   hostile EXISTS): what it lists is what there is, up to first (which it
   did not list). Listing goes on no further. */
static void folder_import_list_ended(struct folder_import_ctx *ctx,
				     uint32_t first)
{
	struct import_progress *progress = ctx->run->progress;
	uint32_t exists = first - 1;

	if (exists >= ctx->exists)
		return;
	import_run_ctx_warning(ctx->run, t_strdup_printf(
		"Folder %s: the server said it holds %u messages but listed "
		"none from %u on: taken as %u", ctx->entry->display_name,
		ctx->exists, first, exists));
	progress->msgs_total -= I_MIN(ctx->exists - exists,
				      progress->msgs_total);
	ctx->exists = exists;
	ctx->result->msgs = exists;
	ctx->next_first = (uint64_t)exists + 1;
}

/* Wait for the next chunk's list and make it the current chunk */
static int folder_import_receive_list(struct folder_import_ctx *ctx)
{
	struct imap_source *src = folder_import_src(ctx);
	struct imap_source_reply reply;
	struct import_chunk *tmp;
	const struct import_msg *last;

	if (ctx->next->search_tag != NULL &&
	    (imap_source_wait(src, ctx->next->search_tag,
			      folder_import_untagged, NULL, ctx, &reply) < 0 ||
	     folder_import_check_reply(ctx, "Searching by date", &reply) < 0))
		return -1;
	if (imap_source_wait(src, ctx->next->meta_tag,
			     folder_import_untagged, NULL, ctx, &reply) < 0 ||
	    folder_import_check_reply(ctx, "Fetching message list", &reply) < 0)
		return -1;
	tmp = ctx->current; ctx->current = ctx->next; ctx->next = tmp;
	ctx->next->search_tag = NULL;
	ctx->next->meta_tag = NULL;
	ctx->current->search_tag = NULL;
	ctx->current->meta_tag = NULL;
	ctx->current->state = IMPORT_CHUNK_LISTED;
	if (ctx->current->listed_max_seq < ctx->current->last_seq) {
		folder_import_list_ended(ctx,
			I_MAX(ctx->current->listed_max_seq + 1,
			      ctx->current->first_seq));
	}
	if (array_count(&ctx->current->msgs) > 0) {
		last = array_back(&ctx->current->msgs);
		ctx->listed_uid = last->uid;
		ctx->listed_seq = last->seq;
	}
	return 0;
}

/* Copy the folder's messages from ctx->next_first on, chunk by chunk. The
   state of the current chunk says where to go on, also after the
   connection was lost and made again. */
static int folder_import_chunk_step(struct folder_import_ctx *ctx);

static int folder_import_chunks(struct folder_import_ctx *ctx)
{
	int ret;

	/* a data stack frame per step: nothing of a chunk's stays behind it
	   (what outlives it is in the chunk's pool) */
	do T_BEGIN {
		ret = folder_import_chunk_step(ctx);
	} T_END; while (ret > 0);
	return ret;
}

/* One chunk listed, or one chunk decided and copied. Returns 1 to go on,
   0 when the folder is done, -1 on error. */
static int folder_import_chunk_step(struct folder_import_ctx *ctx)
{
	struct import_chunk *current = ctx->current;

	if (current->state == IMPORT_CHUNK_DONE) {
		if (ctx->next->meta_tag == NULL &&
		    !folder_import_send_list(ctx))
			return 0;
		if (folder_import_receive_list(ctx) < 0)
			return -1;
		/* ask for the next chunk's list ahead of this chunk's UID
		   commands, so it is there when they are done. Never behind
		   them: a command using sequence numbers pipelined after UID
		   commands is ambiguous (RFC 3501 5.5), and Dovecot answers
		   it with a "* BAD [CLIENTBUG]" that it may even write into
		   the middle of a literal it is sending. After a reconnect
		   the list is asked for only when the chunk is done: a link
		   that keeps breaking would otherwise have it sent again and
		   again. */
		(void)folder_import_send_list(ctx);
		return 1;
	}
	if (current->state == IMPORT_CHUNK_LISTED) {
		if (folder_import_classify(ctx) &&
		    folder_import_fetch_headers(ctx) < 0)
			return -1;
		current->state = IMPORT_CHUNK_HASHED;
	}
	if (current->state == IMPORT_CHUNK_HASHED) {
		folder_import_decide(ctx);
		if (folder_import_add_missing_flags(ctx) < 0)
			return -1;
		current->state = IMPORT_CHUNK_DECIDED;
	}
	if (!ctx->run->set->dry_run &&
	    folder_import_fetch_bodies(ctx) < 0)
		return -1;
	if (folder_import_chunk_done(ctx) < 0)
		return -1;
	current->state = IMPORT_CHUNK_DONE;
	/* also when nothing was saved (a re-run that only skips): the job's
	   heartbeat, without which a long re-run would look dead and be
	   taken over, and its chance to see a cancel */
	if (!import_run_ctx_progress(ctx->run, FALSE))
		return -1;
	return 1;
}

/* The sequence of the first message above uid, if ESEARCH can't say:
   UID FETCH uid+1:* (UID) answers with those messages (and the last one),
   a line each, where listing the folder would fetch every header. */
static int folder_import_find_first(struct folder_import_ctx *ctx,
				    uint32_t uid, uint64_t *seq_r)
{
	struct imap_source_reply reply;
	int ret;

	ctx->have_min_seq = FALSE;
	ctx->finding_first = TRUE;
	ctx->find_above_uid = uid;
	ret = imap_source_cmd(folder_import_src(ctx), t_strdup_printf(
			"UID FETCH %u:* (UID)", uid + 1),
			folder_import_untagged, ctx, &reply);
	ctx->finding_first = FALSE;
	if (ret < 0 ||
	    folder_import_check_reply(ctx, "Searching for new mail",
				      &reply) < 0)
		return -1;
	*seq_r = ctx->have_min_seq ? ctx->min_seq : (uint64_t)ctx->exists + 1;
	return 0;
}

/* The sequence of the first message above uid: SEARCH RETURN (MIN), or
   without ESEARCH folder_import_find_first() */
static int folder_import_first_after(struct folder_import_ctx *ctx,
				     uint32_t uid, uint64_t *seq_r)
{
	struct imap_source *src = folder_import_src(ctx);
	struct imap_source_reply reply;

	if (ctx->exists == 0) {
		*seq_r = 1;
		return 0;
	}
	if (!imap_source_has_capability(src, IMAP_SOURCE_CAP_ESEARCH))
		return folder_import_find_first(ctx, uid, seq_r);
	ctx->have_min_seq = FALSE;
	if (imap_source_cmd(src, t_strdup_printf(
			"SEARCH RETURN (MIN) UID %u:*", uid + 1),
			folder_import_untagged, ctx, &reply) < 0 ||
	    folder_import_check_reply(ctx, "Searching for new mail",
				      &reply) < 0)
		return -1;
	/* "UID n:*" always matches the highest UID, so MIN may point at a
	   message at or below uid; the checkpoint (or the list floor after
	   a reconnect) then skips it */
	*seq_r = ctx->have_min_seq ? ctx->min_seq : (uint64_t)ctx->exists + 1;
	return 0;
}

/* Where to start: after the checkpoint, if there is one for this
   UIDVALIDITY. Returns the first sequence to list (> exists: nothing). */
static int folder_import_resume(struct folder_import_ctx *ctx,
				uint64_t *first_r)
{
	struct import_run_ctx *run = ctx->run;
	const struct remote_folder *remote = ctx->entry->remote;
	uint32_t last_uid, uidnext = ctx->uidnext;

	*first_r = 1;
	if (uidnext == 0 && remote->status_uidvalidity == ctx->uidvalidity) {
		/* EXAMINE without UIDNEXT (Courier): STATUS's, from a moment
		   earlier. Mail that came since is only left for the next
		   run: the checkpoint stays before it. */
		uidnext = remote->status_uidnext;
	}
	if (run->checkpoint == NULL || folder_import_date_filter(ctx) ||
	    ctx->uidvalidity == 0 ||
	    !import_checkpoint_get(run->checkpoint,
				   ctx->entry->remote->remote_name,
				   ctx->uidvalidity, &last_uid))
		return 0;
	ctx->done_uid = last_uid;
	if (uidnext != 0 && last_uid >= uidnext - 1) {
		/* nothing new since */
		*first_r = (uint64_t)ctx->exists + 1;
		return 0;
	}
	return folder_import_first_after(ctx, last_uid, first_r);
}

/* After a reconnect: the sequence of the first message above uid (which
   was at seq before). Messages expunged meanwhile shift sequences; a
   FETCH of the old place tells whether any did. */
static int folder_import_seq_after(struct folder_import_ctx *ctx,
				   uint32_t uid, uint32_t seq,
				   uint64_t *seq_r)
{
	struct imap_source *src = folder_import_src(ctx);
	struct imap_source_reply reply;

	if (seq != 0 && seq <= ctx->exists) {
		ctx->probe_seq = seq;
		ctx->probe_uid = 0;
		if (imap_source_cmd(src, t_strdup_printf("FETCH %u (UID)", seq),
				    folder_import_untagged, ctx, &reply) < 0)
			return -1;
		ctx->probe_seq = 0;
		if (ctx->probe_uid == uid) {
			*seq_r = (uint64_t)seq + 1;
			return 0;
		}
	}
	/* "UID n:*" always matches the highest UID: the list floor drops
	   it if it was listed */
	return folder_import_first_after(ctx, uid, seq_r);
}

static int folder_import_select(struct folder_import_ctx *ctx)
{
	struct imap_source *src = folder_import_src(ctx);
	struct imap_source_reply reply;
	string_t *cmd;

	ctx->exists = ctx->uidnext = ctx->uidvalidity = 0;
	cmd = t_str_new(128);
	str_append(cmd, "EXAMINE ");
	imap_source_append_string(src, cmd, ctx->entry->remote->remote_name);
	if (imap_source_cmd(src, str_c(cmd), folder_import_untagged, ctx,
			    &reply) < 0 ||
	    folder_import_check_reply(ctx, "Selecting", &reply) < 0)
		return -1;
	if (ctx->uidvalidity == 0) {
		/* EXAMINE without UIDVALIDITY: STATUS's */
		ctx->uidvalidity = ctx->entry->remote->status_uidvalidity;
	}
	if (ctx->uidnext != 0 && ctx->exists > ctx->uidnext - 1) {
		/* each message has its own UID below UIDNEXT */
		import_run_ctx_set_error(ctx->run,
			IMPORT_REMOTE_ERROR_SOURCE_ERROR, t_strdup_printf(
			"Folder %s: the server says it holds %u messages, but "
			"its UIDNEXT %u leaves room for at most %u: invalid",
			ctx->entry->display_name, ctx->exists, ctx->uidnext,
			ctx->uidnext - 1));
		return -1;
	}
	return 0;
}

/* The retry at the end of the run: EXAMINE, nothing to list (the current
   chunk holds the messages to try again) */
static int folder_import_retry_select(struct folder_import_ctx *ctx)
{
	uint32_t old_uidvalidity = ctx->uidvalidity;

	if (folder_import_select(ctx) < 0)
		return -1;
	if (ctx->uidvalidity != old_uidvalidity) {
		import_run_ctx_set_error(ctx->run,
			IMPORT_REMOTE_ERROR_SOURCE_ERROR, t_strdup_printf(
			"Folder %s changed its UIDVALIDITY (%u, now %u) while "
			"it was imported: run the import again",
			ctx->entry->display_name, old_uidvalidity,
			ctx->uidvalidity));
		return -1;
	}
	import_chunk_reset(ctx->next, 1);
	ctx->next_first = (uint64_t)ctx->exists + 1;
	return 0;
}

/* The first EXAMINE: count what is there, start after the checkpoint */
static int folder_import_start(struct folder_import_ctx *ctx)
{
	struct import_progress *progress = ctx->run->progress;
	uint64_t first;

	if (ctx->retrying)
		return folder_import_retry_select(ctx);
	if (folder_import_select(ctx) < 0)
		return -1;
	/* the STATUS count is replaced by what is really there */
	progress->msgs_total -= I_MIN(ctx->result->msgs, progress->msgs_total);
	ctx->result->msgs = ctx->exists;
	progress->msgs_total += ctx->exists;

	if (folder_import_resume(ctx, &first) < 0)
		return -1;
	if (first > 1) {
		/* what the checkpoint covers counts as already there */
		unsigned int before = I_MIN(first - 1, (uint64_t)ctx->exists);
		progress->skipped_duplicates += before;
		progress->msgs_done += before;
		ctx->result->skipped += before;
	}
	ctx->next_first = first;
	return 0;
}

/* After a reconnect: EXAMINE again and find the place after the last
   message listed (the current chunk's messages are asked for by UID). */
static int folder_import_restart(struct folder_import_ctx *ctx)
{
	struct import_progress *progress = ctx->run->progress;
	uint32_t old_uidvalidity = ctx->uidvalidity;
	uint32_t old_exists = ctx->exists, floor_uid, floor_seq;
	uint64_t seq;

	if (ctx->retrying)
		return folder_import_retry_select(ctx);
	if (folder_import_select(ctx) < 0)
		return -1;
	if (ctx->uidvalidity != old_uidvalidity) {
		import_run_ctx_set_error(ctx->run,
			IMPORT_REMOTE_ERROR_SOURCE_ERROR, t_strdup_printf(
			"Folder %s changed its UIDVALIDITY (%u, now %u) while "
			"it was imported: run the import again",
			ctx->entry->display_name, old_uidvalidity,
			ctx->uidvalidity));
		return -1;
	}
	if (ctx->exists != old_exists) {
		progress->msgs_total += ctx->exists;
		progress->msgs_total -= I_MIN(old_exists, progress->msgs_total);
		ctx->result->msgs = ctx->exists;
	}
	/* the list on its way was lost with the connection */
	import_chunk_reset(ctx->next, 1);
	if (ctx->listed_uid >= ctx->done_uid) {
		floor_uid = ctx->listed_uid;
		floor_seq = ctx->listed_seq;
	} else {
		floor_uid = ctx->done_uid;
		floor_seq = 0;
	}
	ctx->list_floor_uid = floor_uid;
	if (floor_uid == 0) {
		ctx->next_first = 1;
		return 0;
	}
	if (folder_import_seq_after(ctx, floor_uid, floor_seq, &seq) < 0)
		return -1;
	ctx->next_first = seq;
	return 0;
}

static int folder_import_open_local(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	struct mail_namespace *ns;
	enum mail_error error;
	const char *errstr;

	if (ctx->count_only)
		return 0;
	ns = mail_namespace_find(run->user->namespaces, ctx->result->dest_name);
	ctx->box = mailbox_alloc(ns->list, ctx->result->dest_name, 0);
	if (!run->set->dry_run && mailbox_create(ctx->box, NULL, FALSE) < 0) {
		errstr = mailbox_get_last_internal_error(ctx->box, &error);
		if (error != MAIL_ERROR_EXISTS) {
			import_run_ctx_set_error(ctx->run,
				error == MAIL_ERROR_NOQUOTA ?
				IMPORT_REMOTE_ERROR_QUOTA_EXCEEDED :
				IMPORT_REMOTE_ERROR_DEST_ERROR,
				t_strdup_printf("Creating mailbox %s failed: %s",
						ctx->result->dest_name, errstr));
			return -1;
		}
	}
	if (mailbox_open(ctx->box) < 0) {
		errstr = mailbox_get_last_internal_error(ctx->box, &error);
		if (run->set->dry_run && error == MAIL_ERROR_NOTFOUND) {
			/* dry run: it would be created */
			mailbox_free(&ctx->box);
			return 0;
		}
		import_run_ctx_set_error(ctx->run, IMPORT_REMOTE_ERROR_DEST_ERROR,
			t_strdup_printf("Opening mailbox %s failed: %s",
					ctx->result->dest_name, errstr));
		return -1;
	}
	if (!run->set->dry_run && ctx->entry->remote->subscribed &&
	    mailbox_set_subscribed(ctx->box, TRUE) < 0) {
		errstr = mailbox_get_last_internal_error(ctx->box, &error);
		import_run_ctx_warning(run, t_strdup_printf(
			"Subscribing to %s failed: %s",
			ctx->result->dest_name, errstr));
	}
	if (!run->set->dry_run) {
		ctx->saver = message_saver_init(ctx->box,
			run->set->dedup != IMPORT_REMOTE_DEDUP_OFF);
		message_saver_set_commit_callback(ctx->saver,
			run->commit_callback, run->context);
	}
	return 0;
}

static int folder_import_setup_index(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	struct timeval start, end;
	const char *error;

	if (ctx->index_ready)
		return 0;
	ctx->index_ready = TRUE;
	if (ctx->count_only)
		return 0;
	if (ctx->entry->action == FOLDER_PLAN_COPY_REMAINING &&
	    run->gmail_index != NULL) {
		/* Gmail's All Mail: what is not in any other folder */
		ctx->index = run->gmail_index;
		return 0;
	}
	ctx->gmail_index = run->gmail_index;
	switch (run->set->dedup) {
	case IMPORT_REMOTE_DEDUP_OFF:
		return 0;
	case IMPORT_REMOTE_DEDUP_ACCOUNT:
		ctx->index = run->account_index;
		return 0;
	case IMPORT_REMOTE_DEDUP_FOLDER:
		break;
	}
	ctx->index = dedup_index_init();
	ctx->own_index = TRUE;
	if (ctx->box == NULL)
		return 0;
	i_gettimeofday(&start);
	if (dedup_index_add_mailbox(ctx->index, ctx->box, TRUE, &error) < 0) {
		import_run_ctx_set_error(ctx->run, IMPORT_REMOTE_ERROR_DEST_ERROR,
					 error);
		return -1;
	}
	i_gettimeofday(&end);
	e_debug(run->user->event, "import-remote: Duplicate index of %s: "
		"%u messages in %lld ms", ctx->result->dest_name,
		dedup_index_count(ctx->index),
		timeval_diff_usecs(&end, &start) / 1000);
	return 0;
}

static int folder_import_run(struct folder_import_ctx *ctx)
{
	bool started = FALSE;
	int ret;

	if (folder_import_open_local(ctx) < 0)
		return -1;
	for (;;) {
		if (!started) {
			ret = folder_import_start(ctx);
			started = ret == 0;
		} else {
			ret = folder_import_restart(ctx);
		}
		/* the destination's identities only when there is mail to
		   look at: a re-run over unchanged folders reads none */
		if (ret == 0 && ctx->next_first <= ctx->exists &&
		    folder_import_setup_index(ctx) < 0)
			return -1;
		if (ret == 0)
			ret = folder_import_chunks(ctx);
		if (ret == 0)
			return 0;
		/* keep what is complete, then try a new connection */
		if (folder_import_connection_lost(ctx) < 0 ||
		    !import_run_ctx_reconnect(ctx->run))
			return -1;
	}
}

static const char *folder_import_temp_prefix(struct import_run_ctx *run)
{
	string_t *prefix = t_str_new(128);

	mail_user_set_get_temp_prefix(prefix, run->user->set);
	return p_strdup(run->pool, str_c(prefix));
}

static void
folder_import_ctx_init(struct folder_import_ctx *ctx,
		       struct import_run_ctx *run,
		       const struct folder_plan_entry *entry,
		       struct import_run_folder *result)
{
	i_zero(ctx);
	ctx->run = run;
	ctx->entry = entry;
	ctx->result = result;
	ctx->count_only = entry->action == FOLDER_PLAN_COUNT_ONLY;
	ctx->want_labels = run->gmail_labels && !ctx->count_only;
	ctx->current = &ctx->chunks[0];
	ctx->next = &ctx->chunks[1];
	ctx->temp_prefix = folder_import_temp_prefix(run);
	ctx->pending_tail = buffer_create_dynamic(default_pool,
						  FOLDER_IMPORT_RESUME_OVERLAP);
	ctx->resume_tail = buffer_create_dynamic(default_pool,
						 FOLDER_IMPORT_RESUME_OVERLAP);
	import_chunk_reset(ctx->current, 1);
	import_chunk_reset(ctx->next, 1);
	run->progress->folder = entry->display_name;
}

/* Run the folder's import, and keep what is saved. Returns ret. */
static int folder_import_ctx_run(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	struct import_run_folder *result = ctx->result;
	unsigned int i;
	int ret;

	T_BEGIN {
		ret = folder_import_run(ctx);
	} T_END;
	if (ret < 0) {
		/* the first cause is the real one */
		import_run_ctx_source_failed(run);
	}
	folder_import_pending_drop(ctx);
	folder_import_resume_drop(ctx);
	if (ctx->retrying && ret < 0) {
		struct import_msg *msg;

		array_foreach_modifiable(&ctx->current->msgs, msg) {
			if (msg->state != IMPORT_MSG_STATE_WANTED)
				continue;
			folder_import_failed(ctx, msg, "the connection kept "
				"breaking at the same place of it, and the run "
				"ended before the try at its end was done");
		}
	}
	if (ctx->saver != NULL) {
		/* keep what was saved, even when the folder failed */
		if (folder_import_commit(ctx) < 0)
			ret = -1;
		message_saver_deinit(&ctx->saver);
	}
	if (ctx->own_index)
		dedup_index_deinit(&ctx->index);
	if (ctx->box != NULL)
		mailbox_free(&ctx->box);
	for (i = 0; i < N_ELEMENTS(ctx->chunks); i++) {
		if (ctx->chunks[i].pool != NULL)
			pool_unref(&ctx->chunks[i].pool);
	}
	buffer_free(&ctx->pending_tail);
	buffer_free(&ctx->resume_tail);
	if (ret == 0 && result->failed > 0) {
		result->note = p_strdup_printf(run->pool, "%u %s failed",
			result->failed,
			result->failed == 1 ? "message" : "messages");
	}
	run->progress->folder = NULL;
	return ret;
}

int folder_import(struct import_run_ctx *run,
		  const struct folder_plan_entry *entry,
		  struct import_run_folder *result)
{
	struct folder_import_ctx ctx;
	int ret;

	folder_import_ctx_init(&ctx, run, entry, result);
	ret = folder_import_ctx_run(&ctx);
	run->progress->folders_done++;
	return ret;
}

static void
folder_import_deferred_failed(struct import_run_ctx *run,
			      const struct import_run_deferred *def)
{
	struct import_failed_message failed;

	i_zero(&failed);
	failed.folder = def->entry->display_name;
	failed.uid = def->uid;
	failed.size = def->size;
	failed.message_id = def->message_id == NULL ? "" : def->message_id;
	failed.received = def->received_date == (time_t)-1 ? 0 :
		def->received_date;
	failed.reason = def->reason;
	import_run_ctx_message_failed(run, &failed);
	def->result->failed++;
	def->result->note = p_strdup_printf(run->pool, "%u %s failed",
		def->result->failed,
		def->result->failed == 1 ? "message" : "messages");
}

void folder_import_fail_deferred(struct import_run_ctx *run)
{
	const struct import_run_deferred *def;

	if (!array_is_created(&run->deferred))
		return;
	array_foreach(&run->deferred, def)
		folder_import_deferred_failed(run, def);
	array_clear(&run->deferred);
}

static int import_msg_uid_sort_cmp(const struct import_msg *a,
				   const struct import_msg *b)
{
	return a->uid < b->uid ? -1 : (a->uid > b->uid ? 1 : 0);
}

/* Try the messages of one folder once more */
static int
folder_import_retry_folder(struct import_run_ctx *run,
			   const struct import_run_deferred *defs,
			   unsigned int count)
{
	struct folder_import_ctx ctx;
	struct import_msg *msg;
	unsigned int i;

	folder_import_ctx_init(&ctx, run, defs[0].entry, defs[0].result);
	ctx.retrying = TRUE;
	ctx.uidvalidity = defs[0].uidvalidity;
	p_array_init(&ctx.current->msgs, ctx.current->pool, count);
	for (i = 0; i < count; i++) {
		msg = array_append_space(&ctx.current->msgs);
		msg->uid = defs[i].uid;
		msg->size = defs[i].size;
		msg->received_date = defs[i].received_date;
		msg->received_tz = defs[i].received_tz;
		msg->flags = defs[i].flags;
		msg->keywords = defs[i].keywords;
		msg->message_id = defs[i].message_id;
		msg->key = defs[i].key;
		msg->action = IMPORT_MSG_IMPORT;
		msg->state = IMPORT_MSG_STATE_WANTED;
		/* once more: a break that brings it no further than before
		   gives it up for good */
		msg->furthest = defs[i].furthest;
		msg->losses = FOLDER_IMPORT_MAX_LOSSES - 1;
		/* counted as done when it was given up */
		run->progress->msgs_done--;
	}
	/* looked up by UID */
	array_sort(&ctx.current->msgs, import_msg_uid_sort_cmp);
	ctx.current->state = IMPORT_CHUNK_DECIDED;
	e_info(run->user->event, "import-remote: Trying %u message%s of %s "
	       "again", count, count == 1 ? "" : "s", ctx.entry->display_name);
	return folder_import_ctx_run(&ctx);
}

int folder_import_retry_deferred(struct import_run_ctx *run)
{
	ARRAY(struct import_run_deferred) defs;
	const struct import_run_deferred *all;
	unsigned int i, j, count;
	int ret = 0;

	if (!array_is_created(&run->deferred) ||
	    array_count(&run->deferred) == 0)
		return 0;
	/* taken over: what is given up now is failed for good */
	t_array_init(&defs, array_count(&run->deferred));
	array_append_array(&defs, &run->deferred);
	array_clear(&run->deferred);
	all = array_get(&defs, &count);
	for (i = 0; i < count; i = j) {
		for (j = i + 1; j < count && all[j].entry == all[i].entry; j++) ;
		if (ret == 0) {
			ret = folder_import_retry_folder(run, all + i, j - i);
			continue;
		}
		/* the run failed: the rest is not tried again */
		for (; i < j; i++)
			folder_import_deferred_failed(run, &all[i]);
	}
	return ret;
}

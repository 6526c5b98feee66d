#ifndef FOLDER_IMPORT_PRIVATE_H
#define FOLDER_IMPORT_PRIVATE_H

#include "sha1.h"
#include "hash.h"
#include "mail-types.h"
#include "message-check.h"
#include "import-run-context.h"

/* Shared by the files of one folder's import, one concern each, each
   calling only the ones listed after it (data flows one way):
   folder-retry.c         the end-of-run retry of messages given up
   folder-advance.c       a folder opened ahead, advanced while the run
                          waits: decided, its bodies asked for
   folder-import.c        the per-folder flow: open, examine, chunks,
                          commit, checkpoint, again after a reconnect
   folder-position.c      where to start, and go on after a reconnect
   folder-list.c          a chunk's message list and the decision
   folder-body-fetch.c    asking for the bodies, pacing, waiting
   folder-replies.c       the server's replies read into the state
   folder-body-receive.c  a body's literal received into the pending one
   folder-body-check.c    sizes, digests, compare, resumed bodies; save
   folder-commit.c        commit and checkpoint
   folder-failed.c        failed and given-up messages
   folder-state.c         chunks emptied, bodies in hand dropped */

/* One UID FETCH body command asks for at most this many messages; all of a
   chunk's commands are sent at once (pipelined). While pacing for a
   server that says [THROTTLED], fewer, one command at a time. */
#define FOLDER_IMPORT_BODY_CMD_UIDS 500
#define FOLDER_IMPORT_PACED_CMD_UIDS 50
/* A folder of at most this many messages (STATUS), copied for the first
   time, has its bodies asked for with its list, not a round trip after
   it: many small folders then cost the link no round trip each */
#define FOLDER_IMPORT_EARLY_MAX_MSGS 100
/* What is read and thrown away of a body asked for with the list that is
   no longer wanted, when its message's size is not known (the list was
   thrown away too): a bigger one ends the connection */
#define FOLDER_IMPORT_EARLY_DISCARD_MAX (64*1024*1024)
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

/* A UID FETCH of bodies on its way: which messages of the round's asked
   ones it asked for */
struct folder_fetch_cmd {
	const char *tag;
	unsigned int first, count;
	/* the bodies asked for with the list (import_chunk.bodies_tag) */
	bool early;
};

enum import_chunk_state {
	/* nothing in it (or all of it is handled) */
	IMPORT_CHUNK_DONE = 0,
	/* its message list arrived */
	IMPORT_CHUNK_LISTED,
	/* the headers of messages without an identity are asked for (on the
	   connection of the time: after a reconnect, asked for again) */
	IMPORT_CHUNK_HASHING,
	/* every message has its identity */
	IMPORT_CHUNK_HASHED,
	/* what to copy is decided and counted */
	IMPORT_CHUNK_DECIDED,
};

/* A chunk keeps at most this many different keyword sets of its own; the
   messages share them (most mail has none or one of a few) */
#define IMPORT_CHUNK_MAX_KEYWORD_SETS 256

struct import_chunk {
	pool_t pool;
	enum import_chunk_state state;
	ARRAY(struct import_msg) msgs;
	/* its messages' keyword sets, each once (pool's; the key is the
	   value) */
	HASH_TABLE(const char *const *, const char *const *) keyword_sets;
	/* sequences the date filter's SEARCH returned */
	ARRAY_TYPE(uint32_t) matches;
	const char *search_tag, *meta_tag;
	/* a small folder's first run: every body asked for right behind its
	   list (UID FETCH 1:<STATUS UIDNEXT-1>), before anything is decided;
	   its answers are the chunk's first round (or read and thrown away):
	   nothing else may be waited for on the connection before them */
	const char *bodies_tag;
	/* IMPORT_CHUNK_HASHING: the header fetches' tags */
	ARRAY_TYPE(const_string) header_tags;
	/* the sequences its list asks for: a FETCH or SEARCH reply about
	   another one is not ours (unsolicited) and is not kept */
	uint32_t first_seq, last_seq;
	/* the highest sequence the list's replies had (before any was left
	   out as listed before a reconnect), 0 if none */
	uint32_t listed_max_seq;
};

struct folder_import_ctx {
	struct import_run_ctx *run;
	const struct folder_plan_entry *entry;
	struct import_run_folder *result;
	struct mailbox *box;
	struct message_saver *saver;
	struct dedup_index *index;
	/* index_chosen: which index is known (own_index: an empty one of
	   its own); index_ready: it holds the destination's identities */
	bool own_index, index_chosen, index_ready;
	/* its own index was empty when it was set up (nothing in the
	   destination folder): a message without a Message-ID is not asked
	   for its header, its body is; the header hash is taken from the body
	   when it is saved (a copy of one saved before is not), which saves
	   the header fetch's round trip */
	bool keys_from_bodies;
	/* opened ahead on a connection of its own (folder_import_prime()):
	   the tag of the EXAMINE sent (NULL once its answer is waited for),
	   and whether the first chunk's list went out right behind it */
	char *primed_tag;
	bool primed_list_early;
	/* the local mailbox is open (and the saver set up) */
	bool local_opened;
	/* the first EXAMINE was answered; after a reconnect the place in the
	   folder is to be found again */
	bool started, restart_needed;
	/* advanced ahead of its turn (folder_import_advance() tried it), and
	   that failed: the run's error it set (code NONE: the connection's,
	   which the connection keeps), taken up when the folder runs */
	bool advanced, advance_failed;
	/* advanced up to its first chunk decided (and its bodies asked for,
	   if they were few enough) */
	bool advance_decided;
	/* advanced, and its every message asked for (or none wanted): the
	   folder after it may be advanced too */
	bool advanced_all;
	struct import_remote_error advance_error;
	/* the round of body commands (in the current chunk's pool): the
	   messages asked for, the commands, and whether they are sent and
	   not yet waited for (sent ahead), with the bytes they ask for */
	ARRAY(struct import_msg *) round_asked;
	ARRAY(struct folder_fetch_cmd) round_cmds;
	bool round_sent;
	/* the round is the bodies asked for with the list: a body not
	   wanted after all is read and thrown away */
	bool round_early;
	uoff_t round_bytes;
	/* Gmail without labels: what this folder copies is remembered here,
	   so that All Mail leaves it out (even in a dry run) */
	struct dedup_index *gmail_index;
	/* Gmail's Starred or Important: list and count, copy nothing */
	bool count_only;
	/* ask for each message's X-GM-LABELS */
	bool want_labels;

	uint32_t exists, uidvalidity, uidnext;
	/* an EXAMINE was sent and not answered (exists, uidvalidity and
	   uidnext wait for its answer): what they were before it */
	bool select_pending;
	uint32_t prev_exists, prev_uidvalidity;
	/* from SEARCH RETURN (MIN), or UID FETCH n:* (UID) without ESEARCH:
	   first sequence after a UID */
	uint32_t min_seq;
	bool have_min_seq;
	/* UID FETCH n:* (UID) is looking for min_seq above this UID */
	bool finding_first;
	uint32_t find_above_uid;
	/* from FETCH n (UID), when finding the place again (its tag while it
	   is not waited for) */
	uint32_t probe_seq, probe_uid;
	const char *probe_tag;
	/* checkpoint: everything up to this UID is already there */
	uint32_t done_uid;

	/* the next sequence to list (64 bits: never wraps after the highest
	   sequence, 2^32-1), and the last message listed */
	uint64_t next_first;
	uint32_t listed_uid, listed_seq;
	/* after a reconnect: lists drop what is not above this UID (it was
	   listed before); where the next list starts is found only once the
	   bodies sent with the EXAMINE are answered */
	uint32_t list_floor_uid;
	bool place_unknown;
	/* the server listed fewer messages than its EXISTS said */
	bool list_cut;
	/* a message failed (or was given up): the checkpoint moves no
	   further in this run, so that a re-run tries it again */
	bool checkpoint_held;

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

static inline bool folder_import_date_filter(struct folder_import_ctx *ctx)
{
	return ctx->run->since != 0 || ctx->run->before != 0;
}

/* Are message identities needed: for duplicates, or for Gmail's All Mail */
static inline bool folder_import_want_keys(struct folder_import_ctx *ctx)
{
	return ctx->index != NULL || ctx->gmail_index != NULL;
}

static inline struct imap_source *folder_import_src(struct folder_import_ctx *ctx)
{
	/* not kept: a reconnect replaces it */
	return ctx->run->src;
}

/* folder-state.c */
/* Empty the chunk for a list of about count messages */
void import_chunk_reset(struct import_chunk *chunk, unsigned int count);
/* For a chunk's keyword_sets */
unsigned int import_keyword_set_hash(const char *const *set);
int import_keyword_set_cmp(const char *const *set1, const char *const *set2);
/* Throw away the body being received */
void folder_import_pending_drop(struct folder_import_ctx *ctx);
/* The bytes kept to resume a body are thrown away: it is fetched whole */
void folder_import_resume_drop(struct folder_import_ctx *ctx);

/* folder-failed.c */
/* Record a message as failed (it is not imported, the import goes on) */
void folder_import_failed(struct folder_import_ctx *ctx,
			  struct import_msg *msg, const char *reason);
/* The connection broke at the same place of the message each time: it is
   tried again at the end of the run (folder_import_retry_deferred()) */
void folder_import_defer(struct folder_import_ctx *ctx,
			 struct import_msg *msg, const char *reason);
/* Record a message given up and not tried again as failed */
void folder_import_deferred_failed(struct import_run_ctx *run,
				   const struct import_run_deferred *def);

/* folder-commit.c */
/* Commit what is saved: only now is it imported. Returns 0, or -1 (the
   run's error set: the destination failed). */
int folder_import_commit(struct folder_import_ctx *ctx);
/* A local save of msg failed (error). Returns 0 to go on, -1 to stop (the
   run's error set). */
int folder_import_save_failed(struct folder_import_ctx *ctx,
			      struct import_msg *msg,
			      const struct import_remote_error *error);
/* Move the checkpoint up to where everything of the current chunk is
   committed */
void folder_import_checkpoint_move(struct folder_import_ctx *ctx);
/* The folder is done: the checkpoint up to UIDNEXT - 1 */
void folder_import_checkpoint_finish(struct folder_import_ctx *ctx);

/* folder-body-check.c */
/* The pending message's FETCH reply is complete: save it, drop it, or
   fetch it again. Returns 0, or -1 to stop. */
int folder_import_pending_done(struct folder_import_ctx *ctx, bool whole);
/* The session failed: keep what can be resumed, count the loss, commit
   what is saved. Returns 0, or -1 if the commit failed. */
int folder_import_connection_lost(struct folder_import_ctx *ctx);
/* The literal coming for msg is the rest of its resumed body: checked and
   made the pending body. Returns FALSE if it is to be read as the whole
   body; *skip_r TRUE if it is to be read and forgotten. */
bool folder_import_resume_start(struct folder_import_ctx *ctx,
				struct import_msg *msg,
				const struct imap_reply_fetch_literal *lit,
				bool *skip_r);
/* The most bytes a literal of a message of RFC822.SIZE size may hold */
uoff_t folder_import_literal_max(uoff_t size);
/* Refuse a literal far bigger than msg: msg failed, the connection
   dropped. Returns -1. */
int folder_import_refuse_literal(struct folder_import_ctx *ctx,
				 struct import_msg *msg, const char *what,
				 uoff_t size);
/* Does a body of size bytes fit in what is left of the user's quota?
   FALSE with the run's error set if not. */
bool folder_import_fits_quota(struct folder_import_ctx *ctx,
			      struct import_msg *msg, uoff_t size);

/* folder-body-receive.c */
/* Receive a body whole (or the rest of one) into the pending message.
   Returns 1, or -1 on error. */
int folder_import_receive_body(struct folder_import_ctx *ctx,
			       struct import_msg *msg,
			       const struct imap_reply_fetch_literal *lit);

/* folder-replies.c */
/* The untagged-reply and literal callbacks of every command of a folder's
   import (context: the folder_import_ctx) */
int folder_import_untagged(const struct imap_reply *reply, void *context);
int folder_import_literal(const struct imap_reply_fetch_literal *lit,
			  void *context);
/* Returns 0 if reply is OK, else -1 with the run's error set ("what of
   folder ... failed") */
int folder_import_check_reply(struct folder_import_ctx *ctx, const char *what,
			      const struct imap_source_reply *reply);

/* folder-body-fetch.c */
/* Fetch and save the chunk's bodies until each is saved or given up.
   Returns 0, or -1 on error. */
int folder_import_fetch_bodies(struct folder_import_ctx *ctx);
/* The chunk's next round: every body still wanted, grouped into commands
   (round_asked, round_cmds, round_bytes). Returns how many messages it
   asks for. */
unsigned int folder_import_round_build(struct folder_import_ctx *ctx);
/* Send the round just built without waiting for it (the folder is
   advanced): its next folder_import_fetch_bodies() takes the bodies */
void folder_import_round_send_ahead(struct folder_import_ctx *ctx);
/* Ask for every body of the folder behind its first list (next chunk),
   if it is small and copied for the first time */
void folder_import_send_early_bodies(struct folder_import_ctx *ctx);
/* The chunk's bodies asked for with the list, if any, read and thrown
   away: nothing of them is wanted (or the list was not kept) */
void folder_import_drain_early_bodies(struct folder_import_ctx *ctx,
				      struct import_chunk *chunk);

/* folder-list.c */
/* Ask for the next chunk's list. FALSE if there is nothing more to list. */
bool folder_import_send_list(struct folder_import_ctx *ctx);
/* Wait for the next chunk's list and make it the current chunk */
int folder_import_receive_list(struct folder_import_ctx *ctx);
/* The first pass of the decision; TRUE if headers are to be hashed */
bool folder_import_classify(struct folder_import_ctx *ctx);
/* Ask for the headers of the messages without an identity */
void folder_import_send_headers(struct folder_import_ctx *ctx);
/* Wait for them (the chunk's identities are then complete) */
int folder_import_receive_headers(struct folder_import_ctx *ctx);
/* The second pass: duplicates, what to copy, counted */
void folder_import_decide(struct folder_import_ctx *ctx);
/* Give duplicates in the destination the flags a crash left missing */
int folder_import_add_missing_flags(struct folder_import_ctx *ctx);

/* folder-position.c */
/* The first EXAMINE: count what is there, start after the checkpoint */
int folder_import_start(struct folder_import_ctx *ctx, bool list_early);
/* Send the first EXAMINE (and the first chunk's list, when it can go
   early) without waiting: folder_import_start() takes the answers later */
void folder_import_prime_start(struct folder_import_ctx *ctx);
/* Can the first chunk's list go out with the first EXAMINE: a folder
   that STATUS says has mail, and that no checkpoint covers (nor a date
   filter)? */
bool folder_import_can_list_early(struct folder_import_ctx *ctx);
/* After a reconnect: EXAMINE again and find the place after the last
   message listed */
int folder_import_restart(struct folder_import_ctx *ctx);
/* Before the folder sends more on its connection once it had asked for
   everything (a round for what did not come or after [THROTTLED], the list
   of messages that arrived meanwhile): a folder opened behind it there
   (import_connections_prime()) is dropped, its answers read, and this one
   EXAMINEd again. Returns -1 on error. */
int folder_import_own_connection(struct folder_import_ctx *ctx);
/* After a reconnect, once no UID command is on its way: where the next
   list starts, from the probe's answer or else a search (nothing to do if
   it is known). Returns 0 or -1. */
int folder_import_find_place(struct folder_import_ctx *ctx);
/* The same, as far as the probe's answer tells (sends nothing: the place
   may still be unknown after it). Returns 0 or -1. */
int folder_import_read_probe(struct folder_import_ctx *ctx);

/* folder-import.c */
/* Is the folder in its last chunk: every message listed */
bool folder_import_in_last_chunk(struct folder_import_ctx *ctx);
/* Open (create, subscribe) the local mailbox and set up the saver, once.
   Returns 0 or -1 (the run's error set). */
int folder_import_open_local(struct folder_import_ctx *ctx);
/* Does the local mailbox hold no mail (or not exist yet)? FALSE if that
   can't be told. */
bool folder_import_dest_empty(struct folder_import_ctx *ctx);
/* Where the folder stands at the source: its first EXAMINE answered, or
   after a reconnect its place found again; the destination's identities
   read when there is mail to look at (a re-run over unchanged folders
   reads none). Returns 0 or -1. */
int folder_import_position(struct folder_import_ctx *ctx);
/* The chunks from where the folder stands: 0 when the folder is done, -1
   on error; ahead (folder-advance.c): 2 when the current chunk is decided
   or waits for the server */
int folder_import_chunks(struct folder_import_ctx *ctx, bool ahead);
/* Set up the context of the folder entry (result: its counts) */
void folder_import_ctx_init(struct folder_import_ctx *ctx,
			    struct import_run_ctx *run,
			    const struct folder_plan_entry *entry,
			    struct import_run_folder *result);
/* Run the folder's import, and keep what is saved. Returns 0 or -1. */
int folder_import_ctx_run(struct folder_import_ctx *ctx);

#endif

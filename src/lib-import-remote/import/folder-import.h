#ifndef FOLDER_IMPORT_H
#define FOLDER_IMPORT_H

/* One folder of the plan: EXAMINE, resume after the checkpoint, then chunk
   by chunk: the date filter's SEARCH, the message list, header hashes where
   needed, the decision, bodies streamed into the local mailbox, commit,
   checkpoint. */

struct import_run_ctx;
struct folder_plan_entry;
struct import_run_folder;
struct folder_import_ctx;

/* Folders opened ahead on connections of their own are also decided and
   have their first bodies asked for ahead (folder_import_advance()), once
   the folder before them is in its last round and has at most this many
   bytes of it still to come: their bodies then come while that round's
   are read, without a round trip of their own. At most this many bytes of
   bodies are asked for ahead of those being read: a connection whose
   answers wait longer unread may be cut by its server. */
#define FOLDER_IMPORT_AHEAD_MAX_BYTES (16*1024*1024)

/* Copy one folder of the plan (within run->since/before). Returns 0, or -1
   with the run's error set (or the session's, see
   import_run_ctx_source_failed()). */
int folder_import(struct import_run_ctx *run,
		  const struct folder_plan_entry *entry,
		  struct import_run_folder *result);

/* Open a folder ahead on the run's current connection (run->src): its
   EXAMINE and first list are queued (to be flushed by the caller) and
   their answers wait there until folder_import_primed() runs it, with
   run->src that same connection (or what a reconnect made of it). The
   destination is not touched before it runs. */
struct folder_import_ctx *
folder_import_prime(struct import_run_ctx *run,
		    const struct folder_plan_entry *entry,
		    struct import_run_folder *result);
/* Copy a folder opened ahead, as folder_import() does, and free it */
int folder_import_primed(struct folder_import_ctx **ctx);
/* Advance a folder opened ahead, with run->src its connection, as far as
   the answers that are there allow, never waiting for the server: its
   EXAMINE and list taken, the destination's identities read, its first
   chunk decided. Then, if its bodies are at most *max_bytes, they are
   asked for (the bytes taken off *max_bytes). Nothing is saved before it
   runs; a failure is kept for when it runs. */
void folder_import_advance(struct folder_import_ctx *ctx, uoff_t *max_bytes);
/* When a folder opened ahead is taken to run: the bytes of its bodies
   asked for ahead (still to come), 0 while it is not listed (as if it
   were small: its first round says), UOFF_T_MAX if it has more to ask for
   than that round (a big folder: the others' bodies would wait long
   unread) */
uoff_t folder_import_ahead_to_come(struct folder_import_ctx *ctx);
/* Has the folder opened ahead asked for everything it is to ask for (its
   first chunk decided, the folder's last, and every body it wants asked
   for): another folder may be opened behind it on its connection */
bool folder_import_all_asked(struct folder_import_ctx *ctx);
/* The same, or the folder opened ahead and not looked at yet has every
   body asked for with its list */
bool folder_import_all_sent(struct folder_import_ctx *ctx);
/* Read and throw away the answers to what a folder opened ahead sent (its
   EXAMINE and list), with run->src its connection: it is dropped before
   it was advanced, and what comes behind on that connection is another
   folder's. folder_import_primed_reset() then forgets what it sent. */
void folder_import_primed_drain(struct folder_import_ctx *ctx);
/* Forget what a folder opened ahead (and not advanced) sent: its answers
   were read and thrown away (folder_import_primed_drain()), or lost with
   its connection */
void folder_import_primed_reset(struct folder_import_ctx *ctx);
/* Send a folder's EXAMINE and list ahead (again, after a reset), on
   run->src */
void folder_import_primed_send(struct folder_import_ctx *ctx);
/* The destination folder (NULL if nothing is copied) */
const char *folder_import_dest_name(struct folder_import_ctx *ctx);
/* The folder's name for people (the source's, UTF-8) */
const char *folder_import_display_name(struct folder_import_ctx *ctx);
/* Free a folder opened ahead that is not to run (the run ended) */
void folder_import_primed_free(struct folder_import_ctx **ctx);

/* Try the messages given up during the pass (the connection kept breaking
   at the same place of them) once more each. Returns 0, or -1 with the
   run's error set. */
int folder_import_retry_deferred(struct import_run_ctx *run);
/* Record the messages given up and not tried again as failed */
void folder_import_fail_deferred(struct import_run_ctx *run);

#endif

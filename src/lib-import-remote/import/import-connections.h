#ifndef IMPORT_CONNECTIONS_H
#define IMPORT_CONNECTIONS_H

/* The run's connections to the source beyond its first (--connections K):
   while one folder's bodies come over the run's connection (ctx->src),
   the next folders of the plan are opened ahead, each on a connection of
   its own: their EXAMINE and first message list are sent, and the answers
   wait in that connection until the folder's turn comes, so that a folder
   costs no round trip of its own to start. Folders are still saved one
   after another (one saver, one transaction at a time): duplicates,
   Gmail's labels, checkpoints, quota and progress are what they are with
   one connection.

   When every connection holds a folder (none free, none being opened), the
   next folder is opened behind one that has asked for everything it is to
   ask for (the current folder, or one opened ahead; a small one whose
   bodies went out with its list as soon as it is opened), on its
   connection: its answers come after that folder's bodies, and it is
   advanced only once that folder is done. If that folder must send more
   after all (a header fetch, a round for what did not come, a [THROTTLED]
   wait), the one behind it is dropped first (its answers read and thrown
   away) and that folder is EXAMINEd again: no command of one folder runs
   in another's.

   The connections are opened when a folder is to be opened ahead, never
   more than K (a queued job's runner makes K at most its leases). A server
   that refuses one (a connect refused, a BYE greeting, a login refused with
   too many connections) is not asked again: the run goes on with those it
   has, says so once in the log and tells the settings' callback. A
   connection cut while it holds a folder opened ahead is reconnected when
   the folder runs, as any connection that breaks. */

struct import_run_ctx;
struct folder_plan_entry;
struct import_run_folder;
struct folder_import_ctx;
struct import_connections;
struct imap_source;

struct import_connections *
import_connections_init(struct import_run_ctx *ctx, unsigned int max);
/* Close every connection but ctx->src (its LOGOUT is sent with theirs,
   waited for when it is freed), free the folders opened ahead */
void import_connections_deinit(struct import_connections **conns);

/* Have connections free for count folders to be opened ahead (never more
   than K open in all): the missing ones are opened together, while the
   run goes on (its waits take them further, see
   import_connections_advance_waiting()); each one logged in is free for a
   folder then (the opened callback is called) */
void import_connections_reserve(struct import_connections *conns,
				unsigned int count);
/* The folder idx of the plan (copying into dest_name, NULL if nowhere)
   is next: if it was opened ahead, ctx->src becomes its connection (the
   one it replaces is free for the next) and the folder is returned, to be
   run with folder_import_primed(). NULL if it was not opened ahead. */
struct folder_import_ctx *
import_connections_take(struct import_connections *conns, unsigned int idx,
			const char *dest_name);
/* Open the folder idx ahead on a free connection (one is opened if fewer
   than K are). Returns FALSE if no connection is free (the caller stops
   looking further ahead). */
bool import_connections_prime(struct import_connections *conns,
			      unsigned int idx,
			      const struct folder_plan_entry *entry,
			      struct import_run_folder *result);
/* The current folder (copying into current_dest) is in its last round,
   with to_come bytes of bodies asked for (UOFF_T_MAX: not its last
   round): the folders opened ahead are advanced in their order
   (folder_import_advance()), each on its own connection, so that their
   first bodies come behind the current folder's without a round trip, at
   most FOLDER_IMPORT_AHEAD_MAX_BYTES less what it has still to come. One
   that copies into the same destination folder as the current one or one
   before it, and those after it, are not. Until the next folder is taken,
   the run's waits advance them further the same way. */
void import_connections_advance(struct import_connections *conns,
				const char *current_dest, uoff_t to_come);
/* The run is about to wait for the source: the connections being opened
   are taken further, and the folders opened ahead whose answers are there
   are advanced (their bodies asked for only as
   import_connections_advance() allowed) */
void import_connections_advance_waiting(struct import_connections *conns);
/* While the run waits for waiting (watch) and no longer (!watch): what
   the connections being opened wait for wakes it up too (if waiting is
   logged in), and what comes for the folders opened ahead is read into
   their connections' buffers (imap_source_read_ahead_start()), so that
   their servers go on sending (e.g. while the run's connection is opened
   again after a cut) */
void import_connections_watch(struct import_connections *conns,
			      struct imap_source *waiting, bool watch);
/* Called when connections being opened are logged in (free for folders to
   be opened ahead on), while the run waits */
void import_connections_set_opened_callback(struct import_connections *conns,
					    void (*callback)(void *context),
					    void *context);
/* TRUE if the folder idx is opened ahead already */
bool import_connections_is_primed(struct import_connections *conns,
				  unsigned int idx);
/* The run (or its pass) ended early: the folders opened ahead are
   dropped with their connections */
void import_connections_drop_primed(struct import_connections *conns);
/* The run's current folder is to send more on src (its connection): a
   folder opened behind it there is dropped, its answers read and thrown
   away first. Returns TRUE if there was one (the current folder is then
   to EXAMINE its folder again). */
bool import_connections_drop_behind(struct import_connections *conns,
				    struct imap_source *src);
/* Is a folder opened behind another on src (its EXAMINE may have been
   answered: what src says now is that folder's) */
bool import_connections_has_behind(struct import_connections *conns,
				   struct imap_source *src);
/* src is closed (a reconnect, a failure): a folder opened behind another
   on it is dropped */
void import_connections_src_lost(struct import_connections *conns,
				 struct imap_source *src);
/* Connections open now (ctx->src included) */
unsigned int import_connections_count(struct import_connections *conns);

#endif

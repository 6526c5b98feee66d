#ifndef IMPORT_CHECKPOINT_H
#define IMPORT_CHECKPOINT_H

/* How far an import into a user got, per remote folder: its UIDVALIDITY and
   the highest UID up to which every message is in the destination (imported
   or skipped), as of the last commit. A re-run starts after it, so finished
   work is not checked again. It is written after the messages are committed,
   so it never claims more than is there; a crash between commit and
   checkpoint only makes the next run check those messages again (Message-ID
   dedup skips them). A changed UIDVALIDITY, or other filter settings, make
   the checkpoint of a folder void.

   Stored in the user's home: ~/.dovecot-import-remote/<source>.checkpoint */

/* The import's own directory in the user's home (checkpoints, the marks
   of running imports) */
#define IMPORT_REMOTE_HOME_DIR ".dovecot-import-remote"

struct mail_user;
struct import_remote_settings;
struct import_checkpoint;

/* Open (and load) the checkpoint of this source for this user. Returns 1 if
   loaded or new, 0 if the user has no home (no checkpoints then), -1 on
   error. */
int import_checkpoint_open(struct mail_user *user,
			   const struct import_remote_settings *set,
			   struct import_checkpoint **cp_r, const char **error_r);
/* The same for the checkpoint file path (import_checkpoint_open() names it
   after the source; the fuzzer gives its own) */
struct import_checkpoint *
import_checkpoint_init_path(const char *path,
			    const struct import_remote_settings *set);
void import_checkpoint_deinit(struct import_checkpoint **cp);

/* Returns TRUE and the last UID if the folder has a checkpoint with this
   UIDVALIDITY. */
bool import_checkpoint_get(struct import_checkpoint *cp,
			   const char *remote_name, uint32_t uidvalidity,
			   uint32_t *last_uid_r);
/* Record progress and write the file (atomically: temp file + rename).
   Returns 0 or -1 with error_r. */
int import_checkpoint_set(struct import_checkpoint *cp,
			  const char *remote_name, uint32_t uidvalidity,
			  uint32_t last_uid, const char **error_r);

#endif

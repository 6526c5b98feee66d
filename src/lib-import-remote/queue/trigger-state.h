#ifndef TRIGGER_STATE_H
#define TRIGGER_STATE_H

/* An automatic import's state, kept in a small file in the user's home:
   what a login looks at first (no database when the import is done or
   under way), and what the user reads over IMAP METADATA while it runs.
   Written atomically (temporary file + rename) by the mail plugin when it
   queues the import and by the job runner while the job runs and when it
   ends. Its content is not trusted: a bad file counts as none. */

#define TRIGGER_STATE_FILE_NAME ".import-remote.state"

enum trigger_state_kind {
	TRIGGER_STATE_NONE = 0,
	TRIGGER_STATE_QUEUED,
	TRIGGER_STATE_RUNNING,
	TRIGGER_STATE_COMPLETED,
	TRIGGER_STATE_FAILED,
};

struct trigger_state {
	/* trigger_source_key() of the source the state is about */
	const char *source_key;
	enum trigger_state_kind state;
	unsigned long long job_id;
	time_t updated;
	/* sync mode: no import before this; 0 = none due (once: never) */
	time_t next_due;
	unsigned int msgs_done, msgs_total, imported, folders;
	/* a failure's catalogue code and title, "" if none */
	const char *error_code, *error_title;
	/* running: the folder being copied (the source's name), "" if none */
	const char *folder;
};

/* A source's identity: what must change for a completed import to be
   queued again */
const char *trigger_source_key(const char *host, unsigned int port,
			       const char *ssl, const char *user);

const char *trigger_state_name(enum trigger_state_kind state);

struct mail_user;
/* The user's state file, NULL if the user has no home */
const char *trigger_state_path(struct mail_user *user);

/* Returns 1 and the state, 0 if there is none (no file, or not a valid
   one), -1 on error. */
int trigger_state_read(const char *path, pool_t pool,
		       struct trigger_state *state_r, const char **error_r);
int trigger_state_write(const char *path, const struct trigger_state *state,
			const char **error_r);
/* The same, for the user's state file (path): a home that does not exist
   yet is made as Dovecot makes it (mail_user_home_mkdir()) */
int trigger_state_write_user(struct mail_user *user, const char *path,
			     const struct trigger_state *state,
			     const char **error_r);
/* The state as JSON, for the METADATA entry */
const char *trigger_state_json(const struct trigger_state *state);

#endif

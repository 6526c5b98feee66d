#ifndef IMPORT_RESULT_H
#define IMPORT_RESULT_H

#include "import-remote-error.h"
#include "import-progress.h"

/* What an import reports: its result (per folder, the messages that could
   not be imported, the error) and the callbacks through which it reports
   and asks while it runs. Apart from import-run.h so that the parts of a
   run (import-run-context.h, the folder import) use them without reaching
   back up to the run itself. */

struct import_run_folder {
	const char *source_name;
	/* NULL when the folder's messages are not copied */
	const char *dest_name;
	/* why it lands there or is not copied ("" if it keeps its name) */
	const char *reason;
	/* "", or what went wrong */
	const char *note;
	/* messages in the folder */
	unsigned int msgs;
	/* listed by this run and kept by the date filter: what copying the
	   folder as it is would store (less what a checkpoint covers) */
	unsigned int listed;
	uoff_t listed_bytes;
	/* decided to copy (in a dry run: would copy) */
	unsigned int to_copy;
	uoff_t bytes_to_copy;
	unsigned int imported;
	/* already in the destination, or a copy of mail stored elsewhere */
	unsigned int skipped;
	unsigned int filtered;
	unsigned int failed;
	/* the import opens it (to copy or to count its messages) */
	bool selected;
};
ARRAY_DEFINE_TYPE(import_run_folder, struct import_run_folder);

/* A message that could not be imported: it was skipped, the import went
   on */
struct import_failed_message {
	/* the source folder as shown in the plan */
	const char *folder;
	uint32_t uid;
	/* RFC822.SIZE */
	uoff_t size;
	/* "" if it has none */
	const char *message_id;
	/* INTERNALDATE, 0 if unknown */
	time_t received;
	const char *reason;
};
ARRAY_DEFINE_TYPE(import_failed_message, struct import_failed_message);

/* Failed messages listed in a result at most (progress.failed counts all) */
#define IMPORT_RUN_MAX_FAILED_LISTED 10000

struct import_run_result {
	struct import_progress progress;
	ARRAY_TYPE(import_run_folder) folders;
	/* warnings worth telling the user (e.g. a folder name that local
	   storage cannot hold), in order */
	ARRAY_TYPE(const_string) warnings;
	ARRAY_TYPE(import_failed_message) failed_messages;
	struct import_remote_error error;
	/* the folders were handled as Gmail's labels */
	bool gmail;
	/* what copying every folder as it is would have stored in this run:
	   the sums of the folders' listed and listed_bytes */
	unsigned int mirror_msgs;
	uoff_t mirror_bytes;
	/* folders not opened: their STATUS showed nothing new since the
	   checkpoint */
	unsigned int folders_unchanged;
};

/* Called while running: often (the callee decides how often to show
   anything) and once more with final=TRUE at the end. Returning FALSE
   cancels the import: it stops after the message being saved, keeps what
   is committed and fails with "cancelled". */
typedef bool import_run_progress_callback_t(const struct import_progress *progress,
					    bool final, void *context);
/* Asked before saved mail (msgs messages, bytes bytes) is committed.
   Returning FALSE rolls it back and ends the import with "cancelled": its
   caller may no longer write (a job that another worker has taken over). */
typedef bool import_run_commit_callback_t(unsigned int msgs, uoff_t bytes,
					  void *context);

#endif

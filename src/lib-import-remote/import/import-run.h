#ifndef IMPORT_RUN_H
#define IMPORT_RUN_H

#include "import-remote-settings.h"
#include "import-result.h"

/* One import from start to end: connect to the source, build the folder
   plan, and copy every selected folder into the user's local storage. */

struct mail_user;

/* Run the import. Returns 0 if everything selected is now in the local
   storage, except the messages in result_r->failed_messages, -1 if not
   (result_r->error says why). result_r is allocated from pool. The
   progress callback is called at least once a second, whatever the
   import waits for. commit_callback may be NULL. */
int import_run(struct mail_user *user,
	       const struct import_remote_settings *set,
	       import_run_progress_callback_t *progress_callback,
	       import_run_commit_callback_t *commit_callback,
	       void *context, pool_t pool,
	       struct import_run_result *result_r);

#endif

#ifndef FAILED_MESSAGE_STORE_H
#define FAILED_MESSAGE_STORE_H

#include "import-run.h"

/* The messages a job could not import (a NO for one UID, refused by the
   destination, corrupt), kept in the job store (table
   import_remote_failed_messages) so that `status` counts them and
   `report` lists them. Each run of a job replaces the list: a message
   that a later run imported is no longer in it. */

struct job_store;

/* Replace the job's failed messages with msgs, in one transaction.
   Returns 0 or -1. */
int failed_message_store_replace(struct job_store *store,
				 unsigned long long job_id,
				 const ARRAY_TYPE(import_failed_message) *msgs,
				 const char **error_r);
/* The job's failed messages, by folder and UID, allocated from pool.
   Returns 0 or -1. */
int failed_message_store_list(struct job_store *store, pool_t pool,
			      unsigned long long job_id,
			      ARRAY_TYPE(import_failed_message) *msgs,
			      const char **error_r);

#endif

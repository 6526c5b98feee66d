#ifndef JOB_SECRET_H
#define JOB_SECRET_H

#include "secret-box.h"

/* A job's source password at rest: encrypted with the key file, bound to
   the job it belongs to (its user, source account, host and port), so
   that a ciphertext copied into another job of the store - one whose host
   the copier controls - does not decrypt there. A retried job keeps all
   four, and with them its password. */

struct job;
struct job_store;

const char *job_secret_encrypt(const unsigned char key[SECRET_BOX_KEY_LEN],
			       const struct job *job, const char *password);
/* Returns 0 and the password (wipe it when done), or -1. */
int job_secret_decrypt(const unsigned char key[SECRET_BOX_KEY_LEN],
		       const struct job *job, pool_t pool,
		       const char **password_r, const char **error_r);
/* Bind the passwords stored by versions that didn't (v1) to their jobs.
   Run by whoever opens the store with the key. Returns how many were
   converted, or -1. */
int job_secret_upgrade(struct job_store *store,
		       const unsigned char key[SECRET_BOX_KEY_LEN],
		       const char **error_r);

#endif

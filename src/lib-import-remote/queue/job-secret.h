#ifndef JOB_SECRET_H
#define JOB_SECRET_H

#include "secret-box.h"

/* A job's source password at rest: encrypted with the key file, bound to
   the job it belongs to (its user and source account, host, port, ssl mode
   and options - tls_insecure among them), so that a ciphertext copied into
   another job of the store - one whose host the copier controls - or a
   job changed to skip certificate checks does not decrypt. A retried job
   keeps them all, and with them its password. Passwords of versions
   before 0.2 (v1, bound to nothing) are never used: their jobs fail with
   password_unusable. */

struct job;

const char *job_secret_encrypt(const unsigned char key[SECRET_BOX_KEY_LEN],
			       const struct job *job, const char *password);
/* Returns 0 and the password (wipe it when done), or -1. */
int job_secret_decrypt(const unsigned char key[SECRET_BOX_KEY_LEN],
		       const struct job *job, pool_t pool,
		       const char **password_r, const char **error_r);

#endif
